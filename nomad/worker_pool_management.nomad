# Worker pool management service: creates and deletes the worker VMs (from the
# tf-titi template) in OpenStack according to the queued jobs, within
# max_number_of_worker_instances and max_number_of_vcpus.
#
# The service that most often stays pending after a start: the orchestrator may not
# have enough free CPU. The known fix is to lower resources.cpu (1500 -> 1000) and
# resubmit this file.
#
# Template variables: see nomad/README.md.

job "worker-pool-management" {
  datacenters = ["hrsi"]
  type        = "service"

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  group "worker-pool-management" {
    count = 1

    restart {
      attempts = 3
      interval = "15m"
      delay    = "1m"
      mode     = "fail"
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
        mount {
          type     = "bind"
          source   = "$CSI_ROOT_DIR/openstack"
          target   = "/etc/openstack"
          readonly = true
        }
      }

      template {
        data        = <<EOF
$CSI_CONFIG_ENV_FILE_CONTENT
EOF
        destination = "secrets/file.env"
        env         = true
      }

      # OpenStack credentials live in the secrets env file.
      template {
        data        = <<EOF
$CSI_SECRETS_ENV_FILE_CONTENT
EOF
        destination = "secrets/secrets.env"
        env         = true
      }

      env {
        OS_CLOUD             = "hrsi"
        CSI_STATE_FILE       = "${NOMAD_ALLOC_DIR}/data/pool-state.json"
        CSI_ORCHESTRATOR_VM  = "${attr.unique.hostname}"
      }

      resources {
        cpu    = 1500
        memory = 1024
      }
    }
  }
}
