//! Rolling one service out through the API: parse, plan (with diff), register with
//! EnforceIndex, watch the evaluation and the deployment with blocking queries, and
//! revert to the previous stable version when the deployment fails or times out.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use super::api::{AllocationListStub, Deployment, JobPlanResponse};
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
pub struct DeploymentProgress {
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
    /// Failed; Nomad itself rolled the job back (`auto_revert`) to stable `reverted_to`.
    RevertedByNomad {
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

/// The job's version as Nomad has it now; a job that vanished is an error (never
/// "version 0").
pub async fn current_version(client: &NomadClient, job_id: &str) -> Result<u64, NomadError> {
    client
        .job(job_id)
        .await?
        .map(|(h, _)| h.version)
        .ok_or_else(|| NomadError::Status {
            call: format!("GET /v1/job/{job_id}"),
            status: 404,
            body: "the job is no longer in Nomad (stopped and purged meanwhile?)".into(),
        })
}

/// How long csi watches, and how many restarts a task of the new version may have
/// before csi calls the rollout failed (without waiting for Nomad's progress deadline).
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    pub timeout: Duration,
    pub restart_budget: u32,
}

/// How a watched rollout ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    /// The deployment succeeded (or, without one, every allocation runs).
    Healthy,
    /// Failed, timed out, or csi failed it; the job still holds the new version.
    Failed(String),
    /// The deployment failed and Nomad reverted the job itself (`auto_revert`): the
    /// spec of stable version `to` runs again, as a new version.
    RevertedByNomad { reason: String, to: u64 },
}

/// Watches the rollout of `version` (registered with evaluation `eval_id`) until it
/// succeeds, fails or `timeout` passes. The new allocations are watched too: one that
/// fails, or a task restarted more than `restart_budget` times, makes csi fail the
/// deployment at once (`/v1/deployment/fail/:id`) instead of waiting for Nomad's
/// progress deadline (10 minutes by default), so a broken image is caught in seconds.
pub async fn watch(
    client: &NomadClient,
    job_id: &str,
    version: u64,
    eval_id: &str,
    options: WatchOptions,
    mut on_progress: impl FnMut(&DeploymentProgress),
) -> Result<Watched, NomadError> {
    let deadline = Instant::now() + options.timeout;
    let Some(mut current) =
        find_deployment(client, job_id, version, eval_id, deadline, &mut on_progress).await?
    else {
        return watch_allocations(client, job_id, version, deadline, options, &mut on_progress)
            .await;
    };
    let (mut dep_index, mut alloc_index) = (1, 1);
    loop {
        on_progress(&progress_of(&current));
        if current.is_terminal() {
            return Ok(ended(&current));
        }
        let allocs = client
            .deployment_allocations(&current.id, 0, BLOCKING_WAIT)
            .await?;
        alloc_index = alloc_index.max(allocs.index);
        let ours: Vec<_> = allocs
            .value
            .iter()
            .filter(|a| a.job_version == version)
            .collect();
        if let Some(bad) = over_budget(&ours, options.restart_budget) {
            return fail(client, &current.id, bad).await;
        }
        if Instant::now() > deadline {
            let pending = placement_failure(&client.job_evaluations(job_id).await?)
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            let reason = format!(
                "timed out after {} with the deployment still {}{pending}",
                crate::output::human_duration(options.timeout),
                current.status
            );
            return fail(client, &current.id, reason).await;
        }
        let wait = BLOCKING_WAIT.min(remaining(deadline));
        tokio::select! {
            answer = client.deployment(&current.id, dep_index, wait) => {
                let answer = answer?;
                dep_index = answer.index.max(dep_index);
                current = answer.value;
            }
            answer = client.deployment_allocations(&current.id, alloc_index, wait) => {
                alloc_index = answer?.index.max(alloc_index);
                current = client.deployment(&current.id, 0, wait).await?.value;
            }
        }
    }
}

/// The outcome a terminal deployment says: Nomad's own rollback is named in its
/// description (deploymentwatcher `DeploymentStatusDescriptionRollback`: "... - rolling
/// back to job version N").
fn ended(deployment: &Deployment) -> Watched {
    if deployment.status == "successful" {
        return Watched::Healthy;
    }
    let description = &deployment.status_description;
    let reason = format!("deployment {}: {description}", deployment.status);
    match rolled_back_to(description) {
        Some(to) => Watched::RevertedByNomad { reason, to },
        None => Watched::Failed(reason),
    }
}

