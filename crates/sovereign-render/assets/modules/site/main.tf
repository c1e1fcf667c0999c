# The workloads of one site's EKS cluster, applied from the site's own root and state so a
# failure or an outage in one region never blocks the others.

resource "kubernetes_namespace_v1" "this" {
  for_each = toset(concat(
    ["monitoring"],
    var.application == null ? [] : ["app"],
    var.cassandra == null ? [] : ["cert-manager", "k8ssandra"],
    try(var.postgres.roles, null) == null ? [] : ["postgres"],
  ))

  metadata {
    name = each.value
    labels = {
      "app.kubernetes.io/managed-by" = "sovereign"
      "sovereign.dev/site"           = var.site
    }
  }
}
