//! Driving a terraform tree: init, plan to a private file, show it, apply exactly
//! that file, read the state. Plans hold the secrets var file's values in clear: they
//! live in a 0700 temporary directory, are 0600, and are deleted after use, also when
//! csi exits on a signal.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::binary::Terraform;
use super::plan::PlanJson;
use super::ui::{self, Diagnostic, UiEvent};
use crate::error::{failed, precondition, CsiError, Kind};
use crate::interrupt::{self, CleanupGuard};
use crate::process::Cmd;
use crate::process::ProcessError;
use crate::settings::{Settings, StateLocation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Destroy the target (`plan -destroy`).
    Stop,
    /// Create the target.
    Start,
}

/// The environment's tree and how csi runs terraform on it.
#[derive(Debug, Clone)]
pub struct Tree {
    pub tf: Terraform,
    pub dir: PathBuf,
    pub target: String,
    /// csi's name of the environment: recorded in the state, checked before planning.
    pub env_name: String,
    pub state: StateLocation,
    data_dir: PathBuf,
    configuration_var_file: PathBuf,
    secrets_var_file: PathBuf,
    parallelism: u32,
    lock_timeout: String,
}

/// A saved plan in its private directory; deleted when dropped.
pub struct SavedPlan {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
    _on_interrupt: CleanupGuard,
}

/// What an apply did, from terraform's own events.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ApplyReport {
    pub completed: Vec<String>,
    pub errored: Vec<String>,
    pub errors: Vec<String>,
}

impl Tree {
    pub fn new(tf: Terraform, settings: &Settings) -> Self {
        let env_name = settings.env_name.clone();
        let settings = &settings.terraform;
        Tree {
            tf,
            dir: settings.dir.clone(),
            target: settings.target.clone(),
            env_name,
            state: settings.state.clone(),
            data_dir: settings.data_dir.clone(),
            configuration_var_file: settings.configuration_var_file.clone(),
            secrets_var_file: settings.secrets_var_file.clone(),
            parallelism: settings.parallelism,
            lock_timeout: settings.lock_timeout.clone(),
        }
    }

    /// terraform in the tree, with this environment's own working data directory: two
    /// environments on one tree never share an initialised backend.
    fn command(&self) -> Cmd {
        self.tf
            .command(&self.dir)
            .env("TF_DATA_DIR", self.data_dir.as_os_str())
    }

    /// `init` with this environment's backend: its local state file or its remote
    /// backend's configuration file. A failure shows terraform's whole message.
    pub async fn init(&self) -> anyhow::Result<()> {
        fs_err::create_dir_all(&self.data_dir)
            .map_err(|e| failed(format!("cannot create terraform's data directory: {e}")))?;
        let mut cmd = self.command().args(["init", "-input=false", "-no-color"]);
        match &self.state {
            StateLocation::LocalFile(path) => {
                if let Some(parent) = path.parent() {
                    fs_err::create_dir_all(parent).map_err(|e| {
                        failed(format!("cannot create the state file's directory: {e}"))
                    })?;
                }
                cmd = cmd.arg(format!("-backend-config=path={}", path.display()));
            }
            StateLocation::BackendConfig(file) => {
                cmd = cmd.arg(format!("-backend-config={}", file.display()));
            }
            StateLocation::TreeDefault => {}
        }
        let output = cmd.output_any_status().await.map_err(|e| {
            failed(format!(
                "terraform init in {} failed: {e}",
                self.dir.display()
            ))
        })?;
        if output.status.success() {
            return Ok(());
        }
        Err(init_failure(&self.dir, &output.stderr))
    }

    /// Plans to a private file, streaming terraform's events to `on_event`.
    pub async fn plan(
        &self,
        direction: Direction,
        packages_tag: &str,
        mut on_event: impl FnMut(&UiEvent),
    ) -> anyhow::Result<SavedPlan> {
        let saved = private_plan_file()?;
        let mut cmd = self.command().args(["plan", "-input=false", "-json"]);
        if direction == Direction::Stop {
            cmd = cmd.arg("-destroy");
        }
        // Var files by path only: their values never reach a command line.
        cmd = cmd.args([
            format!("-target={}", self.target),
            format!("-var-file={}", self.configuration_var_file.display()),
            format!("-var-file={}", self.secrets_var_file.display()),
            format!("-var=csi_packages_tag={packages_tag}"),
            format!("-var=csi_environment={}", self.env_name),
            format!("-lock-timeout={}", self.lock_timeout),
            format!("-parallelism={}", self.parallelism),
            format!("-out={}", saved.path.display()),
        ]);
        let mut diagnostics = Vec::new();
        let result = cmd
            .stream(
                |line| {
                    let event = ui::parse(line);
                    if let UiEvent::Diagnostic(d) = &event {
                        diagnostics.push(d.clone());
                    }
                    on_event(&event);
                },
                |_| {},
            )
            .await;
        match result {
            Ok(_) => {
                restrict(&saved.path)?;
                Ok(saved)
            }
            Err(e) => Err(terraform_failure("plan", e, &diagnostics, &self.dir).into()),
        }
    }

