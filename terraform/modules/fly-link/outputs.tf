output "secret_arn" {
  description = "Secrets Manager secret that holds the WireGuard peer configuration (filled by the flyctl plan)."
  value       = aws_secretsmanager_secret.wireguard.arn
}

output "instance_id" {
  description = "EC2 instance of the gateway."
  value       = aws_instance.gateway.id
}

output "private_ip" {
  description = "Address of the gateway inside the VPC."
  value       = aws_instance.gateway.private_ip
}
