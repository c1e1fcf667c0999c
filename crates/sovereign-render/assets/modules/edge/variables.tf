variable "name" {
  type        = string
  description = "Load balancer name, e.g. `global-sovereign-ams` (32 characters at most)."
}

variable "region" {
  type        = string
  description = "AWS region of the site."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the site."
}

variable "vpc_cidr" {
  type        = string
  description = "VPC range; the load balancer reaches pods inside it."
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets for the load balancer (at least two zones)."
}

variable "target_security_group_id" {
  type        = string
  description = "Security group of the pods (the EKS cluster security group), opened to the load balancer on the application port."
}

variable "app_port" {
  type        = number
  description = "Port the application listens on in its pods."
}

variable "health_path" {
  type        = string
  description = "HTTP path that answers 200 when a pod is healthy."
  default     = "/healthz"
}

variable "validation_record_fqdns" {
  type        = list(string)
  description = "Names of the DNS records that validate the certificate (one per domain name, created by the caller from domain_validation_options); the apply waits until ACM has seen them."
}

variable "domain_names" {
  type        = list(string)
  description = "Names the certificate covers: the API name first, then the site's own name."
}

variable "log_bucket_name" {
  type        = string
  description = "S3 bucket for access logs, before the account id the module appends (bucket names are global)."
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep access and WAF logs."
  default     = 365
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for the WAF log group."
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
