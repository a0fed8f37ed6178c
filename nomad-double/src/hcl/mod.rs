//! `POST /v1/jobs/parse`: job file text to the `api.Job` JSON.
//!
//! Strict HCL2 (hcl-rs) first; files that strict parsing rejects go through a tolerant
//! scanner, as Nomad still accepts job files written in HCL1 days.

mod convert;
mod strict;
mod tolerant;
mod tree;

use crate::version::Parser;
use convert::Vars;
use serde_json::Value;

/// Parses a job file as the HCL1 parser does (strict first, then the tolerant scanner).
pub fn parse_job(src: &str, variables: &str, canonicalize: bool) -> Result<Value, String> {
    parse_job_with(Parser::Hcl1, src, variables, canonicalize)
}

/// Parses a job file with the parser the played version picks. `variables` is var-file
/// text (`name = value` lines). The error is the body of Nomad's 400 response. HCL2
/// (Nomad 1.0+) never falls back to the tolerant scanner: HCL1 habits are errors.
pub fn parse_job_with(
    parser: Parser,
    src: &str,
    variables: &str,
    canonicalize: bool,
) -> Result<Value, String> {
    let body = match strict::parse(src) {
        Ok(body) => body,
        Err(strict_err) if parser == Parser::Hcl2 => {
            return Err(format!("Failed to parse job: {strict_err}"))
        }
        Err(strict_err) => match tolerant::parse(src) {
            Ok(mut body) => {
                tracing::debug!(
                    "strict HCL2 parse failed ({strict_err}); used the tolerant scanner"
                );
                merge_repeated(&mut body);
                body
            }
            Err(_) => return Err(format!("Failed to parse job: {strict_err}")),
        },
    };
    let mut vars = Vars::new();
    for var in body.blocks_of("variable") {
        if let (Some(name), Some(default)) = (var.labels.first(), var.body.attr("default")) {
            vars.insert(name.clone(), convert::value(default, &Vars::new()));
        }
    }
    if !variables.trim().is_empty() {
        let var_body = strict::parse(variables)
            .or_else(|_| tolerant::parse(variables))
            .map_err(|e| {
                format!(
                    "Failed to parse job: {}",
                    e.to_string().replacen("input.hcl", "input.hcl.vars", 1)
                )
            })?;
        for (name, v) in &var_body.attrs {
            vars.insert(name.clone(), convert::value(v, &Vars::new()));
        }
    }
    let jobs: Vec<_> = body.blocks_of("job").collect();
    let block = match jobs.as_slice() {
        [one] if one.labels.len() == 1 => *one,
        [] => {
            return Err(
                "Failed to parse job: input.hcl:1,1-1: Missing job block; a job block is required"
                    .to_string(),
            )
        }
        [one] => {
            return Err(format!(
                "Failed to parse job: input.hcl:1,1-1: Missing name for job; all job blocks must have 1 labels (name), got {}",
                one.labels.len()
            ))
        }
        _ => {
            return Err(
                "Failed to parse job: input.hcl:1,1-1: Duplicate job block; only one job block is allowed"
                    .to_string(),
            )
        }
    };
    let mut job = convert::job(block, &vars);
    if canonicalize {
        crate::jobspec::canonicalize(&mut job);
    } else {
        crate::jobspec::fill_api_nulls(&mut job);
    }
    Ok(job)
}