    /// `show -json` of the saved plan. The document holds secrets; only the fields
    /// csi checks are kept.
    pub async fn show(&self, plan: &SavedPlan) -> anyhow::Result<PlanJson> {
        let output = self
            .command()
            .args(["show", "-json", "-no-color"])
            .arg(&plan.path)
            .output()
            .await
            .map_err(|e| failed(format!("terraform show of the saved plan failed: {e}")))?;
        serde_json::from_slice(&output.stdout).map_err(|e| {
            failed(format!("terraform show -json gave an unreadable plan: {e}")).into()
        })
    }

    /// Applies exactly the saved plan (its path last). A saved plan does not keep
    /// `-parallelism`: it is given again, as the scripts gave it to apply.
    pub async fn apply(
        &self,
        plan: &SavedPlan,
        mut on_event: impl FnMut(&UiEvent),
    ) -> Result<ApplyReport, (ApplyReport, anyhow::Error)> {
        let cmd = self
            .command()
            .args(["apply", "-input=false", "-json"])
            .arg(format!("-lock-timeout={}", self.lock_timeout))
            .arg(format!("-parallelism={}", self.parallelism))
            .arg(&plan.path);
        let mut report = ApplyReport::default();
        let mut diagnostics = Vec::new();
        let result = cmd
            .stream(
                |line| {
                    let event = ui::parse(line);
                    match &event {
                        UiEvent::ApplyComplete { address, .. } => {
                            report.completed.push(address.clone())
                        }
                        UiEvent::ApplyErrored { address, .. } => {
                            report.errored.push(address.clone())
                        }
                        UiEvent::Diagnostic(d) => {
                            if d.is_error() {
                                report.errors.push(d.one_line());
                            }
                            diagnostics.push(d.clone());
                        }
                        _ => {}
                    }
                    on_event(&event);
                },
                |_| {},
            )
            .await;
        match result {
            Ok(_) => Ok(report),
            Err(e) => {
                let error = terraform_failure("apply", e, &diagnostics, &self.dir);
                Err((report, error.into()))
            }
        }
    }

    /// Every resource address in the state (an empty list when there is no state).
    pub async fn state_addresses(&self) -> anyhow::Result<Vec<String>> {
        let output = self
            .command()
            .args(["show", "-json", "-no-color"])
            .output()
            .await
            .map_err(|e| failed(format!("reading the terraform state failed: {e}")))?;
        let state: StateJson = serde_json::from_slice(&output.stdout).map_err(|e| {
            failed(format!(
                "terraform show -json gave an unreadable state: {e}"
            ))
        })?;
        let mut addresses = Vec::new();
        if let Some(root) = state.values.and_then(|v| v.root_module) {
            root.collect(&mut addresses);
        }
        Ok(addresses)
    }

    /// The raw state document (`state pull`), from whatever backend the tree uses;
    /// empty when there is no state. Unlike `show -json` it starts no provider plugin
    /// (show loads every provider's schema to render the state). The document holds
    /// resource attributes, secrets included: callers keep only what they need.
    pub async fn pull_state(&self) -> anyhow::Result<Vec<u8>> {
        let output = self
            .command()
            .args(["state", "pull"])
            .output()
            .await
            .map_err(|e| failed(format!("reading the terraform state failed: {e}")))?;
        Ok(output.stdout)
    }

    /// Addresses in the state that lie under the target.
    pub async fn target_addresses(&self) -> anyhow::Result<Vec<String>> {
        let all = self.state_addresses().await?;
        Ok(all
            .into_iter()
            .filter(|a| super::plan::within(None, a, &self.target))
            .collect())
    }

    /// Whether this environment's data directory has an initialised backend.
    pub fn is_initialised(&self) -> bool {
        self.data_dir.join("terraform.tfstate").is_file()
    }

    /// Where the state is, in words, for messages.
    pub fn state_description(&self) -> String {
        match &self.state {
            StateLocation::LocalFile(path) => format!("the local state {}", path.display()),
            StateLocation::BackendConfig(file) => {
                format!("the backend configured by {}", file.display())
            }
            StateLocation::TreeDefault => format!("the backend of {}", self.dir.display()),
        }
    }
}

#[derive(Deserialize)]
struct StateJson {
    #[serde(default)]
    values: Option<StateValues>,
}

#[derive(Deserialize)]
struct StateValues {
    #[serde(default)]
    root_module: Option<StateModule>,
}

#[derive(Deserialize)]
struct StateModule {
    #[serde(default)]
    resources: Vec<StateResource>,
    #[serde(default)]
    child_modules: Vec<StateModule>,
}

#[derive(Deserialize)]
struct StateResource {
    address: String,
}

