# Only cold values: they stay valid while the system is stopped.

output "dashboard_floatingip" {
  description = "Address of the dashboard (survives a stop)."
  value       = module.cold.dashboard_floatingip
}

output "database_volume_id" {
  description = "Id of the database block volume (survives a stop)."
  value       = module.cold.database_volume_id
}
