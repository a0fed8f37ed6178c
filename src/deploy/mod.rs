//! Rolling the orchestrator services out: their job files patched to a new image tag,
//! rendered, planned and registered through the Nomad API, watched concurrently, and
//! reverted (in Nomad and in the files) when a rollout fails.

mod all;
mod display;
mod drift;
mod files;
mod template;

use std::time::Duration;

use serde::Serialize;

use crate::error::{usage, CsiError};
use crate::nomad::rollout::{self, Outcome, PlannedJob};
use crate::nomad::{NomadClient, NomadError};
use crate::settings::{NomadSettings, Service};

pub use all::{roll_out_all, show_plans};
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

/// Renders and plans every patched file concurrently.
pub async fn plan_all(
    client: &NomadClient,
    nomad: &NomadSettings,
    files: Vec<PatchedFile>,
) -> anyhow::Result<Vec<ServicePlan>> {
    let mut planning = Vec::new();
    for file in files {
        let rendered = render_for_nomad(&file.service, &file.patched, nomad)?;
        planning.push(async move {
            let planned = rollout::plan(client, &file.service.job_id, &rendered)
                .await
                .map_err(|e| {
                    anyhow::Error::new(e).context(format!("planning {}", file.service.name))
                })?;
            Ok(ServicePlan { file, planned })
        });
    }
    futures::future::try_join_all(planning).await
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
    let (version, eval_id) = rollout::register(client, &plan.planned).await?;
    on_submitted(version, &eval_id);
    let job_id = &plan.planned.job_id;
    let watched = rollout::watch(client, job_id, version, &eval_id, options.timeout, |p| {
        display.progress(name, p)
    })
    .await?;
    let reason = match watched {
        Ok(()) => {
            display.update(name, &format!("version {version} healthy"));
            return Ok(Outcome::Succeeded { version });
        }
        Err(reason) => reason,
    };
    display.update(name, &format!("failed: {reason}"));
    if !options.revert {
        return Ok(Outcome::Failed { version, reason });
    }
    let Some(reverted_to) = rollout::revert(client, job_id, version).await? else {
        return Ok(Outcome::Failed {
            version,
            reason: format!("{reason}; no earlier stable version to revert to"),
        });
    };
    display.update(name, &format!("reverting to version {reverted_to}"));
    let new_version = client
        .job(job_id)
        .await?
        .map(|(h, _)| h.version)
        .unwrap_or_default();
    let back = rollout::watch(client, job_id, new_version, "", options.timeout, |p| {
        display.progress(name, p)
    })
    .await?;
    let reason = match back {
        Ok(()) => reason,
        Err(revert_failure) => format!("{reason}; the revert also failed: {revert_failure}"),
    };
    display.update(name, &format!("reverted to version {reverted_to}"));
    Ok(Outcome::Reverted {
        version,
        reverted_to,
        reason,
    })
}
