# 2 fake floating IPs and 3 associations (the third one attaches the cold
# dashboard floating IP to the orchestrator).

resource "terraform_data" "floatingip_tf_tutu" {
  input = {
    type = "openstack_networking_floatingip_v2"
    pool = var.external_network
  }
}

resource "terraform_data" "floatingip_tf_tete" {
  input = {
    type = "openstack_networking_floatingip_v2"
    pool = var.external_network
  }
}

resource "terraform_data" "floatingip_association_tf_tutu" {
  input = {
    type        = "openstack_compute_floatingip_associate_v2"
    floating_ip = terraform_data.floatingip_tf_tutu.id
    instance_id = terraform_data.tf_tutu.id
  }
}

resource "terraform_data" "floatingip_association_tf_tete" {
  input = {
    type        = "openstack_compute_floatingip_associate_v2"
    floating_ip = terraform_data.floatingip_tf_tete.id
    instance_id = terraform_data.tf_tete.id
  }
}

resource "terraform_data" "floatingip_association_dashboard" {
  input = {
    type        = "openstack_compute_floatingip_associate_v2"
    floating_ip = var.dashboard_floatingip
    instance_id = terraform_data.tf_tata.id
  }
}
