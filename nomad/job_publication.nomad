# Job publication service: copies processed products to the public buckets and
# registers them in the catalogue. HCL1 (Nomad 0.11), the task directly under the
# job, no update block. Template variables: see nomad/README.md.

job "job-publication" {
  type        = "service"
  datacenters = ["hrsi"]

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  meta {
    component = "orchestrator"
    owner     = "hrsi-operations"
  }

  task "job-publication" {
    driver = "docker"

    config {
      image = "registry.hrsi.example/cosims/cosims/job_publication:git-7be21f60"

      auth {
        username = "cosims-deploy"
        password = "$GITLAB_TOKEN_PASSWORD"
      }

      volumes = ["$CSI_ROOT_DIR/publication/staging:/opt/cosims/staging"]
    }

    resources {
      cpu    = 300
      memory = 512
    }

    logs {
      max_files     = 10
      max_file_size = 10
    }

    // Configuration and secrets, spliced in by csi at submission.
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
      CSI_STAGING_DIR = "/opt/cosims/staging"
      CSI_TMP_DIR     = "${NOMAD_TASK_DIR}/tmp"
    }
  }
}
