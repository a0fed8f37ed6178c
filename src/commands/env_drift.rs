//! `csi env drift <env>`: per service, the tag in the job file, the tag running in
//! Nomad and the job's status; exit 7 on any difference or missing job.

use super::Context;
use crate::error::{CsiError, Kind};
use crate::nomad::NomadClient;
use crate::rollout::drift_row;

pub async fn run(ctx: &Context, env: &str) -> anyhow::Result<()> {
    let settings = ctx.reach(env).await?;
    let client = NomadClient::new(&settings.nomad, std::time::Duration::from_secs(10))?;
    let mut rows = Vec::new();
    for service in &settings.services {
        rows.push(drift_row(&client, service).await?);
    }
    if ctx.printer.is_json() {
        ctx.printer.json(&rows);
    } else {
        for r in &rows {
            let mark = if r.drift {
                ctx.printer.highlight("DRIFT")
            } else {
                "ok   ".to_owned()
            };
            ctx.printer.data(&format!(
                "{mark} {:<24} file {:<14} nomad {:<14} {}",
                r.service,
                r.file_tag.as_deref().unwrap_or("?"),
                r.running_tag.as_deref().unwrap_or("-"),
                r.status
            ));
        }
    }
    let drifting: Vec<&str> = rows
        .iter()
        .filter(|r| r.drift)
        .map(|r| r.service.as_str())
        .collect();
    if drifting.is_empty() {
        Ok(())
    } else {
        Err(
            CsiError::new(Kind::Drift, format!("drift in {}", drifting.join(", ")))
                .with_hint(
                    "patch-image rolls the files out; doctor --fix resubmits missing services",
                )
                .into(),
        )
    }
}
