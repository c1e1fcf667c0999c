output "cluster_identifier" {
  description = "Identifier of the member cluster."
  value       = aws_rds_cluster.this.cluster_identifier
}

output "cluster_arn" {
  description = "ARN of the member cluster."
  value       = aws_rds_cluster.this.arn
}

output "writer_endpoint" {
  description = "Cluster endpoint (the writer on the primary; on a secondary it answers only after promotion)."
  value       = aws_rds_cluster.this.endpoint
}

output "reader_endpoint" {
  description = "Load-balanced reader endpoint."
  value       = aws_rds_cluster.this.reader_endpoint
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_rds_cluster.this.port
}

output "security_group_id" {
  description = "Security group of the cluster."
  value       = aws_security_group.this.id
}
