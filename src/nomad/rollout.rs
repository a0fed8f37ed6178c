//! Rolling one service out through the API: parse, plan (with diff), register with
//! EnforceIndex, watch the evaluation and the deployment with blocking queries, and
//! revert to the previous stable version when the deployment fails or times out.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::api::{Deployment, JobPlanResponse};
use super::{NomadClient, NomadError};

/// How long one blocking query waits before csi checks its own deadline.
const BLOCKING_WAIT: Duration = Duration::from_secs(10);

/// A parsed, planned job: what `register` will send, and the index it was planned at.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    pub job_id: String,
    pub job: Value,
    pub source: String,
    pub plan: JobPlanResponse,
}

impl PlannedJob {
    pub fn changes(&self) -> bool {
        self.plan.diff.as_ref().is_some_and(|d| d.kind != "None")
    }
}

/// What the watch saw, for the progress line.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Progress {
    pub status: String,
    pub placed: i64,
    pub healthy: i64,
    pub unhealthy: i64,
    pub desired: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The deployment (or, without one, the allocations) succeeded.
    Succeeded { version: u64 },
    /// Nothing changed in Nomad.
    Unchanged,
    /// Failed; Nomad runs the previous stable version again.
    Reverted {
        version: u64,
        reverted_to: u64,
        reason: String,
    },
    /// Failed and not reverted (`--no-revert`, or no stable version to go back to).
    Failed { version: u64, reason: String },
}

pub async fn plan(
    client: &NomadClient,
    job_id: &str,
    rendered: &str,
) -> Result<PlannedJob, NomadError> {
    let hcl_v1 =
        super::jobfile::scan(rendered).is_ok_and(|s| s.mode == super::jobfile::ParseMode::Fallback);
    let job = client.parse_job(rendered, hcl_v1).await?;
    let plan = client.plan_job(job_id, &job).await?;
    Ok(PlannedJob {
        job_id: job_id.to_owned(),
        job,
        source: rendered.to_owned(),
        plan,
    })
}

/// Registers the planned job, only if nobody changed it since the plan. When the
/// answer is lost (connection error), the job is read back before anything else.
pub async fn register(
    client: &NomadClient,
    planned: &PlannedJob,
) -> Result<(u64, String), NomadError> {
    let sent = client
        .register_enforced(
            &planned.job_id,
            &planned.job,
            planned.plan.job_modify_index,
            Some(&planned.source),
        )
        .await;
    match sent {
        Ok(response) => {
            let version = current_version(client, &planned.job_id).await?;
            Ok((version, response.eval_id))
        }
        Err(NomadError::Unreachable { .. }) => {
            // Ambiguous: maybe registered. Never register again blindly: read the job.
            let (header, _) =
                client
                    .job(&planned.job_id)
                    .await?
                    .ok_or_else(|| NomadError::Status {
                        call: format!("register {}", planned.job_id),
                        status: 404,
                        body: "the job is not in Nomad after a lost register answer".into(),
                    })?;
            if header.job_modify_index != planned.plan.job_modify_index {
                Ok((header.version, String::new()))
            } else {
                Err(NomadError::Unreachable {
                    address: client.address().to_owned(),
                    call: format!("register {}", planned.job_id),
                    detail: "the answer was lost and the job is unchanged: it was not registered"
                        .into(),
                })
            }
        }
        Err(e) => Err(e),
    }
}

async fn current_version(client: &NomadClient, job_id: &str) -> Result<u64, NomadError> {
    Ok(client
        .job(job_id)
        .await?
        .map(|(h, _)| h.version)
        .unwrap_or_default())
}

/// Watches the rollout of `version` (registered with evaluation `eval_id`) until it
/// succeeds, fails or `timeout` passes.
pub async fn watch(
    client: &NomadClient,
    job_id: &str,
    version: u64,
    eval_id: &str,
    timeout: Duration,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Result<(), String>, NomadError> {
    let deadline = Instant::now() + timeout;
    let Some(mut current) =
        find_deployment(client, job_id, version, eval_id, deadline, &mut on_progress).await?
    else {
        return watch_allocations(client, job_id, version, deadline, &mut on_progress).await;
    };
    let mut index = 1;
    loop {
        let progress = progress_of(&current);
        on_progress(&progress);
        if current.is_terminal() {
            return Ok(if current.status == "successful" {
                Ok(())
            } else {
                Err(format!(
                    "deployment {}: {}",
                    current.status, current.status_description
                ))
            });
        }
        if Instant::now() > deadline {
            let pending = placement_failure(&client.job_evaluations(job_id).await?)
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            return Ok(Err(format!(
                "timed out after {} with the deployment still {}{pending}",
                humantime::format_duration(timeout),
                current.status
            )));
        }
        let answer = client
            .deployment(&current.id, index, BLOCKING_WAIT.min(remaining(deadline)))
            .await?;
        index = answer.index.max(index);
        current = answer.value;
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100))
}

