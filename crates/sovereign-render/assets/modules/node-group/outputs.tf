output "node_group_names" {
  description = "Names of the node groups: the name alone, or the name and the zone's number (`on-demand-1`) with one group per zone."
  value       = [for g in aws_eks_node_group.this : g.node_group_name]
}

output "autoscaling_group_names" {
  description = "Auto Scaling groups EKS created for the node groups."
  value       = flatten([for g in aws_eks_node_group.this : [for r in g.resources : r.autoscaling_groups[0].name]])
}
