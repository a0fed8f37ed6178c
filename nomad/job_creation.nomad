# Job creation service.
#
# Polls the input catalogues and creates the parent jobs (one per tile and date) in
# the cosims database. Runs once, on the orchestrator node.
#
# Written for Nomad 0.11 (HCL1), as production's files are: the task sits directly
# under the job (Nomad makes it a group of its own name), no update block.
#
# This file is a template: the $CSI_* references are replaced by `csi` before the job
# is submitted (see nomad/README.md). Nomad's own ${...} interpolations stay as they are.

job "job-creation" {
  type        = "service"
  datacenters = ["hrsi"]
  priority    = 60

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  task "job-creation" {
    driver = "docker"

    config {
      image = "registry.hrsi.example/cosims/cosims/job_creation:git-3f9a2c1e"

      auth {
        username = "cosims-deploy"
        password = "$GITLAB_TOKEN_PASSWORD"
      }

      // Logs survive the container; the monitor reads the heartbeat file.
      volumes = [
        "$CSI_ROOT_DIR/logs/job_creation:/var/log/cosims",
      ]
      args = ["--heartbeat", "${NOMAD_ALLOC_DIR}/heartbeat"]
    }

    resources {
      cpu    = 500
      memory = 512
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
      CSI_SERVICE_NAME = "job_creation"
      CSI_HOSTNAME     = "${attr.unique.hostname}"
      CSI_NODE_CLASS   = "${node.class}"
    }
  }
}
