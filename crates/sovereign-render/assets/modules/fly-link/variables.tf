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

variable "gateways" {
  type = map(object({
    subnet_id = string
    zone_id   = string
  }))
  description = "The gateways of the link, by name (`a`, `b`, ...): each one's private subnet (it reaches the internet through NAT and is reachable from nothing outside the VPC) and that subnet's availability zone id (e.g. `euw1-az1`). Two or more, each in another zone: with one, or two in one zone, the link has a single point of failure."

  validation {
    condition     = length(var.gateways) >= 2 && length(distinct([for g in values(var.gateways) : g.zone_id])) == length(var.gateways)
    error_message = "gateways needs two or more gateways, each in another availability zone."
  }
}

variable "upstream_host" {
  type        = string
  description = "DNS name the gateway forwards PostgreSQL to: the Aurora global writer endpoint, which follows failovers."
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type of each gateway."
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
