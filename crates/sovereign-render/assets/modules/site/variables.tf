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
  description = "Site KMS key: encrypts the volumes of the site's storage classes, the alert topic and Grafana's admin secret."
}

variable "charts_dir" {
  type        = string
  description = "Directory of Sovereign's local Helm charts (`app`, `target-group-binding`, `postgres-roles`, ...)."
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
    metrics_server        = string
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

variable "cost_tags" {
  type        = map(string)
  description = "The tags the AWS Budgets filter on (`sovereign:project`, `sovereign:site`): put on every volume the storage classes create. Keys and values without `=`."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.cost_tags : !strcontains(k, "=") && !strcontains(v, "=")])
    error_message = "cost_tags keys and values cannot hold `=` (the EBS CSI driver reads them as key=value)."
  }
}

variable "storage_classes" {
  type = list(object({
    name           = string
    default        = bool
    reclaim_policy = string
  }))
  description = "Encrypted gp3 storage classes to create: the site's default class (exactly one has `default = true`), and Cassandra's class when the topology names another. `reclaim_policy` is `Delete` or `Retain`."

  validation {
    condition     = length([for c in var.storage_classes : c if c.default]) == 1
    error_message = "Exactly one storage class must be the default."
  }

  validation {
    condition     = alltrue([for c in var.storage_classes : contains(["Delete", "Retain"], c.reclaim_policy)])
    error_message = "reclaim_policy must be Delete or Retain."
  }
}

variable "cassandra" {
  type = object({
    control_plane = bool
    datacenter    = bool
    remote_access = bool
    medusa = object({
      bucket_prefix      = string
      bucket_region      = string
      bucket_kms_key_arn = string
      create_bucket      = bool
      service_account    = string
      schedule           = string
    })
  })
  description = "k8ssandra-operator on this cluster: control plane or data plane, a service account the control plane uses when the datacenter is remote, and where a datacenter runs Medusa's backup bucket (`<bucket_prefix>-<account id>`, in `bucket_region`, encrypted with `bucket_kms_key_arn`; created here when `create_bucket`), the Cassandra pods' service account and the datacenter's backup schedule (cron, UTC); `medusa` is null without a datacenter. Null where neither a datacenter nor the control plane runs."
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
  description = "kube-prometheus-stack values (site label, storage, remote write), Sovereign's alert rules (empty except on the global site, whose Prometheus evaluates them), and for the global site Grafana's dashboards and the target group of the internal load balancer other sites remote-write through."
}

variable "global_monitoring" {
  type = object({
    alert_topic_arn              = string
    alertmanager_service_account = string
    grafana_admin_secret         = string
    grafana_admin_secret_name    = string
  })
  description = "What only the global monitoring site runs: the site's alert topic (global root, encrypted with `kms_key_arn`) Alertmanager publishes to, the service account Alertmanager runs as, and Grafana's admin credentials (Kubernetes secret name, Secrets Manager name). Null on other sites."
  default     = null
}

variable "postgres" {
  type = object({
    endpoint   = string
    database   = string
    secret_arn = string
    roles = optional(object({
      writer_endpoint       = string
      master_secret_arn     = string
      replicator_secret_arn = string
      publication           = bool
      image                 = string
    }))
  })
  description = "The site's Aurora reader endpoint, the database, and the Secrets Manager secret (JSON: username, password) of the monitoring role `sovereign_monitor` the PostgreSQL exporter logs in as; null without a local Aurora cluster. `roles`, on one site only (the primary's): the Aurora global writer endpoint, where a Job (charts/postgres-roles, image `image`, psql 15 or later) creates the monitoring role, and when `publication`, the replication role `sovereign_replicator` and the publication `sovereign_all`, as the master user (`master_secret_arn`); the replication role's password comes from `replicator_secret_arn` (empty without logical replicas). A second exporter on that site watches the writer (replication slots)."
  default     = null

  validation {
    condition     = try(var.postgres.roles, null) == null || (try(var.postgres.roles.publication, false) ? try(var.postgres.roles.replicator_secret_arn, "") != "" : true)
    error_message = "postgres.roles.replicator_secret_arn is required when postgres.roles.publication is true."
  }
}

variable "redis" {
  type = object({
    endpoint   = string
    secret_arn = string
  })
  description = "The site's cache endpoint and its AUTH token secret, for the Redis exporter; null without a cache."
  default     = null
}
