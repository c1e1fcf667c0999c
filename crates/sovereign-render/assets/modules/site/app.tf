# The user's application: Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget and
# a TargetGroupBinding to the load balancer Terraform created, from Sovereign's local `app`
# chart. The AWS load balancer controller only registers pods in that target group.

resource "helm_release" "lb_controller" {
  count = var.application == null && var.monitoring.prometheus_target_group_arn == "" ? 0 : 1

  name       = "aws-load-balancer-controller"
  namespace  = "kube-system"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = var.chart_versions.lb_controller
  wait       = true
  timeout    = 600

  values = [yamlencode({
    clusterName = var.cluster_name
    region      = var.region
    vpcId       = var.vpc_id
    serviceAccount = {
      name = "aws-load-balancer-controller"
    }
    enableServiceMutatorWebhook = false
    createIngressClassResource  = false
    # Target group bindings only: no shared backend security group to create or manage (the
    # global root opens the pod ports to the load balancers itself).
    enableBackendSecurityGroup = false
  })]
}

resource "helm_release" "app" {
  count = var.application == null ? 0 : 1

  name      = var.application.name
  namespace = kubernetes_namespace_v1.this["app"].metadata[0].name
  chart     = "${var.charts_dir}/app"
  wait      = true
  timeout   = 900

  values = [yamlencode({
    name           = var.application.name
    image          = var.application.image
    port           = var.application.port
    healthPath     = var.application.health_path
    replicas       = var.application.replicas
    maxReplicas    = var.application.max_replicas
    site           = var.site
    targetGroupArn = var.application.target_group_arn
    autoscaling = {
      cpuTargetPercent = var.application.cpu_target_percent
      scaleUpPods      = var.application.scale_up_pods
      cooldownSeconds  = var.application.cooldown_seconds
    }
  })]

  depends_on = [helm_release.lb_controller]
}
