# Storage classes. EKS has had no default StorageClass since Kubernetes 1.30, so a claim without
# a class stays Pending: every site creates an encrypted gp3 class (EBS CSI driver, the site's
# KMS key, bound in the zone of the pod that first uses it) and marks it default, and every claim
# Sovereign writes names its class explicitly. The EBS CSI driver add-on and its Pod Identity
# role (allowed to use the site's key) come from the global root (`modules/eks`).

resource "kubernetes_storage_class_v1" "this" {
  for_each = { for c in var.storage_classes : c.name => c }

  metadata {
    name = each.key
    annotations = each.value.default ? {
      "storageclass.kubernetes.io/is-default-class" = "true"
    } : {}
  }

  storage_provisioner    = "ebs.csi.aws.com"
  reclaim_policy         = each.value.reclaim_policy
  volume_binding_mode    = "WaitForFirstConsumer"
  allow_volume_expansion = true
  # Volumes the driver creates carry the tags the budgets filter on (`tagSpecification_<n>`:
  # key=value), or their cost would fall outside every budget.
  parameters = merge(
    {
      type      = "gp3"
      encrypted = "true"
      kmsKeyId  = var.kms_key_arn
    },
    { for i, k in sort(keys(var.cost_tags)) : "tagSpecification_${i + 1}" => "${k}=${var.cost_tags[k]}" },
  )
}
