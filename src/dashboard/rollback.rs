//! `--rollback`: the live folder and `<live>.prev` swap places, then the index file
//! of the version put back must be what is served; otherwise they swap back.

use serde::Serialize;
use serde_json::{json, Value};

use super::layout::{Names, RemoteState, RollbackLayout};
use super::settings::DashboardSettings;
use super::ssh::WebHost;
use super::{script, short, verify};
use crate::error::{failed, precondition, CsiError, Kind};
use crate::journal::Operation;
use crate::output::Printer;

#[derive(Debug, Serialize)]
pub struct RollbackPlan {
    pub destination: String,
    pub live_dir: String,
    pub layout: RollbackLayout,
    pub state: RemoteState,
    pub verify: String,
    /// The index file of the version put back, which must then be served.
    #[serde(skip)]
    expected_index: Vec<u8>,
    #[serde(skip)]
    live_index: String,
}

pub async fn plan(host: &WebHost, settings: &DashboardSettings) -> anyhow::Result<RollbackPlan> {
    host.check_local_files()?;
    let state = super::probe(host, settings).await?;
    super::check_writable(&state, settings)?;
    let names = Names::new(&settings.live_dir);
    let layout = RollbackLayout::plan(&names, &state, &super::stamp())?;
    let previous_index = format!("{}/{}", layout.previous, settings.index);
    let expected_index = host
        .run(
            &script::cat(&previous_index),
            "reading the previous version's index file",
        )
        .await
        .map_err(|e| {
            precondition(format!(
                "{} has no readable {}: refusing to roll back to it ({e:#})",
                layout.previous, settings.index
            ))
        })?;
    let live_index = format!("{}/{}", settings.live_dir, settings.index);
    Ok(RollbackPlan {
        destination: host.destination(),
        live_dir: settings.live_dir.to_string(),
        verify: verify::describe(
            settings.verify_url.as_deref(),
            &live_index,
            &format!("the index file of {}", super::short(&layout.previous)),
        ),
        layout,
        state,
        expected_index,
        live_index,
    })
}

impl RollbackPlan {
    pub fn lines(&self) -> Vec<String> {
        let live = short(&self.live_dir);
        let previous = short(&self.layout.previous);
        let how = if self.layout.atomic {
            "in one atomic rename (renameat2 exchange)"
        } else {
            "by three renames: no live folder for about a millisecond"
        };
        vec![
            format!("web host    {}", self.destination),
            format!("swap        {live} <-> {previous} {how}"),
            format!(
                "            {previous} is served again; the current {live} becomes {previous}"
            ),
            format!("verify      {}", self.verify),
        ]
    }

    pub fn journal_params(&self) -> Value {
        json!({
            "web_host": self.destination,
            "live_dir": self.live_dir,
            "previous": self.layout.previous,
            "atomic": self.layout.atomic,
        })
    }
}

pub async fn execute(
    host: &WebHost,
    settings: &DashboardSettings,
    plan: &RollbackPlan,
    op: &Operation,
    printer: &Printer,
) -> anyhow::Result<String> {
    host.run(&script::steps(&plan.layout.steps), "swapping back")
        .await
        .map_err(|e| {
            failed(format!(
                "the swap failed and every folder was put back: {e:#}"
            ))
        })?;
    op.step(
        "swapped",
        json!({"steps": plan.layout.steps, "atomic": plan.layout.atomic}),
    )?;
    printer.info(&format!("verifying: {}", plan.verify));
    let verified = verify::check(
        host,
        settings.verify_url.as_deref(),
        &plan.live_index,
        &plan.expected_index,
    )
    .await;
    if let Err(reason) = verified {
        printer.warn(&format!("verification failed: {reason}; swapping again"));
        host.run(&script::steps(&plan.layout.undo()), "swapping again")
            .await
            .map_err(|e| {
                failed(format!(
                    "verification failed ({reason}) and swapping again failed too: {e:#}"
                ))
            })?;
        if let Err(e) = op.step("rolled_back", json!({"reason": reason})) {
            printer.warn(&format!(
                "the journal could not record the swap back (the version live before the rollback is live): {e:#}"
            ));
        }
        return Err(CsiError::new(
            Kind::RolledBack,
            format!(
                "the previous dashboard failed verification ({reason}); the version live before the rollback is live again"
            ),
        )
        .into());
    }
    op.step("verified", json!({"how": plan.verify}))?;
    Ok(format!(
        "{} rolled back to {} and verified",
        plan.live_dir, plan.layout.previous
    ))
}
