variable "name" {
  type        = string
  description = "Cluster identifier, e.g. `global-sovereign-ams`."
}

variable "region" {
  type        = string
  description = "AWS region of this member of the global database."
}

variable "role" {
  type        = string
  description = "`primary` (the writer, holds the credentials) or `secondary`."

  validation {
    condition     = contains(["primary", "secondary"], var.role)
    error_message = "role must be primary or secondary."
  }
}

variable "global_cluster_identifier" {
  type        = string
  description = "The Aurora global cluster this cluster joins."
}

variable "engine_version" {
  type        = string
  description = "Aurora PostgreSQL version, e.g. `17.5`."
}

variable "instance_class" {
  type        = string
  description = "Instance class (memory-optimized), e.g. `db.r6i.2xlarge`."
}

variable "instance_count" {
  type        = number
  description = "Instances in this cluster (the primary's first is the writer)."

  validation {
    condition     = var.instance_count >= 1 && var.instance_count <= 16
    error_message = "A member cluster needs 1 to 16 instances."
  }
}

variable "database_name" {
  type        = string
  description = "Database created on the primary."
  default     = null
}

variable "master_username" {
  type        = string
  description = "Master user; primary only."
  default     = null
}

variable "master_password" {
  type        = string
  description = "Master password; primary only. Comes from Secrets Manager, never from the tree."
  default     = null
  sensitive   = true
}

variable "vpc_id" {
  type        = string
  description = "VPC of the site."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Database subnets (at least two zones)."
}

variable "allowed_cidrs" {
  type        = list(string)
  description = "Ranges allowed to connect on 5432: the private subnets of the site and of peered sites that run EKS, and the Fly.io link gateway."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the site: storage, Performance Insights."
}

variable "backup_retention_days" {
  type        = number
  description = "Days of continuous backup (1 to 35)."
  default     = 35
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the cluster."
  default     = true
}

variable "logical_replication" {
  type        = bool
  description = "Turn on logical replication (`rds.logical_replication`), for PostgreSQL subscribers outside AWS."
  default     = false
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep the PostgreSQL log exported to CloudWatch Logs."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
