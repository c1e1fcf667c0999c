output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 range of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnet IDs, in zone order."
  value       = [for z in var.zones : aws_subnet.public[z.az_id].id]
}

output "private_subnet_ids" {
  description = "Private subnet IDs (EKS nodes and pods), in zone order."
  value       = [for z in var.zones : aws_subnet.private[z.az_id].id]
}

output "private_subnet_cidrs" {
  description = "Private subnet ranges, in zone order."
  value       = [for z in var.zones : z.private]
}

output "database_subnet_ids" {
  description = "Database subnet IDs, in zone order."
  value       = [for z in var.zones : aws_subnet.database[z.az_id].id]
}

output "private_route_table_ids" {
  description = "Route tables of the private subnets, one per zone."
  value       = [for z in var.zones : aws_route_table.private[z.az_id].id]
}

output "database_route_table_id" {
  description = "Route table of the database subnets."
  value       = aws_route_table.database.id
}

output "kms_key_arn" {
  description = "ARN of the site's KMS key."
  value       = aws_kms_key.this.arn
}

output "nat_public_ips" {
  description = "Public addresses of the NAT gateways (egress of the site)."
  value       = [for ip in aws_eip.nat : ip.public_ip]
}