impl StateModule {
    fn collect(self, into: &mut Vec<String>) {
        into.extend(self.resources.into_iter().map(|r| r.address));
        for child in self.child_modules {
            child.collect(into);
        }
    }
}

fn private_plan_file() -> Result<SavedPlan, CsiError> {
    let dir = tempfile::Builder::new()
        .prefix("csi-plan-")
        .tempdir()
        .map_err(|e| {
            failed(format!(
                "cannot create a private directory for the plan: {e}"
            ))
        })?;
    restrict_dir(dir.path())?;
    let path = dir.path().join("csi.tfplan");
    let remove = dir.path().to_path_buf();
    Ok(SavedPlan {
        path,
        _dir: dir,
        _on_interrupt: interrupt::on_interrupt(move || {
            let _ = fs_err::remove_dir_all(&remove);
        }),
    })
}

fn restrict_dir(path: &Path) -> Result<(), CsiError> {
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| failed(format!("cannot make the plan directory private: {e}")))
}

fn restrict(path: &Path) -> Result<(), CsiError> {
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| failed(format!("cannot make the plan file private: {e}")))
}

/// Turns a failed terraform run into an error the operator can act on.
fn terraform_failure(
    step: &str,
    error: ProcessError,
    diagnostics: &[Diagnostic],
    dir: &Path,
) -> CsiError {
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    if let ProcessError::Interrupted { signal, .. } = &error {
        return CsiError::new(
            Kind::Interrupted,
            format!("terraform {step} was interrupted by {signal} and stopped gracefully"),
        );
    }
    if let Some(lock) = errors
        .iter()
        .find(|d| d.summary.contains("Error acquiring the state lock"))
    {
        return precondition(format!(
            "the terraform state is locked: {}",
            lock_holder(&lock.detail)
        ))
        .with_hint(format!(
            "wait for that operation; if it is dead, run `force-unlock <ID>` in {}",
            dir.display()
        ));
    }
    if errors.iter().any(|d| {
        d.summary.contains("Saved plan is stale")
            || d.summary.contains("does not match the given state")
    }) {
        return precondition(
            "the saved plan is stale: the state changed after it was made, so nothing was applied",
        )
        .with_hint("run the command again to make, review and confirm a fresh plan");
    }
    let first = errors
        .first()
        .map(|d| d.one_line())
        .unwrap_or_else(|| error.to_string());
    let more = if errors.len() > 1 {
        format!(" (and {} more errors)", errors.len() - 1)
    } else {
        String::new()
    };
    failed(format!("terraform {step} failed: {first}{more}"))
        .with_hint("run with -v to see terraform's messages")
}

/// An init failure: a one-line summary (terraform's first error) with what to do, and
/// terraform's whole message (without its box drawing) as the cause, which the
/// printer shows in full.
fn init_failure(dir: &Path, stderr: &str) -> anyhow::Error {
    let message: Vec<&str> = stderr
        .lines()
        .map(|l| l.trim_start_matches(['│', '╷', '╵', ' ']).trim_end())
        .filter(|l| !l.is_empty())
        .collect();
    let first = message
        .iter()
        .find(|l| l.starts_with("Error:"))
        .or(message.last())
        .copied()
        .unwrap_or("no message");
    let summary = failed(format!(
        "terraform init in {} failed: {first}",
        dir.display()
    ));
    let summary = if stderr.contains("Backend configuration changed")
        || stderr.contains("-migrate-state")
    {
        summary.with_hint(
            "the backend differs from the one this environment was initialised with: move the state with `tofu init -migrate-state` (README, \"Terraform state\")",
        )
    } else {
        summary.with_hint("fix what terraform says above, then run the command again")
    };
    anyhow::Error::msg(format!("terraform said:\n    {}", message.join("\n    "))).context(summary)
}

/// `Who: alice@tf-toto, Operation: OperationTypeApply, Created: ..., ID: ...` from the
/// diagnostic's "Lock Info" block.
fn lock_holder(detail: &str) -> String {
    let wanted = ["ID", "Who", "Operation", "Created"];
    let fields: Vec<String> = detail
        .lines()
        .filter_map(|l| l.trim().split_once(':'))
        .filter(|(k, _)| wanted.contains(&k.trim()))
        .map(|(k, v)| format!("{}: {}", k.trim(), v.trim()))
        .collect();
    if fields.is_empty() {
        "held by another terraform run".into()
    } else {
        fields.join(", ")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lock_holder_is_read_from_lock_info() {
        let detail = "resource temporarily unavailable\nLock Info:\n  ID:        3f1c\n  Path:      terraform.tfstate\n  Operation: OperationTypeApply\n  Who:       alice@tf-toto\n  Version:   1.6.2\n  Created:   2026-11-22 10:00:00 UTC\n  Info:\n";
        assert_eq!(
            super::lock_holder(detail),
            "ID: 3f1c, Operation: OperationTypeApply, Who: alice@tf-toto, Created: 2026-11-22 10:00:00 UTC"
        );
    }
}
