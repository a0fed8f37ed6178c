/*
 * Job execution service: dispatches the configured jobs to the processing workers
 * (the parameterized batch jobs si-processing, rlies1-processing, gfsc-processing,
 * ...) through the Nomad API, within the vCPU budget set in cosims.system_parameters.
 *
 * HCL1 (Nomad 0.11): the task directly under the job, no update block.
 * Template variables: see nomad/README.md.
 */

job "job-execution" {
  type        = "service"
  datacenters = ["hrsi"]
  priority    = 70

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
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

    resources {
      cpu    = 600
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

    template {
      env         = true
      destination = "${NOMAD_SECRETS_DIR}/csi_secrets.env"
      change_mode = "restart"
      data        = <<EOF
$CSI_SECRETS_ENV_FILE_CONTENT
EOF
    }

    env {
      NOMAD_ADDR       = "http://${attr.unique.network.ip-address}:4646"
      CSI_DISPATCH_DIR = "/opt/cosims/dispatch"
      CSI_WORKER_CLASS = "worker"
      CSI_ORCHESTRATOR = "${attr.unique.hostname}"
    }
  }
}
