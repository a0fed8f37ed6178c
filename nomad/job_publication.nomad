# Job publication service: copies processed products to the public buckets and
# registers them in the catalogue. Template variables: see nomad/README.md.

job "job-publication" {
  datacenters = ["hrsi"]
  type        = "service"

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  meta {
    component = "orchestrator"
    owner     = "hrsi-operations"
  }

  group "job-publication" {
    network {
      port "metrics" {
        to = 9102
      }
    }

    task "job-publication" {
      driver = "docker"

      config {
        image = "registry.hrsi.example/cosims/cosims/job_publication:git-7be21f60"
        ports = ["metrics"]

        auth {
          username = "cosims-deploy"
          password = "$GITLAB_TOKEN_PASSWORD"
        }

        mount {
          type   = "bind"
          source = "$CSI_ROOT_DIR/publication/staging"
          target = "/opt/cosims/staging"
        }
      }

      // Configuration and secrets, spliced in by csi at submission.
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
        CSI_METRICS_PORT = "${NOMAD_PORT_metrics}"
        CSI_STAGING_DIR  = "/opt/cosims/staging"
        CSI_TMP_DIR      = "${NOMAD_TASK_DIR}/tmp"
      }

      resources {
        cpu    = 300
        memory = 512
      }
    }
  }
}
