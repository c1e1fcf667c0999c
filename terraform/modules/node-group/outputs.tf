output "node_group_name" {
  description = "Name of the node group."
  value       = aws_eks_node_group.this.node_group_name
}

output "autoscaling_group_names" {
  description = "Auto Scaling groups EKS created for the node group."
  value       = [for r in aws_eks_node_group.this.resources : r.autoscaling_groups[0].name]
}
