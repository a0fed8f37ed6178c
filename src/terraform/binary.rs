//! Which binary drives the environment's tree: the configured one, else `terraform`
//! or `tofu` found on PATH (in that order).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{precondition, CsiError};
use crate::process::Cmd;

const CANDIDATES: &[&str] = &["terraform", "tofu"];

#[derive(Debug, Clone)]
pub struct Terraform {
    pub path: PathBuf,
}

impl Terraform {
    /// A command in the tree's directory, with the variables that would silently change
    /// what terraform does removed and automation mode set.
    pub fn command(&self, dir: &Path) -> Cmd {
        let mut cmd = Cmd::new(&self.path)
            .arg(format!("-chdir={}", dir.display()))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1");
        for name in crate::env_vars::TF_SCRUBBED {
            cmd = cmd.env_remove(name);
        }
        for (name, _) in std::env::vars_os() {
            if let Some(name) = name.to_str() {
                if name.starts_with(crate::env_vars::TF_CLI_ARGS_PREFIX) {
                    cmd = cmd.env_remove(name);
                }
            }
        }
        cmd
    }
}

pub fn locate(configured: Option<&str>) -> Result<Terraform, CsiError> {
    match configured {
        Some(name) => find_program(name).map(|path| Terraform { path }).ok_or_else(|| {
            precondition(format!("terraform binary `{name}` not found"))
                .with_hint("install it, fix terraform.binary in csi.hcl, or put it on PATH (scripts/bootstrap.sh installs tofu)")
        }),
        None => CANDIDATES
            .iter()
            .find_map(|name| find_program(name))
            .map(|path| Terraform { path })
            .ok_or_else(|| {
                precondition("neither terraform nor tofu found on PATH")
                    .with_hint("install one (scripts/bootstrap.sh installs tofu) or set terraform.binary in csi.hcl")
            }),
    }
}

/// A program by path (when it contains a slash) or by name on PATH.
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    let path_var = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[derive(Deserialize)]
struct VersionJson {
    terraform_version: String,
}

/// `terraform 1.9.0` or `tofu 1.6.2`, from `version -json` (same key in both).
pub async fn version(tf: &Terraform) -> anyhow::Result<String> {
    let output = Cmd::new(&tf.path)
        .args(["version", "-json"])
        .output()
        .await?;
    let parsed: VersionJson = serde_json::from_slice(&output.stdout)?;
    let name = tf
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(format!("{name} {}", parsed.terraform_version))
}
