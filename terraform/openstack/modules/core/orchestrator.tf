# tf-tata: Nomad client of class orchestrator. As in the real core/orchestrator.tf.

resource "openstack_compute_instance_v2" "orchestrator" {
  name        = "tf-tata"
  image_name  = var.image_name
  flavor_name = var.flavors.orchestrator
  key_pair    = var.keypair_name
  security_groups = [
    "default",
    "allow_ping_ssh_rdp",
  ]
  user_data = templatefile("${path.module}/user_data.sh.tftpl", merge(local.user_data, { hostname = "tf-tata", role = "orchestrator" }))

  metadata = merge(local.prometheus, { prometheus_io_group = "orchestrator" })

  network {
    name = var.private_network
  }
}