/// Why the scheduler could not place what `eval_id` evaluated (e.g. "cpu exhausted"),
/// known as soon as the evaluation is done, long before a deployment would time out;
/// None when it placed everything, or has not finished within `timeout`.
pub async fn evaluated_placement_failure(
    client: &NomadClient,
    eval_id: &str,
    timeout: Duration,
) -> Result<Option<String>, NomadError> {
    let deadline = Instant::now() + timeout;
    let mut index = 1;
    loop {
        let answer = client
            .evaluation(eval_id, index, BLOCKING_WAIT.min(remaining(deadline)))
            .await?;
        if answer.value.is_terminal() {
            return Ok(placement_failure(std::slice::from_ref(&answer.value)));
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        index = answer.index.max(index);
    }
}

/// The deployment of `version`: the one the evaluation names, else the job's latest if
/// it is of that version; None for jobs without deployments.
async fn find_deployment(
    client: &NomadClient,
    job_id: &str,
    version: u64,
    eval_id: &str,
    deadline: Instant,
    on_progress: &mut impl FnMut(&Progress),
) -> Result<Option<Deployment>, NomadError> {
    if !eval_id.is_empty() {
        let mut index = 1;
        loop {
            let answer = client
                .evaluation(eval_id, index, BLOCKING_WAIT.min(remaining(deadline)))
                .await?;
            let eval = answer.value;
            if let Some(pending) = placement_failure(std::slice::from_ref(&eval)) {
                on_progress(&Progress {
                    status: format!("pending: {pending}"),
                    ..Progress::default()
                });
            }
            if !eval.deployment_id.is_empty() {
                return Ok(Some(
                    client
                        .deployment(&eval.deployment_id, 0, BLOCKING_WAIT)
                        .await?
                        .value,
                ));
            }
            if eval.is_terminal() || Instant::now() > deadline {
                break;
            }
            index = answer.index.max(index + 1);
        }
    }
    let latest = client
        .latest_deployment(job_id, 0, BLOCKING_WAIT)
        .await?
        .value;
    Ok(latest.filter(|d| d.job_version == version))
}

/// "cpu exhausted" from the newest evaluation that could not place everything.
pub fn placement_failure(evaluations: &[super::api::Evaluation]) -> Option<String> {
    // The blocked evaluation that waits for capacity carries no metrics: the one that
    // tried and failed to place does.
    let newest = evaluations
        .iter()
        .filter(|e| e.failed_tg_allocs.as_ref().is_some_and(|f| !f.is_empty()))
        .max_by_key(|e| e.create_index)?;
    let failed = newest.failed_tg_allocs.as_ref()?;
    let dims: Vec<String> = failed
        .iter()
        .flat_map(|(group, metric)| {
            metric
                .dimension_exhausted
                .iter()
                .flatten()
                .map(move |(dim, _)| format!("{group}: {dim} exhausted"))
        })
        .collect();
    (!dims.is_empty()).then(|| dims.join(", "))
}

async fn watch_allocations(
    client: &NomadClient,
    job_id: &str,
    version: u64,
    deadline: Instant,
    on_progress: &mut impl FnMut(&Progress),
) -> Result<Result<(), String>, NomadError> {
    let mut index = 1;
    loop {
        let answer = client.job_allocations(job_id, index, BLOCKING_WAIT).await?;
        let ours: Vec<_> = answer
            .value
            .iter()
            .filter(|a| a.job_version == version)
            .collect();
        let running = ours.iter().filter(|a| a.client_status == "running").count() as i64;
        let failed = ours.iter().filter(|a| a.client_status == "failed").count() as i64;
        on_progress(&Progress {
            status: "allocations".into(),
            placed: ours.len() as i64,
            healthy: running,
            unhealthy: failed,
            desired: ours.len() as i64,
        });
        if failed > 0 {
            return Ok(Err(format!("{failed} allocation(s) failed")));
        }
        if !ours.is_empty() && running == ours.len() as i64 {
            return Ok(Ok(()));
        }
        if Instant::now() > deadline {
            return Ok(Err("timed out waiting for the allocations to run".into()));
        }
        index = answer.index.max(index + 1);
    }
}

fn progress_of(deployment: &Deployment) -> Progress {
    let mut progress = Progress {
        status: deployment.status.clone(),
        ..Progress::default()
    };
    for state in deployment.task_groups.iter().flat_map(|m| m.values()) {
        progress.placed += state.placed_allocs;
        progress.healthy += state.healthy_allocs;
        progress.unhealthy += state.unhealthy_allocs;
        progress.desired += state.desired_total;
    }
    progress
}

/// Reverts `job_id` from `version` to the newest stable version before it.
pub async fn revert(
    client: &NomadClient,
    job_id: &str,
    version: u64,
) -> Result<Option<u64>, NomadError> {
    let versions = client.job_versions(job_id).await?;
    let Some(stable) = versions
        .iter()
        .filter(|v| v.stable && v.version < version)
        .max_by_key(|v| v.version)
    else {
        return Ok(None);
    };
    client.revert_job(job_id, stable.version, version).await?;
    Ok(Some(stable.version))
}
