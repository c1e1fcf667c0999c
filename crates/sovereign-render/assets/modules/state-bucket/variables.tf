variable "bucket" {
  type        = string
  description = "Name of the state bucket."
}

variable "region" {
  type        = string
  description = "AWS region of the bucket."
}

variable "replica_region" {
  type        = string
  description = "Region that holds a replica of every state (`<bucket>-replica`): the one the deployment fails over to. Null: no replica."
  default     = null

  validation {
    condition     = var.replica_region == null || var.replica_region != var.region
    error_message = "replica_region must differ from the state bucket's own region."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
