# Worker pool management service: creates and deletes the worker VMs (from the
# tf-titi template) in OpenStack according to the queued jobs, within
# max_number_of_worker_instances and max_number_of_vcpus.
#
# The service that most often stays pending after a start: the orchestrator may not
# have enough free CPU. The known fix is to lower resources.cpu (1500 -> 1000) and
# resubmit this file.
#
# HCL1 (Nomad 0.11), the task directly under the job, no update block.
# Template variables: see nomad/README.md.

job "worker-pool-management" {
  type        = "service"
  datacenters = ["hrsi"]

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  task "worker-pool-management" {
    driver = "docker"

    config {
      image = "registry.hrsi.example/cosims/cosims/worker_pool:git-9d2b64f1"

      auth {
        username = "cosims-deploy"
        password = "$GITLAB_TOKEN_PASSWORD"
      }

      // OpenStack clouds.yaml and the worker bootstrap scripts.
      volumes = ["$CSI_ROOT_DIR/openstack:/etc/openstack:ro"]
    }

    resources {
      cpu    = 1500
      memory = 1024
    }

    logs {
      max_files     = 10
      max_file_size = 10
    }

    template {
      env         = true
      destination = "csi_config.env"
      data        = <<EOF
$CSI_CONFIG_ENV_FILE_CONTENT
EOF
    }

    # OpenStack credentials live in the secrets env file.
    template {
      env         = true
      destination = "${NOMAD_SECRETS_DIR}/csi_secrets.env"
      data        = <<EOF
$CSI_SECRETS_ENV_FILE_CONTENT
EOF
    }

    env {
      OS_CLOUD            = "hrsi"
      CSI_STATE_FILE      = "${NOMAD_ALLOC_DIR}/data/pool-state.json"
      CSI_ORCHESTRATOR_VM = "${attr.unique.hostname}"
    }
  }
}
