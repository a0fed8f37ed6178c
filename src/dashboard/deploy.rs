//! A deploy: plan (inspect the build, look at the web host), then upload, unpack
//! beside the live folder, swap, verify; a failed verification puts everything back.

use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use super::layout::{DeployLayout, Names, RemoteState};
use super::settings::DashboardSettings;
use super::source::{self, Source, SourceKind};
use super::ssh::WebHost;
use super::{script, short, verify};
use crate::error::{failed, precondition, CsiError, Kind};
use crate::journal::Operation;
use crate::output::Printer;

#[derive(Debug, Serialize)]
pub struct DeployPlan {
    pub source: Source,
    pub destination: String,
    pub live_dir: String,
    /// Where the tarball is uploaded on the web host (removed once unpacked).
    pub upload: String,
    pub layout: DeployLayout,
    pub state: RemoteState,
    pub verify: String,
    #[serde(skip)]
    live_index: String,
}

pub async fn plan(
    host: &WebHost,
    settings: &DashboardSettings,
    dist: &Path,
) -> anyhow::Result<DeployPlan> {
    let source = source::inspect(dist, &settings.index).await?;
    host.check_local_files()?;
    let state = super::probe(host, settings).await?;
    super::check_writable(&state, settings)?;
    if !state.temp_writable {
        return Err(precondition(format!(
            "{} is not a writable folder for {} on the web host",
            settings.temp_dir, settings.user
        ))
        .with_hint("create it, or set dashboard.temp_dir")
        .into());
    }
    let stamp = super::stamp();
    let names = Names::new(&settings.live_dir);
    let live_index = format!("{}/{}", settings.live_dir, settings.index);
    Ok(DeployPlan {
        upload: format!("{}/csi-dashboard-{stamp}.upload", settings.temp_dir),
        layout: DeployLayout::plan(&names, &state, settings.keep, &stamp),
        destination: host.destination(),
        live_dir: settings.live_dir.to_string(),
        verify: verify::describe(
            settings.verify_url.as_deref(),
            &live_index,
            "the new index file",
        ),
        source,
        state,
        live_index,
    })
}

impl DeployPlan {
    /// What the operator reads before confirming.
    pub fn lines(&self) -> Vec<String> {
        let s = &self.source;
        let what = match s.kind {
            SourceKind::Directory => format!("directory, {}, {}", files(s.files), size(s.bytes)),
            SourceKind::Tarball => format!("tarball, {}, {}", files(s.files), size(s.bytes)),
        };
        let mut lines = vec![
            format!("source      {} ({what})", s.path.display()),
            format!("web host    {}", self.destination),
            format!("upload to   {}", self.upload),
            format!("unpack into {}", self.layout.new_dir),
        ];
        let live = short(&self.live_dir);
        let swap = if self.state.live == super::layout::Live::Missing {
            format!("no {live} yet: the new version becomes {}", self.live_dir)
        } else if self.layout.atomic {
            format!("{live} <-> {} in one atomic rename (renameat2 exchange); the old {live} becomes {live}.prev", short(&self.layout.new_dir))
        } else {
            format!("two renames ({live} -> {live}.prev, then the new one -> {live}): no {live} for about a millisecond")
        };
        lines.push(format!("swap        {swap}"));
        for (from, to) in &self.layout.shifted {
            lines.push(format!("keep        {} -> {}", short(from), short(to)));
        }
        for (from, _) in &self.layout.dropped {
            lines.push(format!(
                "delete      {} (beyond keep, once verified)",
                short(from)
            ));
        }
        lines.push(format!("verify      {}", self.verify));
        lines
    }

    pub fn journal_params(&self) -> Value {
        json!({
            "source": self.source.path,
            "kind": self.source.kind,
            "bytes": self.source.bytes,
            "web_host": self.destination,
            "live_dir": self.live_dir,
            "new_dir": self.layout.new_dir,
            "atomic": self.layout.atomic,
            "keep": self.layout.shifted.iter().map(|(_, to)| to).collect::<Vec<_>>(),
            "delete": self.layout.dropped.iter().map(|(from, _)| from).collect::<Vec<_>>(),
        })
    }
}

