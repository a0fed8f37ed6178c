//! Rolling the orchestrator services out: their job files patched to a new image tag,
//! rendered, planned and registered through the Nomad API, watched concurrently, and
//! reverted (in Nomad and in the files) when a rollout fails.

mod all;
mod display;
pub mod doctor;
mod drift;
mod files;
mod template;

use std::time::Duration;

use serde::Serialize;

use crate::error::{precondition, usage, CsiError};
use crate::nomad::deployment::{self, Outcome, PlannedJob, WatchOptions, Watched};
use crate::nomad::{jobfile, NomadClient, NomadError, NomadVersion};
use crate::settings::{NomadSettings, Service};

pub use all::{roll_out_all, show_plans, Rollouts};
pub use display::RolloutDisplay;
pub use drift::{drift_row, file_tag, running_tag, DriftRow};
pub use files::{patch_service_file, PatchedFile};
pub use template::render_for_nomad;

/// The services named on the command line (or all), in configuration order.
pub fn select_services(
    all: &[Service],
    names: &[String],
    every: bool,
) -> Result<Vec<Service>, CsiError> {
    if every {
        return Ok(all.to_vec());
    }
    if names.is_empty() {
        return Err(usage("name at least one service, or pass --all").with_hint(known(all)));
    }
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|s| &s.name == name || &s.job_id == name)
                .cloned()
                .ok_or_else(|| usage(format!("unknown service `{name}`")).with_hint(known(all)))
        })
        .collect()
}

fn known(all: &[Service]) -> String {
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    format!("known services: {}", names.join(", "))
}

/// A service ready to submit: its patched file and the plan Nomad made of it.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    pub file: PatchedFile,
    pub planned: PlannedJob,
}

/// Renders and plans every patched file concurrently. Nomad's version is read first:
/// a file only HCL1 accepts is refused, before anything changes, by a Nomad that has no
/// HCL1 parser any more.
pub async fn plan_all(
    client: &NomadClient,
    nomad: &NomadSettings,
    files: Vec<PatchedFile>,
) -> anyhow::Result<Vec<ServicePlan>> {
    let version = client.agent_version().await?;
    for file in &files {
        ensure_parsable(&file.service, &file.patched, version)?;
    }
    let mut planning = Vec::new();
    for file in files {
        let rendered = render_for_nomad(&file.service, &file.patched, nomad)?;
        planning.push(async move {
            let planned = deployment::plan(client, &file.service.job_id, &rendered)
                .await
                .map_err(|e| {
                    anyhow::Error::new(e).context(format!("planning {}", file.service.name))
                })?;
            Ok(ServicePlan { file, planned })
        });
    }
    futures::future::try_join_all(planning).await
}

/// Nomad 1.9+ parses HCL2 only: a job file strict HCL2 rejects (an HCL1 habit: two
/// attributes on one line, a quoted attribute name...) is refused naming the file, the
/// line and what HCL2 says. Older Nomads parse it as HCL1.
pub fn ensure_parsable(
    service: &Service,
    source: &str,
    version: NomadVersion,
) -> Result<(), CsiError> {
    if version.parses_hcl1() {
        return Ok(());
    }
    match jobfile::scan_with(source, jobfile::ParseMode::Strict) {
        Err(jobfile::JobFileError::Syntax { line, message }) => Err(precondition(format!(
            "{}: {}:{line}: Nomad {version} cannot parse this file: it has no HCL1 parser \
             (removed in 1.9) and HCL2 rejects line {line}: {message}; nothing was changed",
            service.name,
            service.job_file.display()
        ))
        .with_hint(
            "rewrite that construct in HCL2 (one attribute per line, unquoted attribute names, \
             each attribute once), or submit to a Nomad before 1.9",
        )),
        _ => Ok(()),
    }
}

/// What happened to one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceResult {
    pub service: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The job file was put back to its previous content.
    pub file_restored: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct RolloutOptions {
    pub timeout: Duration,
    pub revert: bool,
    /// Restarts a task of the new version may have before csi fails the deployment.
    pub restart_budget: u32,
}

impl RolloutOptions {
    pub fn new(nomad: &NomadSettings, timeout: Duration, revert: bool) -> RolloutOptions {
        RolloutOptions {
            timeout,
            revert,
            restart_budget: nomad.restart_budget,
        }
    }

    fn watch(self) -> WatchOptions {
        WatchOptions {
            timeout: self.timeout,
            restart_budget: self.restart_budget,
        }
    }
}

