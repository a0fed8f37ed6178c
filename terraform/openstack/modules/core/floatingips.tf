# 2 floating IPs and 3 associations; the third one attaches the dashboard
# floating IP, which lives in module.cold, to the orchestrator.

resource "openstack_networking_floatingip_v2" "tf_tutu" {
  pool = var.external_network
}

resource "openstack_networking_floatingip_v2" "tf_tete" {
  pool = var.external_network
}

resource "openstack_compute_floatingip_associate_v2" "tf_tutu" {
  floating_ip = openstack_networking_floatingip_v2.tf_tutu.address
  instance_id = openstack_compute_instance_v2.tf_tutu.id
}

resource "openstack_compute_floatingip_associate_v2" "tf_tete" {
  floating_ip = openstack_networking_floatingip_v2.tf_tete.address
  instance_id = openstack_compute_instance_v2.tf_tete.id
}

resource "openstack_compute_floatingip_associate_v2" "dashboard" {
  floating_ip = var.dashboard_floatingip
  instance_id = openstack_compute_instance_v2.tf_tata.id
}
