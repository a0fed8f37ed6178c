# The 4 fake VMs.

resource "terraform_data" "tf_tutu" {
  input = {
    type            = "openstack_compute_instance_v2"
    name            = "tf-tutu"
    role            = "database: PostgreSQL + HTTP API on port 3000"
    flavor          = var.flavors.database
    image           = var.image_name
    network         = var.private_network
    keypair         = var.keypair_name
    security_groups = [terraform_data.secgroup_ssh.output.name, terraform_data.secgroup_database.output.name]
    volume_id       = var.database_volume_id
    packages_tag    = var.csi_packages_tag
    region          = var.os_region
  }
}

resource "terraform_data" "tf_tete" {
  input = {
    type            = "openstack_compute_instance_v2"
    name            = "tf-tete"
    role            = "nomad server"
    flavor          = var.flavors.nomad_server
    image           = var.image_name
    network         = var.private_network
    keypair         = var.keypair_name
    security_groups = [terraform_data.secgroup_ssh.output.name, terraform_data.secgroup_nomad_server.output.name]
    packages_tag    = var.csi_packages_tag
    region          = var.os_region
  }
}

resource "terraform_data" "tf_tata" {
  input = {
    type            = "openstack_compute_instance_v2"
    name            = "tf-tata"
    role            = "orchestrator: nomad client of class orchestrator"
    flavor          = var.flavors.orchestrator
    image           = var.image_name
    network         = var.private_network
    keypair         = var.keypair_name
    security_groups = [terraform_data.secgroup_ssh.output.name, terraform_data.secgroup_nomad_client.output.name]
    nomad_server    = terraform_data.tf_tete.output.name
    database        = terraform_data.tf_tutu.output.name
    bucket_endpoint = var.bucket_endpoint
    packages_tag    = var.csi_packages_tag
    region          = var.os_region
  }

  # The real VM gets these secrets in its user_data; here they are only checked,
  # so that they appear neither in state nor in plan/apply output.
  lifecycle {
    precondition {
      condition     = length(var.os_application_credential_secret) > 0
      error_message = "os_application_credential_secret is empty: fill in the secrets var file."
    }
    precondition {
      condition     = length(var.bucket_secret_key) > 0
      error_message = "bucket_secret_key is empty: fill in the secrets var file."
    }
    precondition {
      condition     = length(var.registry_token) > 0
      error_message = "registry_token is empty: fill in the secrets var file."
    }
  }
}

resource "terraform_data" "tf_titi" {
  input = {
    type            = "openstack_compute_instance_v2"
    name            = "tf-titi"
    role            = "worker template"
    flavor          = var.flavors.worker
    image           = var.image_name
    network         = var.private_network
    keypair         = var.keypair_name
    security_groups = [terraform_data.secgroup_ssh.output.name, terraform_data.secgroup_nomad_client.output.name]
    nomad_server    = terraform_data.tf_tete.output.name
    packages_tag    = var.csi_packages_tag
    region          = var.os_region
  }
}