/// Runs a confirmed plan; returns the message journaled with the outcome.
pub async fn execute(
    host: &WebHost,
    settings: &DashboardSettings,
    plan: &DeployPlan,
    op: &Operation,
    printer: &Printer,
) -> anyhow::Result<String> {
    upload_and_unpack(host, &settings.index, plan, op, printer).await?;
    printer.info("swapping");
    if let Err(e) = host
        .run(&script::steps(&plan.layout.steps), "swapping")
        .await
    {
        remove(host, std::slice::from_ref(&plan.layout.new_dir), printer).await;
        return Err(failed(format!(
            "the swap failed and every folder was put back, {} is unchanged: {e:#}",
            plan.live_dir
        ))
        .into());
    }
    op.step(
        "swapped",
        json!({"steps": plan.layout.steps, "atomic": plan.layout.atomic}),
    )?;
    printer.info(&format!("verifying: {}", plan.verify));
    let verified = verify::check(
        host,
        settings.verify_url.as_deref(),
        &plan.live_index,
        &plan.source.index,
    )
    .await;
    if let Err(reason) = verified {
        return Err(put_back(host, plan, op, printer, &reason).await);
    }
    op.step("verified", json!({"how": plan.verify}))?;
    let dropped: Vec<String> = plan
        .layout
        .dropped
        .iter()
        .map(|(_, aside)| aside.clone())
        .collect();
    if !dropped.is_empty() {
        remove(host, &dropped, printer).await;
        op.step("pruned", json!({"deleted": plan.layout.dropped.iter().map(|(from, _)| from).collect::<Vec<_>>()}))?;
    }
    Ok(format!(
        "{} deployed to {} and verified",
        plan.source.path.display(),
        plan.live_dir
    ))
}

async fn upload_and_unpack(
    host: &WebHost,
    index: &str,
    plan: &DeployPlan,
    op: &Operation,
    printer: &Printer,
) -> anyhow::Result<()> {
    printer.info(&format!(
        "uploading {} to {}",
        plan.source.path.display(),
        plan.upload
    ));
    let sent = match host.upload(&plan.source, &plan.upload).await {
        Ok(sent) => sent,
        Err(e) => {
            if crate::error::kind_of(&e) != Kind::Precondition {
                remove(host, std::slice::from_ref(&plan.upload), printer).await;
            }
            return Err(e);
        }
    };
    op.step("uploaded", json!({"path": plan.upload, "bytes": sent}))?;
    printer.info(&format!(
        "uploaded {}; unpacking into {}",
        size(sent),
        plan.layout.new_dir
    ));
    let unpack = script::unpack(
        &plan.upload,
        sent,
        &plan.layout.new_dir,
        plan.source.strip,
        index,
    );
    host.run(&unpack, "unpacking").await?;
    op.step("unpacked", json!({"dir": plan.layout.new_dir}))?;
    Ok(())
}

/// Verification failed: every rename undone, the new version deleted.
async fn put_back(
    host: &WebHost,
    plan: &DeployPlan,
    op: &Operation,
    printer: &Printer,
    reason: &str,
) -> anyhow::Error {
    printer.warn(&format!(
        "verification failed: {reason}; putting the previous version back"
    ));
    if let Err(e) = host
        .run(
            &script::steps(&plan.layout.undo()),
            "putting the previous version back",
        )
        .await
    {
        return failed(format!(
            "verification failed ({reason}) and putting the previous version back failed too: {e:#}"
        ))
        .with_hint(format!(
            "look at the folders beside {} on the web host",
            plan.live_dir
        ))
        .into();
    }
    remove(host, std::slice::from_ref(&plan.layout.new_dir), printer).await;
    if let Err(e) = op.step("rolled_back", json!({"reason": reason})) {
        printer.warn(&format!(
            "the journal could not record the rollback (the web host is as before the deploy): {e:#}"
        ));
    }
    CsiError::new(
        Kind::RolledBack,
        format!(
            "the new dashboard failed verification ({reason}); the previous version is live again"
        ),
    )
    .with_hint("the web host's folders are as before the deploy; check the build and verify_url")
    .into()
}

/// Best effort: a folder left behind is reported, not fatal.
async fn remove(host: &WebHost, paths: &[String], printer: &Printer) {
    if let Err(e) = host.run(&script::remove(paths), "cleaning up").await {
        printer.warn(&format!("could not remove {}: {e:#}", paths.join(", ")));
    }
}

fn files(count: usize) -> String {
    match count {
        1 => "1 file".to_owned(),
        n => format!("{n} files"),
    }
}

pub fn size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}
