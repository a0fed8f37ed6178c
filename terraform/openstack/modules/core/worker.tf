# tf-titi: the worker template (its image is what the worker pool starts from).
# As in the real core/worker.tf, with the EO data network besides the private one.

resource "openstack_compute_instance_v2" "worker_template" {
  name        = "tf-titi"
  image_name  = var.image_name
  flavor_name = var.flavors.worker
  key_pair    = var.keypair_name
  security_groups = [
    "default",
    "allow_ping_ssh_rdp",
  ]
  user_data = templatefile("${path.module}/user_data.sh.tftpl", merge(local.user_data, { hostname = "tf-titi", role = "worker" }))

  metadata = merge(local.prometheus, { prometheus_io_group = "worker-template" })

  network {
    name = var.private_network
  }

  network {
    name = var.eodata_network
  }
}
