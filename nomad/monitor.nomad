# Monitor service: watches the other services' heartbeats, the job status
# transitions and the worker pool, and raises alerts.
# HCL1 (Nomad 0.11), the task directly under the job, no update block.
#
# Template variables: see nomad/README.md.

job "monitor" {
  type        = "service"
  datacenters = ["hrsi"]
  priority    = 80 # must outlive the others when resources are short

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  task "monitor" {
    driver = "docker"

    config {
      image   = "registry.hrsi.example/cosims/cosims/monitor:git-e5093b7a"
      command = "python3"
      args    = ["-m", "cosims.monitor", "--state-dir", "${NOMAD_ALLOC_DIR}/state"]

      auth {
        username = "cosims-deploy"
        password = "$GITLAB_TOKEN_PASSWORD"
      }

      volumes = ["$CSI_ROOT_DIR/logs:/var/log/cosims:ro"]
    }

    resources {
      cpu    = 200
      memory = 256
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

    template {
      env         = true
      destination = "${NOMAD_SECRETS_DIR}/csi_secrets.env"
      data        = <<EOF
$CSI_SECRETS_ENV_FILE_CONTENT
EOF
    }

    env {
      CSI_MONITOR_NODE = "${attr.unique.hostname}"
      CSI_NODE_CLASS   = "${node.class}"
    }
  }
}