fn rolled_back_to(description: &str) -> Option<u64> {
    let (_, rest) = description.split_once("rolling back to job version ")?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The first allocation of the new version that failed, whose image cannot be pulled,
/// or whose task restarted more than `budget` times, described.
fn over_budget(ours: &[&AllocationListStub], budget: u32) -> Option<String> {
    ours.iter().find_map(|a| {
        let (restarts, why) = a.restarts();
        if let Some(missing) = a.unpullable_image() {
            Some(format!(
                "allocation {}: the image cannot be pulled ({missing})",
                short(&a.id)
            ))
        } else if a.client_status == "failed" {
            Some(format!("allocation {} failed ({why})", short(&a.id)))
        } else if restarts > u64::from(budget) {
            Some(format!(
                "allocation {}: restarted {restarts} times, more than the budget of {budget} ({why})",
                short(&a.id)
            ))
        } else {
            None
        }
    })
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// csi fails the deployment itself; Nomad reverts the job when the group has
/// `auto_revert` (`RevertedJobVersion`). A deployment that ended meanwhile speaks
/// for itself.
async fn fail(
    client: &NomadClient,
    deployment_id: &str,
    reason: String,
) -> Result<Watched, NomadError> {
    match client.fail_deployment(deployment_id).await {
        Ok(answer) => Ok(match answer.reverted_job_version {
            Some(to) => Watched::RevertedByNomad { reason, to },
            None => Watched::Failed(reason),
        }),
        Err(NomadError::Status { .. }) => {
            let now = client
                .deployment(deployment_id, 0, BLOCKING_WAIT)
                .await?
                .value;
            Ok(match ended(&now) {
                Watched::Healthy => Watched::Failed(reason),
                Watched::RevertedByNomad { to, .. } => Watched::RevertedByNomad { reason, to },
                Watched::Failed(_) => Watched::Failed(reason),
            })
        }
        Err(e) => Err(e),
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
    on_progress: &mut impl FnMut(&DeploymentProgress),
) -> Result<Option<Deployment>, NomadError> {
    if !eval_id.is_empty() {
        let mut index = 1;
        loop {
            let answer = client
                .evaluation(eval_id, index, BLOCKING_WAIT.min(remaining(deadline)))
                .await?;
            let eval = answer.value;
            if let Some(pending) = placement_failure(std::slice::from_ref(&eval)) {
                on_progress(&DeploymentProgress {
                    status: format!("pending: {pending}"),
                    ..DeploymentProgress::default()
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
    options: WatchOptions,
    on_progress: &mut impl FnMut(&DeploymentProgress),
) -> Result<Watched, NomadError> {
    let mut index = 1;
    loop {
        let answer = client
            .job_allocations(job_id, index, BLOCKING_WAIT.min(remaining(deadline)))
            .await?;
        let ours: Vec<_> = answer
            .value
            .iter()
            .filter(|a| a.job_version == version && a.desired_status == "run")
            .collect();
        let running = ours.iter().filter(|a| a.client_status == "running").count() as i64;
        let failed = ours.iter().filter(|a| a.client_status == "failed").count() as i64;
        on_progress(&DeploymentProgress {
            status: "allocations".into(),
            placed: ours.len() as i64,
            healthy: running,
            unhealthy: failed,
            desired: ours.len() as i64,
        });
        if let Some(bad) = over_budget(&ours, options.restart_budget) {
            return Ok(Watched::Failed(bad));
        }
        if !ours.is_empty() && running == ours.len() as i64 {
            return Ok(Watched::Healthy);
        }
        if Instant::now() > deadline {
            return Ok(Watched::Failed(
                "timed out waiting for the allocations to run".into(),
            ));
        }
        index = answer.index.max(index + 1);
    }
}

fn progress_of(deployment: &Deployment) -> DeploymentProgress {
    let mut progress = DeploymentProgress {
        status: deployment.status.clone(),
        ..DeploymentProgress::default()
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

/// Whether Nomad rolled `version` back itself: the latest deployment of that version
/// failed "... - rolling back to job version N". N, if so.
pub async fn reverted_by_nomad(
    client: &NomadClient,
    job_id: &str,
    version: u64,
) -> Result<Option<u64>, NomadError> {
    let deployments: Vec<Deployment> = client.job_deployments(job_id).await?;
    Ok(deployments
        .iter()
        .filter(|d| d.job_version == version && d.status == "failed")
        .max_by_key(|d| d.create_index)
        .and_then(|d| rolled_back_to(&d.status_description)))
}
