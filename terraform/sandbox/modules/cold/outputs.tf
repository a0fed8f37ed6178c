output "database_volume_id" {
  value = terraform_data.database_volume.id
}

output "keypair_name" {
  value = terraform_data.keypair.output.name
}

# Stand-in for the floating IP address (the id plays the role of the address).
output "dashboard_floatingip" {
  value = terraform_data.floatingip_dashboard.id
}
