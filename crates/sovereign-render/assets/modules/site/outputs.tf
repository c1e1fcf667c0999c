output "control_plane_token" {
  description = "Token of the service account the k8ssandra control plane uses on this cluster; null when the control plane does not manage a datacenter here."
  value       = length(kubernetes_secret_v1.control_plane_token) == 0 ? null : kubernetes_secret_v1.control_plane_token[0].data["token"]
  sensitive   = true
}

output "namespaces" {
  description = "Namespaces Sovereign created."
  value       = sort(keys(kubernetes_namespace_v1.this))
}
