# What every VM's cloud-init gets. The real deployment wrote
# get_and_launch_instance_init.sh with template_cloudinit_config (the archived
# hashicorp/template provider); here a templatefile with the same job: fetch
# instance_init_packages/<csi_packages_tag> from the packages bucket and run it.
locals {
  user_data = {
    environment       = var.environment
    packages_tag      = var.csi_packages_tag
    packages_bucket   = var.packages_bucket
    backups_bucket    = var.backups_bucket
    nomad_server      = "tf-tete"
    bucket_endpoint   = var.bucket_endpoint
    bucket_access_key = var.bucket_access_key
    bucket_secret_key = var.bucket_secret_key
    registry_token    = var.registry_token
  }

  # The real instances' Prometheus node-exporter labels.
  prometheus = {
    prometheus_io_port   = "9100"
    prometheus_io_scrape = "true"
  }
}
