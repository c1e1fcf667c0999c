# Cassandra through k8ssandra-operator: the operator where a datacenter or the control plane runs
# (the site root passes `cassandra = null` elsewhere), cert-manager for its webhooks, and a
# service account the control plane uses to manage a remote datacenter. The data volumes use the
# storage class the topology names, which `storage.tf` creates on every datacenter's site. The
# K8ssandraCluster itself is applied from the `cassandra` root, after every site.

resource "helm_release" "cert_manager" {
  count = var.cassandra == null ? 0 : 1

  name       = "cert-manager"
  namespace  = kubernetes_namespace_v1.this["cert-manager"].metadata[0].name
  repository = "https://charts.jetstack.io"
  chart      = "cert-manager"
  version    = var.chart_versions.cert_manager
  wait       = true
  timeout    = 600

  set = [{
    name  = "crds.enabled"
    value = "true"
  }]
}

resource "helm_release" "k8ssandra_operator" {
  count = var.cassandra == null ? 0 : 1

  name       = "k8ssandra-operator"
  namespace  = kubernetes_namespace_v1.this["k8ssandra"].metadata[0].name
  repository = "https://helm.k8ssandra.io/stable"
  chart      = "k8ssandra-operator"
  version    = var.chart_versions.k8ssandra_operator
  wait       = true
  timeout    = 900

  values = [yamlencode({
    controlPlane = var.cassandra.control_plane
    global = {
      clusterScoped = true
    }
  })]

  depends_on = [helm_release.cert_manager, kubernetes_storage_class_v1.this]
}

resource "kubernetes_service_account_v1" "control_plane" {
  count = var.cassandra != null && try(var.cassandra.remote_access, false) ? 1 : 0

  metadata {
    name      = "k8ssandra-control-plane"
    namespace = kubernetes_namespace_v1.this["k8ssandra"].metadata[0].name
  }

  automount_service_account_token = false
}

resource "kubernetes_secret_v1" "control_plane_token" {
  count = length(kubernetes_service_account_v1.control_plane)

  metadata {
    name      = "k8ssandra-control-plane-token"
    namespace = kubernetes_namespace_v1.this["k8ssandra"].metadata[0].name
    annotations = {
      "kubernetes.io/service-account.name" = kubernetes_service_account_v1.control_plane[0].metadata[0].name
    }
  }

  type                           = "kubernetes.io/service-account-token"
  wait_for_service_account_token = true
}

# k8ssandra's control plane creates and reconciles every object of a remote datacenter, across
# namespaces, including CRDs of cass-operator: it needs cluster-admin on the data plane.
resource "kubernetes_cluster_role_binding_v1" "control_plane" {
  count = length(kubernetes_service_account_v1.control_plane)

  metadata {
    name = "k8ssandra-control-plane"
  }

  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "cluster-admin"
  }

  subject {
    kind      = "ServiceAccount"
    name      = kubernetes_service_account_v1.control_plane[0].metadata[0].name
    namespace = kubernetes_namespace_v1.this["k8ssandra"].metadata[0].name
  }
}
