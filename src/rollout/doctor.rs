//! Services that are missing from Nomad (garbage-collected after a stop), or pending
//! because they cannot be placed (with the exhausted dimension), and their repair:
//! missing ones resubmitted from their files, pending ones with their CPU lowered step
//! by step down to a floor on the live job (with `persist`: in the file too), then
//! watched as every rollout is.

use serde_json::{json, Value};

use super::{ensure_parsable, render_for_nomad, watch_and_revert, RolloutDisplay, RolloutOptions};
use crate::journal::Operation;
use crate::nomad::deployment::{self, Outcome};
use crate::nomad::{jobfile, NomadClient};
use crate::settings::{Service, Settings};

#[derive(Debug, Clone)]
pub enum Problem {
    Missing,
    Pending { reason: String, cpu_exhausted: bool },
}

/// Repairs every problem: missing services are registered in configuration order (the
/// scheduler places them in that order, as the start script did), then every fix is
/// watched at once, as patch-image rolls out: a start that lost all six waits for one
/// deployment, not six in a row.
pub async fn repair<'a>(
    client: &NomadClient,
    settings: &Settings,
    problems: &'a [(Service, Problem)],
    persist: bool,
    display: &RolloutDisplay,
    op: &Operation,
) -> Vec<(&'a Service, anyhow::Result<String>)> {
    let mut submissions = Vec::new();
    for (service, problem) in problems {
        submissions.push(match problem {
            Problem::Missing => Some(submit(client, settings, service).await),
            Problem::Pending { .. } => None,
        });
    }
    let fixes =
        problems
            .iter()
            .zip(submissions)
            .map(|((service, problem), submitted)| async move {
                let fixed = match (problem, submitted) {
                    (_, Some(Err(e))) => Err(e),
                    (_, Some(Ok(submitted))) => {
                        resubmitted(client, settings, service, submitted, persist, display, op)
                            .await
                    }
                    (
                        Problem::Pending {
                            cpu_exhausted: true,
                            ..
                        },
                        None,
                    ) => lower_cpu(client, settings, service, persist, display, op).await,
                    (Problem::Pending { reason, .. }, None) => {
                        Err(anyhow::anyhow!("no automatic fix for: {reason}"))
                    }
                    (Problem::Missing, None) => Err(anyhow::anyhow!("not submitted")),
                };
                (service, fixed)
            });
    futures::future::join_all(fixes).await
}

impl Problem {
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::Pending { .. } => "pending",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Problem::Missing => "missing from Nomad (garbage-collected after a stop?)".to_owned(),
            Problem::Pending { reason, .. } => format!("pending: {reason}"),
        }
    }
}

/// What is wrong with `service` in Nomad, if anything.
pub async fn diagnose(client: &NomadClient, service: &Service) -> anyhow::Result<Option<Problem>> {
    let Some((header, _)) = client.job(&service.job_id).await? else {
        return Ok(Some(Problem::Missing));
    };
    if header.stop {
        return Ok(Some(Problem::Missing));
    }
    let evaluations = client.job_evaluations(&service.job_id).await?;
    let blocked = evaluations.iter().any(|e| e.status == "blocked");
    if header.status != "pending" && !blocked {
        return Ok(None);
    }
    let reason = deployment::placement_failure(&evaluations).unwrap_or_else(|| {
        if blocked {
            "blocked evaluation".into()
        } else {
            "not placed yet".into()
        }
    });
    Ok(Some(Problem::Pending {
        cpu_exhausted: reason.contains("cpu"),
        reason,
    }))
}

/// Registers a missing service from its file: (version, evaluation).
async fn submit(
    client: &NomadClient,
    settings: &Settings,
    service: &Service,
) -> anyhow::Result<(u64, String)> {
    let text = fs_err::read_to_string(&service.job_file)?;
    ensure_parsable(service, &text, client.agent_version().await?)?;
    let rendered = render_for_nomad(service, &text, &settings.nomad)?;
    let planned = deployment::plan(client, &service.job_id, &rendered).await?;
    Ok(deployment::register(client, &planned).await?)
}

