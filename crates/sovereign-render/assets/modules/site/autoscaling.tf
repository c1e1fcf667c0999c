# Scaling as the design intended (add capacity in steps when CPU stays high, then wait):
# the HorizontalPodAutoscaler of the application (in the `app` chart) adds pods at the CPU
# target; the cluster autoscaler adds nodes to the managed node groups, within their min and
# max, when pods do not fit. Its IAM role comes from the global root (Pod Identity). The HPA
# reads CPU from the resource metrics API, which metrics-server serves: it runs on every site
# (kubectl top and any workload's HPA need it too), whether or not the application does.

resource "helm_release" "cluster_autoscaler" {
  name       = "cluster-autoscaler"
  namespace  = "kube-system"
  repository = "https://kubernetes.github.io/autoscaler"
  chart      = "cluster-autoscaler"
  version    = var.chart_versions.cluster_autoscaler
  wait       = true
  timeout    = 600

  values = [yamlencode({
    awsRegion = var.region
    autoDiscovery = {
      clusterName = var.cluster_name
    }
    rbac = {
      serviceAccount = {
        name = "cluster-autoscaler"
      }
    }
    extraArgs = {
      balance-similar-node-groups   = true
      expander                      = "priority,least-waste"
      skip-nodes-with-local-storage = false
      scale-down-unneeded-time      = "10m"
    }
    expanderPriorities = {
      "10" = [".*spot.*"]
      "1"  = [".*"]
    }
  })]
}

# The resource metrics API the HorizontalPodAutoscaler reads CPU from. EKS does not install it.
resource "helm_release" "metrics_server" {
  name       = "metrics-server"
  namespace  = "kube-system"
  repository = "https://kubernetes-sigs.github.io/metrics-server"
  chart      = "metrics-server"
  version    = var.chart_versions.metrics_server
  wait       = true
  timeout    = 600

  values = [yamlencode({
    replicas = 2
    podDisruptionBudget = {
      enabled      = true
      minAvailable = 1
    }
  })]
}