/// Registers, watches and (on failure) reverts one service. Registration errors
/// (a conflicting change by someone else, Nomad unreachable) are returned as errors.
pub async fn roll_out(
    client: &NomadClient,
    plan: &ServicePlan,
    options: RolloutOptions,
    display: &RolloutDisplay,
    on_submitted: impl FnOnce(u64, &str),
) -> Result<Outcome, NomadError> {
    let name = &plan.file.service.name;
    if !plan.planned.changes() {
        display.update(name, "unchanged");
        return Ok(Outcome::Unchanged);
    }
    display.update(name, "registering");
    let (version, eval_id) = deployment::register(client, &plan.planned).await?;
    on_submitted(version, &eval_id);
    watch_and_revert(
        client,
        &plan.planned.job_id,
        name,
        version,
        &eval_id,
        options,
        display,
    )
    .await
}

/// The second half of every rollout (patch-image, `--live`, upgrade, doctor): watch
/// `version` of the job; on failure csi fails the deployment, and reverts to the newest
/// stable version unless Nomad did (`auto_revert`) or `options.revert` is off; the
/// version running afterwards is watched too.
pub async fn watch_and_revert(
    client: &NomadClient,
    job_id: &str,
    name: &str,
    version: u64,
    eval_id: &str,
    options: RolloutOptions,
    display: &RolloutDisplay,
) -> Result<Outcome, NomadError> {
    let progress = |p: &deployment::DeploymentProgress| display.progress(name, p);
    let watched =
        deployment::watch(client, job_id, version, eval_id, options.watch(), progress).await?;
    let reason = match watched {
        Watched::Healthy => {
            display.update(name, &format!("version {version} healthy"));
            return Ok(Outcome::Succeeded { version });
        }
        Watched::RevertedByNomad { reason, to } => {
            return reverted_by_nomad(client, job_id, name, version, to, reason, options, display)
                .await;
        }
        Watched::Failed(reason) => reason,
    };
    display.update(name, &format!("failed: {reason}"));
    if !options.revert {
        return Ok(Outcome::Failed { version, reason });
    }
    let reverted_to = match deployment::revert(client, job_id, version).await {
        Ok(Some(to)) => to,
        Ok(None) => {
            return Ok(Outcome::Failed {
                version,
                reason: format!("{reason}; no earlier stable version to revert to"),
            })
        }
        // Nomad's auto-revert landed between csi's look and its revert: not a conflict.
        Err(conflict @ NomadError::Conflict { .. }) => {
            return match deployment::reverted_by_nomad(client, job_id, version).await? {
                Some(to) => {
                    reverted_by_nomad(client, job_id, name, version, to, reason, options, display)
                        .await
                }
                None => Err(conflict),
            };
        }
        Err(e) => return Err(e),
    };
    display.update(name, &format!("reverting to version {reverted_to}"));
    let new_version = deployment::current_version(client, job_id).await?;
    let back =
        deployment::watch(client, job_id, new_version, "", options.watch(), progress).await?;
    let reason = match back {
        Watched::Healthy => reason,
        Watched::Failed(failure)
        | Watched::RevertedByNomad {
            reason: failure, ..
        } => {
            format!("{reason}; the revert also failed: {failure}")
        }
    };
    display.update(name, &format!("reverted to version {reverted_to}"));
    Ok(Outcome::Reverted {
        version,
        reverted_to,
        reason,
    })
}

/// Nomad rolled the job back itself: watch what it wrote, and say so.
#[allow(clippy::too_many_arguments)]
async fn reverted_by_nomad(
    client: &NomadClient,
    job_id: &str,
    name: &str,
    version: u64,
    reverted_to: u64,
    reason: String,
    options: RolloutOptions,
    display: &RolloutDisplay,
) -> Result<Outcome, NomadError> {
    display.update(name, &format!("reverted by Nomad to version {reverted_to}"));
    let now = deployment::current_version(client, job_id).await?;
    let mut reason = reason;
    if now > version {
        let progress = |p: &deployment::DeploymentProgress| display.progress(name, p);
        if let Watched::Failed(failure)
        | Watched::RevertedByNomad {
            reason: failure, ..
        } = deployment::watch(client, job_id, now, "", options.watch(), progress).await?
        {
            reason = format!("{reason}; the revert also failed: {failure}");
        }
    }
    display.update(name, &format!("reverted by Nomad to version {reverted_to}"));
    Ok(Outcome::RevertedByNomad {
        version,
        reverted_to,
        reason,
    })
}
