output "cluster_name" {
  description = "EKS cluster name."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API server."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_ca_certificate" {
  description = "Base64-encoded certificate authority of the API server."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "cluster_security_group_id" {
  description = "Security group EKS created for the control plane and managed nodes."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "node_role_arn" {
  description = "IAM role of the managed node groups, once its policies are attached."
  value       = aws_iam_role.node.arn
  # A node group created before the role has its policies fails with NodeCreationFailure.
  depends_on = [aws_iam_role_policy_attachment.node]
}

output "addons_after_nodes" {
  description = "Add-ons that wait for nodes; node groups are created before them."
  value       = [for a in aws_eks_addon.after_nodes : a.addon_name]
}
