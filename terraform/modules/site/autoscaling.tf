# Scaling as the design intended (add capacity in steps when CPU stays high, then wait):
# the HorizontalPodAutoscaler of the application (in the `app` chart) adds pods at the CPU
# target; the cluster autoscaler adds nodes to the managed node groups, within their min and
# max, when pods do not fit. Its IAM role comes from the global root (Pod Identity).

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
