//! The rollout step: every service's file rewritten to the new tag, planned and
//! registered with EnforceIndex, watched together (as patch-image does), then checked
//! in Nomad. When any service fails, every service goes back to its previous version.

use serde_json::{json, Value};

use super::execute::UpgradeRunner;
use super::progress::{self, State, UpgradeRecord};
use super::rollback::{self, RolledBack};
use crate::error::{verification, CsiError, Kind};
use crate::journal::Operation;
use crate::nomad::deployment::Outcome;
use crate::nomad::NomadError;
use crate::rollout::{self, PatchedFile, RolloutOptions, ServiceResult};

pub async fn run(
    runner: &UpgradeRunner<'_>,
    progress: &mut UpgradeRecord,
    op: &Operation,
) -> anyhow::Result<Value> {
    let settings = runner.settings;
    let files = settings
        .services
        .iter()
        .map(|s| rollout::patch_service_file(s, &progress.tag))
        .collect::<Result<Vec<_>, _>>()?;
    // Planning fails as a whole when Nomad is unreachable: nothing is written yet.
    let plans = rollout::plan_all(runner.nomad, &settings.nomad, files).await?;
    rollout::show_plans(runner.printer, &plans);
    progress.files_written = true;
    progress::save(&settings.state_dir, progress)?;
    for plan in plans.iter().filter(|p| p.file.changed()) {
        plan.file.write()?;
    }
    op.step("files_written", json!({ "tag": progress.tag }))?;
    let options = RolloutOptions::new(&settings.nomad, runner.timeout, true);
    let rollouts = rollout::roll_out_all(runner.printer, runner.nomad, plans, options, op).await;
    let results = rollouts.results;
    let mut failures = failures(&results);
    if let Some(error) = rollouts.journal_error {
        failures.push(format!("{error:#}"));
    }
    for (file, result) in &results {
        let outcome = match result {
            Ok(outcome) => outcome.clone(),
            Err(e) => Outcome::Failed {
                version: 0,
                reason: e.to_string(),
            },
        };
        let result = ServiceResult {
            service: file.service.name.clone(),
            outcome,
            file_restored: false,
        };
        op.step("result", serde_json::to_value(&result)?)?;
    }
    if failures.is_empty() {
        verify(runner, progress).await?;
        runner.printer.info(&format!(
            "every service runs {} (files and Nomad agree)",
            progress.tag
        ));
        return Ok(json!({ "tag": progress.tag }));
    }
    runner.printer.warn(&format!(
        "the rollout failed ({}): taking every service back to its previous version",
        failures.join("; ")
    ));
    let back = rollback::roll_back_all(runner, progress).await;
    progress.state = State::RolledBack;
    progress::save(&settings.state_dir, progress)?;
    op.step(
        "rolled_back",
        json!({ "failures": failures, "services": back }),
    )?;
    Err(rolled_back_error(runner, progress, &failures, &back).into())
}

/// `service: reason` for every service that did not end on the new version.
fn failures(results: &[(PatchedFile, Result<Outcome, NomadError>)]) -> Vec<String> {
    results
        .iter()
        .filter_map(|(file, result)| {
            let name = &file.service.name;
            match result {
                Ok(Outcome::Succeeded { .. } | Outcome::Unchanged) => None,
                Ok(
                    Outcome::Reverted { reason, .. }
                    | Outcome::RevertedByNomad { reason, .. }
                    | Outcome::Failed { reason, .. },
                ) => Some(format!("{name}: {reason}")),
                Err(e) => Some(format!("{name}: {e}")),
            }
        })
        .collect()
}

/// Every service runs the new tag in Nomad, and its file says so.
async fn verify(runner: &UpgradeRunner<'_>, progress: &UpgradeRecord) -> anyhow::Result<()> {
    let mut wrong = Vec::new();
    for service in &runner.settings.services {
        let row = rollout::drift_row(runner.nomad, service).await?;
        let tag = Some(progress.tag.as_str());
        if row.running_tag.as_deref() != tag || row.file_tag.as_deref() != tag || row.drift {
            wrong.push(format!(
                "{} (file {}, nomad {}, {})",
                row.service,
                row.file_tag.as_deref().unwrap_or("?"),
                row.running_tag.as_deref().unwrap_or("-"),
                row.status
            ));
        }
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(verification(format!(
        "the rollout ended but not every service runs {}: {}",
        progress.tag,
        wrong.join(", ")
    ))
    .with_hint("`csi env drift` shows what runs; the same command again resumes the rollout")
    .into())
}

/// Exit 6 when every service is back; 1 when one could not be brought back. Either
/// way, the operator learns what the database holds and how to undo it.
fn rolled_back_error(
    runner: &UpgradeRunner<'_>,
    progress: &UpgradeRecord,
    failures: &[String],
    back: &[RolledBack],
) -> CsiError {
    let env = &runner.settings.env_name;
    let not_back: Vec<String> = back
        .iter()
        .filter_map(|b| b.error.as_ref().map(|e| format!("{}: {e}", b.service)))
        .collect();
    let services = if not_back.is_empty() {
        "every service was rolled back to its previous version, in Nomad and in the job files"
            .to_owned()
    } else {
        format!(
            "NOT every service could be rolled back ({}); the others are back on their previous version",
            not_back.join("; ")
        )
    };
    let database = match progress.applied_migrations().as_slice() {
        [] => format!(
            "the database was not changed (safety archive {})",
            progress.safety_archive
        ),
        applied => format!(
            "the database keeps the migrations applied: {} (recorded in the ledger); safety archive {} holds \
             the database as it was before them",
            applied.join(", "),
            progress.safety_archive
        ),
    };
    let kind = if not_back.is_empty() {
        Kind::RolledBack
    } else {
        Kind::Failed
    };
    CsiError::new(
        kind,
        format!(
            "the rollout of {} failed ({}); {services}; {database}",
            progress.tag,
            failures.join("; ")
        ),
    )
    .with_hint(format!(
        "the previous version tolerates the migrations; to undo them too: `csi env restore-db {env} --archive {}`; \
         to retry with a fixed image: `csi env upgrade {env} --tag <tag>` without --migrate",
        progress.safety_archive
    ))
}
