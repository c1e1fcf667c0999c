output "dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 zone of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "target_group_arn" {
  description = "IP target group the load balancer controller binds the application's pods to."
  value       = aws_lb_target_group.app.arn
}

output "domain_validation_options" {
  description = "What ACM asks of each domain name of the certificate: the record to create in the zone (resource_record_name, _type, _value)."
  value       = aws_acm_certificate.this.domain_validation_options
}
