# Job configuration service: fills in the processing parameters of the parent jobs
# created by job-creation (auxiliary data versions, input product lists).
# HCL1 (Nomad 0.11), task directly under the job, no update block.
# Template variables: see nomad/README.md.

job "job-configuration" {
  type        = "service"
  datacenters = ["hrsi"]

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  task "job-configuration" {
    driver       = "docker"
    kill_timeout = "45s" // lets the current configuration loop finish

    config {
      image      = "registry.hrsi.example/cosims/cosims/job_configuration:git-a41d07b9"
      force_pull = false

      auth {
        username = "cosims-deploy"
        password = "$GITLAB_TOKEN_PASSWORD"
      }

      volumes = ["$CSI_ROOT_DIR/auxiliary:/opt/cosims/auxiliary:ro"]
    }

    resources {
      cpu    = 400
      memory = 768
    }

    logs {
      max_files     = 5
      max_file_size = 20
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

    # Rendered by Nomad at runtime (consul-template syntax), not by csi.
    template {
      env         = true
      destination = "local/runtime.env"
      data        = <<-EOH
        CSI_ALLOC_ID={{ env "NOMAD_ALLOC_ID" }}
        CSI_SCRATCH_DIR=${NOMAD_ALLOC_DIR}/scratch
        EOH
    }
  }
}
