variable "site" {
  type        = string
  description = "Site id, e.g. `ams`."
}

variable "region" {
  type        = string
  description = "AWS region of the site."
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster of the site."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the site (the load balancer controller needs it)."
}

variable "kms_key_arn" {
  type        = string
  description = "Site KMS key; encrypts the volumes of the Cassandra storage class."
}

variable "charts_dir" {
  type        = string
  description = "Directory of Sovereign's local Helm charts (`app`, `target-group-binding`)."
}

variable "chart_versions" {
  type = object({
    cert_manager          = string
    k8ssandra_operator    = string
    kube_prometheus_stack = string
    cluster_autoscaler    = string
    lb_controller         = string
    postgres_exporter     = string
    redis_exporter        = string
  })
  description = "Pinned versions of the upstream charts."
}

variable "application" {
  type = object({
    name               = string
    image              = string
    port               = number
    health_path        = string
    replicas           = number
    max_replicas       = number
    cpu_target_percent = number
    scale_up_pods      = number
    cooldown_seconds   = number
    target_group_arn   = string
  })
  description = "The application to run and bind to the site's load balancer; null when the site does not serve it."
  default     = null
}

variable "cassandra" {
  type = object({
    control_plane = bool
    datacenter    = bool
    storage_class = string
    remote_access = bool
  })
  description = "k8ssandra-operator on this cluster: control plane or data plane, a storage class when a datacenter runs here, a service account the control plane uses when the datacenter is remote. Null without Cassandra."
  default     = null
}

variable "monitoring" {
  type = object({
    global                      = bool
    values                      = string
    rules                       = string
    dashboards                  = map(string)
    prometheus_target_group_arn = string
  })
  description = "kube-prometheus-stack values (external labels, remote write), the alert rules, and for the global site Grafana's dashboards and the target group of the internal load balancer other sites remote-write through."
}

variable "postgres" {
  type = object({
    endpoint   = string
    database   = string
    secret_arn = string
  })
  description = "The site's Aurora reader endpoint and the Secrets Manager secret of the monitoring credentials, for the PostgreSQL exporter; null without a local Aurora cluster."
  default     = null
}

variable "redis" {
  type = object({
    endpoint   = string
    secret_arn = string
  })
  description = "The site's cache endpoint and its AUTH token secret, for the Redis exporter; null without a cache."
  default     = null
}