/// Watches a resubmitted service come up, or lowers its CPU when it cannot be placed.
async fn resubmitted(
    client: &NomadClient,
    settings: &Settings,
    service: &Service,
    (version, eval): (u64, String),
    persist: bool,
    display: &RolloutDisplay,
    op: &Operation,
) -> anyhow::Result<String> {
    let resubmitted = format!(
        "resubmitted from {} (version {version})",
        service.job_file.display()
    );
    // A service too big for the new node would only time out: go on to the CPU fix.
    if cpu_starved(client, settings, &eval).await? {
        display.update(&service.name, "pending: cpu exhausted");
        let lowered = lower_cpu(client, settings, service, persist, display, op).await?;
        return Ok(format!("{resubmitted}; {lowered}"));
    }
    watch(client, settings, service, version, &eval, display).await?;
    Ok(resubmitted)
}

/// Whether the scheduler failed to place what `eval` evaluated for want of CPU.
async fn cpu_starved(
    client: &NomadClient,
    settings: &Settings,
    eval: &str,
) -> anyhow::Result<bool> {
    let failure =
        deployment::evaluated_placement_failure(client, eval, settings.nomad.deploy_timeout)
            .await?;
    Ok(failure.is_some_and(|reason| reason.contains("cpu")))
}

/// Lowers the live job's CPU by `nomad.cpu_step` until the scheduler places it or the
/// floor is reached, then watches it run.
async fn lower_cpu(
    client: &NomadClient,
    settings: &Settings,
    service: &Service,
    persist: bool,
    display: &RolloutDisplay,
    op: &Operation,
) -> anyhow::Result<String> {
    let mut original = None;
    let (to, eval) = loop {
        let (header, job) = client
            .job(&service.job_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{} disappeared from Nomad", service.name))?;
        let (job, from, to) = lowered(job, settings.nomad.cpu_step, settings.nomad.cpu_floor)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "still pending with its CPU at the floor ({} MHz)",
                    settings.nomad.cpu_floor
                )
            })?;
        let response = client
            .register_enforced(&service.job_id, &job, header.job_modify_index, None)
            .await?;
        op.step(
            "cpu_lowered",
            json!({"service": service.name, "from": from, "to": to}),
        )?;
        original.get_or_insert(from);
        if !cpu_starved(client, settings, &response.eval_id).await? {
            break (to, response.eval_id);
        }
        display.update(&service.name, &format!("still pending at {to} MHz"));
    };
    if persist {
        let text = fs_err::read_to_string(&service.job_file)?;
        let patched = jobfile::set_task_cpu(&text, None, to)?;
        jobfile::write_atomically(&service.job_file, &patched.text)?;
    }
    let version = deployment::current_version(client, &service.job_id).await?;
    watch(client, settings, service, version, &eval, display).await?;
    let file = if persist {
        " (and in the job file)"
    } else {
        " (live job only; --persist edits the file)"
    };
    let from = original.unwrap_or(to);
    Ok(format!("CPU lowered from {from} to {to} MHz{file}, placed"))
}

/// The job with every task's CPU lowered by `step`, not below `floor`; None when no
/// task can go lower.
fn lowered(mut job: Value, step: u32, floor: u32) -> Option<(Value, u32, u32)> {
    let mut change = None;
    for group in job["TaskGroups"].as_array_mut().into_iter().flatten() {
        for task in group["Tasks"].as_array_mut().into_iter().flatten() {
            let Some(cpu) = task["Resources"]["CPU"].as_u64() else {
                continue;
            };
            let cpu = cpu as u32;
            let new = cpu.saturating_sub(step).max(floor);
            if new < cpu {
                task["Resources"]["CPU"] = json!(new);
                change = Some((cpu, new));
            }
        }
    }
    change.map(|(from, to)| (job, from, to))
}

/// Watches the fixed service come up, through the same routine as every rollout (a
/// failure is reverted to the newest stable version when there is one).
async fn watch(
    client: &NomadClient,
    settings: &Settings,
    service: &Service,
    version: u64,
    eval: &str,
    display: &RolloutDisplay,
) -> anyhow::Result<()> {
    let options = RolloutOptions::new(&settings.nomad, settings.nomad.deploy_timeout, true);
    let outcome = watch_and_revert(
        client,
        &service.job_id,
        &service.name,
        version,
        eval,
        options,
        display,
    )
    .await?;
    match outcome {
        Outcome::Succeeded { .. } | Outcome::Unchanged => Ok(()),
        Outcome::Reverted {
            reason,
            reverted_to,
            ..
        } => anyhow::bail!("{reason}; reverted to version {reverted_to}"),
        Outcome::RevertedByNomad {
            reason,
            reverted_to,
            ..
        } => anyhow::bail!("{reason}, reverted by Nomad to version {reverted_to}"),
        Outcome::Failed { reason, .. } => anyhow::bail!(reason),
    }
}
