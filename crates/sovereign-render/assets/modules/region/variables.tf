variable "name" {
  type        = string
  description = "Prefix for resource names, e.g. `global-sovereign-ams`."
}

variable "region" {
  type        = string
  description = "AWS region of the site, e.g. `eu-west-1`."
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 range of the VPC (RFC 1918, /16 to /28)."
}

variable "zones" {
  type = list(object({
    az_id    = string
    public   = string
    private  = string
    database = string
  }))
  description = "One entry per availability zone (by zone id), with the CIDR of its public, private and database subnets."

  validation {
    condition     = length(var.zones) >= 2
    error_message = "A site needs at least two availability zones."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for the whole VPC instead of one per zone (cheaper, not zone-redundant)."
  default     = false
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days to keep VPC flow logs in CloudWatch Logs."
  default     = 365
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster name, for the subnet tags the load balancer controller discovers; null when the site runs no EKS."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
