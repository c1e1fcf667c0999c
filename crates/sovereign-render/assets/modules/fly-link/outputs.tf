output "gateways" {
  description = "Per gateway (`a`, `b`, ...): the Secrets Manager secret that holds its WireGuard peer configuration (filled by the flyctl plan) and the secret's region, its EC2 instance, its address inside the VPC and its availability zone."
  value = {
    for k, i in aws_instance.gateway : k => {
      secret_arn        = aws_secretsmanager_secret.wireguard[k].arn
      region            = var.region
      instance_id       = i.id
      private_ip        = i.private_ip
      availability_zone = i.availability_zone
    }
  }
}
