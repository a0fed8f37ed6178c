//! A started-or-stopped copy of the sandbox terraform tree, driven with real tofu.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::csi::tofu;

/// Runs tofu in `dir`; panics with its stderr on failure.
pub fn run_tofu(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(tofu())
        .arg(format!("-chdir={}", dir.display()))
        .args(args)
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .expect("run tofu");
    assert!(
        output.status.success(),
        "tofu {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn var_args(tag: &str) -> Vec<String> {
    vec![
        "-var-file=sandbox_env_configuration.tfvars".into(),
        "-var-file=sandbox_env_secrets.tfvars".into(),
        format!("-var=csi_packages_tag={tag}"),
    ]
}

/// init, then the cold module: the sandbox's "stopped" state.
pub fn init_stopped(dir: &Path) {
    run_tofu(dir, &["init", "-input=false"]);
    let mut args = vec![
        "apply",
        "-input=false",
        "-auto-approve",
        "-target=module.cold",
    ];
    let vars = var_args("test");
    args.extend(vars.iter().map(String::as_str));
    run_tofu(dir, &args);
}

/// The whole tree applied: the "started" state.
pub fn init_started(dir: &Path) {
    init_stopped(dir);
    let mut args = vec!["apply", "-input=false", "-auto-approve"];
    let vars = var_args("test");
    args.extend(vars.iter().map(String::as_str));
    run_tofu(dir, &args);
}

pub fn state_file(dir: &Path) -> PathBuf {
    dir.join("terraform.tfstate")
}

pub fn state_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(state_file(dir)).unwrap_or_default()
}

/// Resource addresses in the state under `module.<name>`, read from the state file.
pub fn addresses_in(dir: &Path, module: &str) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(state_file(dir)) else {
        return Vec::new();
    };
    let state: serde_json::Value = serde_json::from_str(&text).unwrap();
    let prefix = format!("module.{module}");
    state["resources"]
        .as_array()
        .map(|resources| {
            resources
                .iter()
                .filter(|r| r["module"].as_str() == Some(prefix.as_str()))
                // An interrupted apply can leave a resource "husk" without instances:
                // terraform (and csi, through `show -json`) do not count it.
                .filter(|r| r["instances"].as_array().is_some_and(|i| !i.is_empty()))
                .map(|r| {
                    format!(
                        "{prefix}.{}.{}",
                        r["type"].as_str().unwrap(),
                        r["name"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
