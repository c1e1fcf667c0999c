variable "name" {
  type        = string
  description = "EKS cluster name."
}

variable "region" {
  type        = string
  description = "AWS region of the cluster."
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version, e.g. `1.35`."
}

variable "extended_support" {
  type        = bool
  description = "Keep the cluster on extended support (paid) when the version leaves standard support, instead of upgrading automatically."
  default     = false
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the control plane's network interfaces and the nodes (at least two zones)."
}

variable "public_access_cidrs" {
  type        = list(string)
  description = "Ranges the public API endpoint answers; empty turns the public endpoint off. The private endpoint is always on."
  default     = []
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key that encrypts Kubernetes secrets and the control-plane log group."
}

variable "log_retention_days" {
  type        = number
  description = "Days to keep control-plane logs."
  default     = 365
}

variable "admin_principal_arns" {
  type        = list(string)
  description = "IAM principals (roles or users) given cluster-admin through access entries, besides the identity that creates the cluster."
  default     = []
}

variable "peer_cidrs" {
  type        = list(string)
  description = "VPC ranges of peered sites (one per site) whose pods may reach this cluster's pods on the Cassandra and metrics ports."
  default     = []
}

variable "node_group_names" {
  type        = list(string)
  description = "Node groups of the cluster; the add-ons that need nodes (CoreDNS, EBS CSI driver) wait for them."
  default     = []
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource."
  default     = {}
}
