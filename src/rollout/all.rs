//! Several services at once: their Nomad plans shown, then rolled out concurrently
//! with one progress line each. Shared by `patch-image` and `upgrade`.

use std::sync::Mutex;

use serde_json::json;

use super::{roll_out, PatchedFile, RolloutDisplay, RolloutOptions, ServicePlan};
use crate::journal::Operation;
use crate::nomad::deployment::Outcome;
use crate::nomad::diff::diff_lines;
use crate::nomad::{NomadClient, NomadError};
use crate::output::Printer;

/// Each service's diff in Nomad (or "no change"), and what could not be placed now.
pub fn show_plans(printer: &Printer, plans: &[ServicePlan]) {
    for plan in plans {
        let name = &plan.file.service.name;
        match &plan.planned.plan.diff {
            Some(diff) if diff.kind != "None" => {
                printer.data(&format!(
                    "{} (job {}):",
                    printer.emphasis(name),
                    plan.planned.job_id
                ));
                for (mark, line) in diff_lines(diff) {
                    printer.data(&printer.marked(mark, &format!("  {line}")));
                }
            }
            _ => printer.data(&format!("{name}: no change in Nomad")),
        }
        if let Some(failed) = &plan.planned.plan.failed_tg_allocs {
            for (group, metric) in failed {
                let dims: Vec<&String> = metric
                    .dimension_exhausted
                    .iter()
                    .flatten()
                    .map(|(d, _)| d)
                    .collect();
                printer.warn(&format!(
                    "{name}/{group} could not be placed now: exhausted {dims:?}"
                ));
            }
        }
    }
}

/// Every service at once, one progress line each; every submission journaled as it
/// happens. Results come back sorted by service name, with the first journal error:
/// the rollouts are not abandoned mid-watch for it (a failed image is still reverted),
/// but the caller must report it.
pub async fn roll_out_all(
    printer: &Printer,
    client: &NomadClient,
    plans: Vec<ServicePlan>,
    options: RolloutOptions,
    op: &Operation,
) -> Rollouts {
    let names: Vec<String> = plans.iter().map(|p| p.file.service.name.clone()).collect();
    let display = RolloutDisplay::new(printer, &names);
    let journal_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let rollouts = plans.into_iter().map(|plan| {
        let (display, journal_error) = (&display, &journal_error);
        async move {
            let name = plan.file.service.name.clone();
            let outcome = roll_out(client, &plan, options, display, |version, eval| {
                let step = json!({"service": name, "version": version, "eval": eval});
                if let Err(e) = op.step("submitted", step) {
                    let e = anyhow::Error::new(e)
                        .context(format!("journaling the submission of {name}"));
                    journal_error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                }
            })
            .await;
            (plan.file, outcome)
        }
    });
    let mut results = futures::future::join_all(rollouts).await;
    display.finish();
    results.sort_by(|a, b| a.0.service.name.cmp(&b.0.service.name));
    Rollouts {
        results,
        journal_error: journal_error
            .into_inner()
            .unwrap_or_else(|p| p.into_inner()),
    }
}

/// What `roll_out_all` did.
pub struct Rollouts {
    pub results: Vec<(PatchedFile, Result<Outcome, NomadError>)>,
    /// The journal could not record a submission.
    pub journal_error: Option<anyhow::Error>,
}
