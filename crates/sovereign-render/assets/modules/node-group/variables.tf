variable "name" {
  type        = string
  description = "Node group name, unique in the cluster."
}

variable "region" {
  type        = string
  description = "AWS region of the cluster."
}

variable "cluster_name" {
  type        = string
  description = "Name of the EKS cluster."
}

variable "node_role_arn" {
  type        = string
  description = "IAM role of the nodes."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets the nodes run in."
}

variable "one_group_per_zone" {
  type        = bool
  description = "One node group per subnet (zone), sizes split over them, instead of one group over all subnets. For nodes that run pods with zonal volumes (Cassandra, Prometheus)."
  default     = false
}

variable "capacity_type" {
  type        = string
  description = "`ON_DEMAND` or `SPOT`."

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.capacity_type)
    error_message = "capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "ami_type" {
  type        = string
  description = "EKS AMI type of the nodes, from the instance types' one architecture: AL2023_x86_64_STANDARD or AL2023_ARM_64_STANDARD. Null: EKS picks from the instance types."
  default     = null

  validation {
    condition     = var.ami_type == null || contains(["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD"], coalesce(var.ami_type, "-"))
    error_message = "ami_type is AL2023_x86_64_STANDARD, AL2023_ARM_64_STANDARD or null."
  }
}

variable "instance_types" {
  type        = list(string)
  description = "Instance types; several interchangeable types for Spot."
}

variable "min_size" {
  type        = number
  description = "Fewest nodes."
}

variable "desired_size" {
  type        = number
  description = "Nodes at creation; afterwards the cluster autoscaler owns this number."
}

variable "max_size" {
  type        = number
  description = "Most nodes."
}

variable "disk_size_gib" {
  type        = number
  description = "Root volume size of each node, GiB (gp3, encrypted)."
  default     = 100
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the nodes' volumes."
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
