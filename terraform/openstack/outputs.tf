output "dashboard_floatingip" {
  description = "Address of the dashboard (survives a stop)."
  value       = module.cold.dashboard_floatingip
}

output "database_volume_id" {
  description = "Id of the database block volume (survives a stop)."
  value       = module.cold.database_volume_id
}

output "admin_floatingip" {
  description = "Address of the admin VM tf-toto."
  value       = module.admin.floatingip
}
