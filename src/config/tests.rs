use super::*;

const VALID: &str = r#"
service "job-creation" {
  job_file = "nomad/job_creation.nomad"
}

environment "sandbox" {
  terraform {
    dir                    = "terraform/sandbox"
    configuration_var_file = "sandbox_env_configuration.tfvars"
    secrets_var_file       = "sandbox_env_secrets.tfvars"
  }
  nomad {
    address = "http://127.0.0.1:54646"
  }
  database {
    host = "127.0.0.1"
  }
  borg {
    repository = ".sandbox/borg"
  }
}
"#;

#[test]
fn valid_file_parses_with_defaults() {
    let config = parse(VALID).expect("valid");
    let env = &config.environment["sandbox"];
    assert_eq!(env.terraform.target, "module.core");
    assert_eq!(env.terraform.expected_add, None);
    assert_eq!(env.terraform.parallelism, 2);
    assert_eq!(env.borg.archive_prefix, "pgdump_");
    assert_eq!(
        config.service["job-creation"].job_file,
        "nomad/job_creation.nomad"
    );
}

#[test]
fn unknown_key_names_line_and_key() {
    let source = VALID.replace(
        "    host = \"127.0.0.1\"",
        "    host = \"127.0.0.1\"\n    hots = 1",
    );
    let problem = parse(&source).unwrap_err();
    assert_eq!(
        problem.key.as_deref(),
        Some("environment.sandbox.database.hots")
    );
    assert_eq!(problem.line, Some(17));
    assert!(
        problem.message.contains("unknown field `hots`"),
        "{}",
        problem.message
    );
}

#[test]
fn wrong_type_names_line_and_key() {
    let source = VALID.replace(
        "    dir                    = \"terraform/sandbox\"",
        "    dir                    = \"terraform/sandbox\"\n    parallelism = \"two\"",
    );
    let problem = parse(&source).unwrap_err();
    assert_eq!(
        problem.key.as_deref(),
        Some("environment.sandbox.terraform.parallelism")
    );
    assert_eq!(problem.line, Some(9));
    assert!(
        problem.message.contains("invalid type"),
        "{}",
        problem.message
    );
}

#[test]
fn missing_required_key_names_the_block() {
    let source = VALID.replace(
        "    secrets_var_file       = \"sandbox_env_secrets.tfvars\"\n",
        "",
    );
    let problem = parse(&source).unwrap_err();
    assert_eq!(
        problem.key.as_deref(),
        Some("environment.sandbox.terraform")
    );
    assert_eq!(problem.line, Some(7));
    assert!(
        problem.message.contains("missing field `secrets_var_file`"),
        "{}",
        problem.message
    );
}

#[test]
fn syntax_error_names_the_line() {
    let problem = parse("environment \"x\" {\n  terraform {\n    dir = \n}\n").unwrap_err();
    assert!(problem.line.is_some());
    assert!(problem.message.starts_with("syntax error"));
}

#[test]
fn error_message_names_the_file() {
    let problem = parse("bogus = 1\n").unwrap_err();
    let error = problem.into_error(Path::new("/etc/csi.hcl"));
    assert!(
        error
            .message
            .starts_with("invalid configuration /etc/csi.hcl:1: key `bogus`:"),
        "{}",
        error.message
    );
}
