# kube-prometheus-stack on every cluster: Prometheus stamping the site on every series it scrapes,
# its volume on the site's storage class, remote-writing to the global Prometheus the series
# Sovereign's rules and dashboards read; the PostgreSQL and Redis exporters for the site's Aurora
# and cache (PostgreSQL as the monitoring role; on the primary's site also the global writer).
# On the global site: the remote-write receiver behind an internal load balancer, Sovereign's
# alert rules, Alertmanager routing to the alert topic (`alerting.tf`), and Grafana
# with Sovereign's dashboards and a generated admin password.

resource "helm_release" "kube_prometheus_stack" {
  name       = "kube-prometheus-stack"
  namespace  = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
  repository = "https://prometheus-community.github.io/helm-charts"
  chart      = "kube-prometheus-stack"
  version    = var.chart_versions.kube_prometheus_stack
  wait       = true
  timeout    = 900

  values = concat(
    [var.monitoring.values],
    var.monitoring.rules == "" ? [] : [yamlencode({ additionalPrometheusRulesMap = { sovereign = yamldecode(var.monitoring.rules) } })],
    local.alertmanager_values,
  )

  # Pods get Pod Identity credentials only if the association exists when they start.
  depends_on = [
    kubernetes_storage_class_v1.this,
    aws_eks_pod_identity_association.pod,
    kubernetes_secret_v1.grafana_admin,
  ]
}

resource "kubernetes_config_map_v1" "dashboards" {
  for_each = var.monitoring.global ? var.monitoring.dashboards : {}

  metadata {
    name      = "sovereign-dashboard-${each.key}"
    namespace = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
    labels = {
      grafana_dashboard = "1"
    }
  }

  data = {
    "${each.key}.json" = each.value
  }
}

resource "helm_release" "prometheus_binding" {
  count = var.monitoring.prometheus_target_group_arn == "" ? 0 : 1

  name      = "prometheus-remote-write"
  namespace = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
  chart     = "${var.charts_dir}/target-group-binding"

  values = [yamlencode({
    name           = "prometheus-remote-write"
    serviceName    = "kube-prometheus-stack-prometheus"
    servicePort    = 9090
    targetGroupArn = var.monitoring.prometheus_target_group_arn
  })]

  depends_on = [helm_release.kube_prometheus_stack, helm_release.lb_controller]
}

# The exporters log in as `sovereign_monitor` (pg_monitor), never as the master user: its
# credentials are the monitoring role's secret (var.postgres.secret_arn).
data "aws_secretsmanager_secret_version" "postgres" {
  count = var.postgres == null ? 0 : 1

  region    = var.region
  secret_id = var.postgres.secret_arn
}

resource "kubernetes_secret_v1" "postgres_exporter" {
  count = var.postgres == null ? 0 : 1

  metadata {
    name      = "postgres-exporter"
    namespace = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
  }

  data = {
    DATA_SOURCE_USER = jsondecode(data.aws_secretsmanager_secret_version.postgres[0].secret_string).username
    DATA_SOURCE_PASS = jsondecode(data.aws_secretsmanager_secret_version.postgres[0].secret_string).password
  }
}

locals {
  # The site's reader endpoint everywhere; on the site that creates the roles, also the global
  # writer endpoint (it follows switchovers), where the logical replicas' replication slots are.
  # Each exporter's series carry `pg_endpoint` (`reader`, `writer`): the slot alerts read the
  # writer's.
  postgres_exporters = var.postgres == null ? {} : merge(
    { "postgres-exporter" = { host = var.postgres.endpoint, endpoint = "reader" } },
    try(var.postgres.roles, null) == null ? {} : {
      "postgres-exporter-writer" = { host = var.postgres.roles.writer_endpoint, endpoint = "writer" }
    },
  )
}

resource "helm_release" "postgres_exporter" {
  for_each = local.postgres_exporters

  name       = each.key
  namespace  = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
  repository = "https://prometheus-community.github.io/helm-charts"
  chart      = "prometheus-postgres-exporter"
  version    = var.chart_versions.postgres_exporter

  values = [yamlencode({
    serviceMonitor = {
      enabled = true
      labels = {
        release = "kube-prometheus-stack"
      }
      relabelings = [{
        action      = "replace"
        targetLabel = "pg_endpoint"
        replacement = each.value.endpoint
      }]
    }
    config = {
      datasource = {
        host     = each.value.host
        database = var.postgres.database
        sslmode  = "require"
        userSecret = {
          name = kubernetes_secret_v1.postgres_exporter[0].metadata[0].name
          key  = "DATA_SOURCE_USER"
        }
        passwordSecret = {
          name = kubernetes_secret_v1.postgres_exporter[0].metadata[0].name
          key  = "DATA_SOURCE_PASS"
        }
      }
    }
  })]

  # The monitoring role exists once the roles Job has run (on the site that runs it).
  depends_on = [helm_release.kube_prometheus_stack, helm_release.postgres_roles]
}

moved {
  from = helm_release.postgres_exporter[0]
  to   = helm_release.postgres_exporter["postgres-exporter"]
}

data "aws_secretsmanager_secret_version" "redis" {
  count = var.redis == null ? 0 : 1

  region    = var.region
  secret_id = var.redis.secret_arn
}

resource "kubernetes_secret_v1" "redis_exporter" {
  count = var.redis == null ? 0 : 1

  metadata {
    name      = "redis-exporter"
    namespace = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
  }

  data = {
    password = data.aws_secretsmanager_secret_version.redis[0].secret_string
  }
}

resource "helm_release" "redis_exporter" {
  count = var.redis == null ? 0 : 1

  name       = "redis-exporter"
  namespace  = kubernetes_namespace_v1.this["monitoring"].metadata[0].name
  repository = "https://prometheus-community.github.io/helm-charts"
  chart      = "prometheus-redis-exporter"
  version    = var.chart_versions.redis_exporter

  values = [yamlencode({
    redisAddress = "rediss://${var.redis.endpoint}:6379"
    auth = {
      enabled = true
      secret = {
        name = kubernetes_secret_v1.redis_exporter[0].metadata[0].name
        key  = "password"
      }
    }
    serviceMonitor = {
      enabled = true
      labels = {
        release = "kube-prometheus-stack"
      }
    }
  })]

  depends_on = [helm_release.kube_prometheus_stack]
}
