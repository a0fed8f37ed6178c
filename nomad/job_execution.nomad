/*
 * Job execution service: dispatches the configured jobs to the processing workers
 * (parameterized batch jobs si-processing, rlies1-processing, gfsc-processing, ...)
 * through the Nomad API, within the vCPU budget set in cosims.system_parameters.
 *
 * Template variables: see nomad/README.md.
 */

job "job-execution" {
  datacenters = ["hrsi"]
  type        = "service"
  priority    = 70

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  group "job-execution" {
    count = 1

    ephemeral_disk {
      size = 500
    }

    task "job-execution" {
      driver = "docker"

      config {
        # Bump with `csi patch-image job-execution <tag>`, never in the Nomad UI.
        image = "registry.hrsi.example/cosims/cosims/job_execution:git-0c5e8d42"
        auth {
          username = "cosims-deploy"
          password = "$GITLAB_TOKEN_PASSWORD"
        }
        volumes = [
          "$CSI_ROOT_DIR/logs/job_execution:/var/log/cosims",
          "$CSI_ROOT_DIR/dispatch:/opt/cosims/dispatch",
        ]
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
        change_mode = "restart"
      }

      env {
        NOMAD_ADDR        = "http://${attr.unique.network.ip-address}:4646"
        CSI_DISPATCH_DIR  = "/opt/cosims/dispatch"
        CSI_WORKER_CLASS  = "worker"
        CSI_ORCHESTRATOR  = "${attr.unique.hostname}"
      }

      resources {
        cpu    = 600
        memory = 1024
      }
    }
  }
}