/// What HCL1 makes of an attribute written twice in one block (HCL2 refuses it,
/// "Attribute redefined"). jobspec decodes every block into a `map[string]interface{}`
/// (`hcl.DecodeObject`, then mapstructure), and hcl's `decodeMap` decodes a repeated key
/// into the value already there: a list is appended to (`decodeSlice` appends to a
/// non-nil slice), anything else is replaced (the last one wins) — hashicorp/hcl
/// `decoder.go` as vendored by Nomad v0.11.1. Production's batch files rely on it: two
/// `meta_required` lines make a job that requires both keys.
fn merge_repeated(body: &mut tree::Body) {
    let mut merged: Vec<(String, tree::Val)> = Vec::with_capacity(body.attrs.len());
    for (key, value) in std::mem::take(&mut body.attrs) {
        match merged.iter_mut().find(|(k, _)| *k == key) {
            Some((_, tree::Val::List(old))) if matches!(value, tree::Val::List(_)) => {
                if let tree::Val::List(more) = value {
                    old.extend(more);
                }
            }
            Some((_, old)) => *old = value,
            None => merged.push((key, value)),
        }
    }
    body.attrs = merged;
    for block in &mut body.blocks {
        merge_repeated(&mut block.body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = r#"
variable "tag" {
  default = "git-0123abcd"
}
job "job-creation" {
  datacenters = ["dc1"]
  type = "service"
  constraint {
    attribute = "${node.class}"
    value     = "orchestrator"
  }
  group "job-creation" {
    count = 1
    update {
      min_healthy_time = "5s"
      auto_revert      = true
    }
    task "job-creation" {
      driver = "docker"
      config {
        image = "registry.example/cosims/cosims/job_creation:${var.tag}"
        args  = ["--loop"]
        mount {
          type   = "bind"
          source = "/data"
        }
      }
      env {
        FOO = "bar"
      }
      template {
        data        = <<EOT
X=${NOMAD_ALLOC_ID}
EOT
        destination = "local/env"
        env         = true
      }
      resources {
        cpu    = 500
        memory = 256
      }
      kill_timeout = "30s"
    }
  }
}
"#;

    #[test]
    fn maps_a_service_job() {
        let job = parse_job(SERVICE, "", false).unwrap();
        assert_eq!(job["ID"], "job-creation");
        assert_eq!(job["Name"], "job-creation");
        assert_eq!(job["Type"], "service");
        assert_eq!(job["Datacenters"][0], "dc1");
        assert_eq!(job["Region"], Value::Null);
        assert_eq!(job["Constraints"][0]["LTarget"], "${node.class}");
        assert_eq!(job["Constraints"][0]["RTarget"], "orchestrator");
        assert_eq!(job["Constraints"][0]["Operand"], "=");
        let g = &job["TaskGroups"][0];
        assert_eq!(g["Count"], 1);
        assert_eq!(g["Update"]["MinHealthyTime"], 5_000_000_000i64);
        assert_eq!(g["Update"]["AutoRevert"], true);
        let t = &g["Tasks"][0];
        assert_eq!(t["Driver"], "docker");
        assert_eq!(
            t["Config"]["image"],
            "registry.example/cosims/cosims/job_creation:git-0123abcd"
        );
        assert_eq!(t["Config"]["args"][0], "--loop");
        assert_eq!(t["Config"]["mount"][0]["type"], "bind");
        assert_eq!(t["Env"]["FOO"], "bar");
        assert_eq!(t["Templates"][0]["DestPath"], "local/env");
        assert_eq!(t["Templates"][0]["EmbeddedTmpl"], "X=${NOMAD_ALLOC_ID}\n");
        assert_eq!(t["Resources"]["CPU"], 500);
        assert_eq!(t["Resources"]["MemoryMB"], 256);
        assert_eq!(t["KillTimeout"], 30_000_000_000i64);
    }

    #[test]
    fn variables_override_defaults_and_canonicalize_fills() {
        let job = parse_job(SERVICE, "tag = \"git-ffffffff\"\n", true).unwrap();
        let t = &job["TaskGroups"][0]["Tasks"][0];
        assert_eq!(
            t["Config"]["image"],
            "registry.example/cosims/cosims/job_creation:git-ffffffff"
        );
        assert_eq!(job["Region"], "global");
        assert_eq!(job["Namespace"], "default");
        assert_eq!(job["Priority"], 50);
        assert_eq!(t["LogConfig"]["MaxFiles"], 10);
        // The group's update block is merged over the default strategy.
        assert_eq!(job["TaskGroups"][0]["Update"]["MaxParallel"], 1);
        assert_eq!(job["TaskGroups"][0]["Update"]["AutoRevert"], true);
    }

    #[test]
    fn hcl1_era_file_falls_back_to_tolerant_scan() {
        let src = "job \"old\" {\n  datacenters = [\"dc1\"]\n  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n      config { image = \"a/b:c\" }\n      resources { cpu = 500 memory = 256 }\n    }\n  }\n}\n";
        let job = parse_job(src, "", true).unwrap();
        let t = &job["TaskGroups"][0]["Tasks"][0];
        assert_eq!(t["Resources"]["CPU"], 500);
        assert_eq!(t["Resources"]["MemoryMB"], 256);
        assert_eq!(t["Config"]["image"], "a/b:c");
    }

    #[test]
    fn top_level_task_becomes_a_group() {
        let job = parse_job(
            "job \"x\" {\n task \"t\" {\n driver = \"exec\"\n }\n}\n",
            "",
            true,
        )
        .unwrap();
        assert_eq!(job["TaskGroups"][0]["Name"], "t");
        assert_eq!(job["TaskGroups"][0]["Count"], 1);
    }

    /// Production's batch files: `meta_required` twice. HCL1 appends the lists; a
    /// repeated scalar keeps its last value; HCL2 refuses the file.
    #[test]
    fn hcl1_appends_repeated_lists_and_hcl2_refuses_them() {
        let src = "job \"w\" {\n  type = \"batch\"\n  parameterized {\n    meta_required = [\"job_id\"]\n    meta_required = [\"job_unique_id\"]\n  }\n  task \"t\" {\n    driver = \"raw_exec\"\n    driver = \"exec\"\n    config {\n      command = \"bash\"\n      args = [ \"-c\", <<EOF\necho ${NOMAD_ALLOC_ID}\nEOF\n      ]\n    }\n  }\n}\n";
        let job = parse_job(src, "", true).unwrap();
        assert_eq!(
            job["ParameterizedJob"]["MetaRequired"],
            serde_json::json!(["job_id", "job_unique_id"])
        );
        let t = &job["TaskGroups"][0]["Tasks"][0];
        assert_eq!(t["Driver"], "exec");
        assert_eq!(
            t["Config"]["args"],
            serde_json::json!(["-c", "echo ${NOMAD_ALLOC_ID}\n"])
        );
        let err = parse_job_with(Parser::Hcl2, src, "", true).unwrap_err();
        assert!(
            err.starts_with("Failed to parse job: input.hcl:5,"),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_a_parse_error() {
        let err = parse_job("this is { not a job", "", false).unwrap_err();
        assert!(err.starts_with("Failed to parse job: input.hcl:"), "{err}");
        let err = parse_job("foo = 1\n", "", false).unwrap_err();
        assert!(err.contains("Missing job block"), "{err}");
    }
}
