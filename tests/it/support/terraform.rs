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
        "-var=csi_environment=sandbox".into(),
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

/// Resource addresses in the state under `module.<name>`, read from the tree's default
/// state file.
pub fn addresses_in(dir: &Path, module: &str) -> Vec<String> {
    addresses_in_state(&state_file(dir), module)
}

/// Resource addresses under `module.<name>` in a state file.
pub fn addresses_in_state(file: &Path, module: &str) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(file) else {
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

/// Runs tofu in `dir` with extra environment variables (a data directory, credentials);
/// panics with its stderr on failure.
pub fn run_tofu_env(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(tofu());
    cmd.arg(format!("-chdir={}", dir.display()))
        .args(args)
        .env("TF_IN_AUTOMATION", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run tofu");
    assert!(
        output.status.success(),
        "tofu {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The stopped state (module.cold, with the environment record of `env`) in a backend
/// given by `backend_config` (`path=<file>` or a `.tfbackend` file), with a data
/// directory of its own, as another machine would have it.
pub fn seed_stopped(
    dir: &Path,
    data_dir: &Path,
    backend_config: &str,
    env: &str,
    envs: &[(&str, &str)],
) {
    let data = data_dir.to_str().unwrap();
    let mut all: Vec<(&str, &str)> = vec![("TF_DATA_DIR", data)];
    all.extend_from_slice(envs);
    run_tofu_env(
        dir,
        &[
            "init",
            "-input=false",
            &format!("-backend-config={backend_config}"),
        ],
        &all,
    );
    let environment = format!("-var=csi_environment={env}");
    let mut args = vec![
        "apply",
        "-input=false",
        "-auto-approve",
        "-target=module.cold",
    ];
    let vars = var_args("seed");
    args.extend(
        vars.iter()
            .map(String::as_str)
            .filter(|v| !v.starts_with("-var=csi_environment")),
    );
    args.push(&environment);
    run_tofu_env(dir, &args, &all);
}
