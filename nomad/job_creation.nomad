# Job creation service.
#
# Polls the input catalogues and creates the parent jobs (one per tile and date) in
# the cosims database. Runs once, on the orchestrator node.
#
# This file is a template: the $CSI_* references are replaced by `csi` before the job
# is submitted (see nomad/README.md). Nomad's own ${...} interpolations stay as they are.

job "job-creation" {
  datacenters = ["hrsi"]
  type        = "service"
  priority    = 60

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  group "job-creation" {
    count = 1

    restart {
      attempts = 5
      interval = "30m"
      delay    = "30s"
      mode     = "delay"
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

      template {
        data        = <<EOF
$CSI_CONFIG_ENV_FILE_CONTENT
EOF
        destination = "secrets/file.env"
        env         = true
      }

      template {
        data        = <<EOF
$CSI_SECRETS_ENV_FILE_CONTENT
EOF
        destination = "secrets/secrets.env"
        env         = true
      }

      env {
        CSI_SERVICE_NAME = "job_creation"
        CSI_HOSTNAME     = "${attr.unique.hostname}"
        CSI_NODE_CLASS   = "${node.class}"
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
