variable "name" {
  type        = string
  description = "Name of the link, e.g. `global-sovereign-jnb-link`."
}

variable "region" {
  type        = string
  description = "AWS region of the site whose VPC terminates the link."
}

variable "vpc_id" {
  type        = string
  description = "VPC of that site."
}

variable "subnet_id" {
  type        = string
  description = "Private subnet for the gateway (reaches the internet through NAT, is reachable from nothing outside the VPC)."
}

variable "upstream_host" {
  type        = string
  description = "DNS name the gateway forwards PostgreSQL to: the Aurora global writer endpoint, which follows failovers."
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type of the gateway."
  default     = "t3.medium"
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for the secret and the volume."
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
