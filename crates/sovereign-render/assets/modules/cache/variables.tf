variable "name" {
  type        = string
  description = "Replication group id, e.g. `global-sovereign-ams` (40 characters at most)."
}

variable "region" {
  type        = string
  description = "AWS region of the cache."
}

variable "engine_version" {
  type        = string
  description = "Redis OSS version, e.g. `7.1`."
}

variable "node_type" {
  type        = string
  description = "Node type, e.g. `cache.r6g.large`."
}

variable "replicas" {
  type        = number
  description = "Replicas besides the primary node; at least 1, for Multi-AZ automatic failover."
  default     = 1

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 5
    error_message = "A Multi-AZ replication group has 1 to 5 replicas."
  }
}

variable "maxmemory_policy" {
  type        = string
  description = "What Redis evicts when memory is full, e.g. `allkeys-lru`."
  default     = "allkeys-lru"
}

variable "global_secondary" {
  type        = bool
  description = "This cache is a secondary of a global datastore (then global_replication_group_id names it). Says so up front: the datastore's id is only known after it is created, and what this module creates cannot wait for it."
  default     = false
}

variable "global_replication_group_id" {
  type        = string
  description = "The global datastore this cache joins as a secondary; null for a regional cache or the global primary."
  default     = null

  validation {
    condition     = var.global_replication_group_id == null || var.global_secondary
    error_message = "global_replication_group_id is only for a secondary: set global_secondary = true."
  }
}

variable "auth_token" {
  type        = string
  description = "AUTH token (16 to 128 characters); comes from Secrets Manager, never from the tree."
  sensitive   = true
}

variable "vpc_id" {
  type        = string
  description = "VPC of the site."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the cache nodes."
}

variable "allowed_cidrs" {
  type        = list(string)
  description = "Ranges allowed to connect on 6379 (the site's private subnets)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for data at rest and the logs."
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep slow logs."
  default     = 365
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
