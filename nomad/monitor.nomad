# Monitor service: watches the other services' heartbeats, the job status
# transitions and the worker pool, and raises alerts.
#
# Template variables: see nomad/README.md.

job "monitor" {
  datacenters = ["hrsi"]
  type        = "service"
  priority    = 80 # must outlive the others when resources are short

  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }

  group "monitor" {
    count = 1

    network {
      port "http" {
        to = 8080
      }
    }

    service {
      name     = "cosims-monitor"
      provider = "nomad"
      port     = "http"

      check {
        type     = "http"
        path     = "/health"
        interval = "30s"
        timeout  = "5s"
      }
    }

    task "monitor" {
      driver = "docker"

      config {
        image   = "registry.hrsi.example/cosims/cosims/monitor:git-e5093b7a"
        ports   = ["http"]
        command = "python3"
        args    = ["-m", "cosims.monitor", "--state-dir", "${NOMAD_ALLOC_DIR}/state"]

        auth {
          username = "cosims-deploy"
          password = "$GITLAB_TOKEN_PASSWORD"
        }

        volumes = ["$CSI_ROOT_DIR/logs:/var/log/cosims:ro"]
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
        CSI_MONITOR_NODE = "${attr.unique.hostname}"
        CSI_NODE_CLASS   = "${node.class}"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
