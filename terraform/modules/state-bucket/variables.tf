variable "bucket" {
  type        = string
  description = "Name of the state bucket."
}

variable "region" {
  type        = string
  description = "AWS region of the bucket."
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
