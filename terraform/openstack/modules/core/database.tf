# tf-tutu: PostgreSQL 12 and PostgREST (port 3000). Addresses as in the real
# deployment's core/database.tf.

# To allow access to the HTTP API provided by PostgREST, port 3000 is opened.
resource "openstack_compute_secgroup_v2" "postgrest" {
  name        = "tf-postgrest"
  description = "Group with PostgREST port opened"

  rule {
    ip_protocol = "tcp"
    from_port   = 3000
    to_port     = 3000
    cidr        = "0.0.0.0/0"
  }
}

resource "openstack_compute_instance_v2" "database" {
  name        = "tf-tutu"
  flavor_name = var.flavors.database
  key_pair    = var.keypair_name
  security_groups = [
    "default",
    "allow_ping_ssh_rdp",
    openstack_compute_secgroup_v2.postgrest.name,
  ]
  user_data = templatefile("${path.module}/user_data.sh.tftpl", merge(local.user_data, { hostname = "tf-tutu", role = "database" }))

  metadata = merge(local.prometheus, { prometheus_io_group = "database" })

  network {
    name = var.private_network
  }

  # The database volume lives in module.cold and outlives this VM: it boots from it.
  block_device {
    uuid                  = var.database_volume_id
    source_type           = "volume"
    destination_type      = "volume"
    boot_index            = 0
    delete_on_termination = false
  }
}

resource "openstack_networking_floatingip_v2" "database" {
  pool = var.external_network
}

resource "openstack_compute_floatingip_associate_v2" "database" {
  floating_ip = openstack_networking_floatingip_v2.database.address
  instance_id = openstack_compute_instance_v2.database.id
}

output "database_ip" {
  value = openstack_networking_floatingip_v2.database.address
}
