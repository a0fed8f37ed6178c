//! `csi env upgrade <env> --tag <tag> [--migrate FILE.sql]...`: preflight, plan,
//! one confirmation, then the safety backup, the migrations and the rollout of every
//! service, resumable; `--abandon` gives up an unfinished upgrade.

use std::time::Duration;

use serde_json::json;

use super::Context;
use crate::cli::UpgradeArgs;
use crate::dbpatch::Patch;
use crate::error::precondition;
use crate::nomad::NomadClient;
use crate::operation;
use crate::settings::Settings;
use crate::upgrade::{self, progress, PreparedUpgrade, State, UpgradeRequest, UpgradeRunner};

pub async fn run(ctx: &Context, args: UpgradeArgs) -> anyhow::Result<()> {
    let settings = ctx.reach(&args.env).await?;
    if args.abandon {
        return abandon(ctx, &settings).await;
    }
    // clap requires --tag unless --abandon; said again rather than assumed.
    let tag = args
        .tag
        .clone()
        .ok_or_else(|| crate::error::usage("upgrade needs --tag TAG (or --abandon)"))?;
    let patches = args
        .migrations
        .iter()
        .map(|path| {
            let patch = Patch::load(path)?;
            patch.check_mode(true).map_err(|e| {
                precondition(e.message).with_hint(
                    "an upgrade applies each migration in one transaction: apply this one on its own \
                     with `csi env db-patch --no-transaction`, then upgrade without it",
                )
            })?;
            Ok(patch)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let timeout = args.timeout.unwrap_or(settings.nomad.deploy_timeout);
    let nomad = NomadClient::new(&settings.nomad, timeout + Duration::from_secs(30))?;
    let request = UpgradeRequest {
        settings: &settings,
        nomad: &nomad,
        tag: &tag,
        patches,
        allow_drift: args.allow_drift,
    };
    let prepared = upgrade::prepare(request, &ctx.printer).await?;
    upgrade::show(&ctx.printer, &settings, &prepared);
    if ctx.global.dry_run {
        ctx.printer.info("dry run: nothing was changed");
        return Ok(());
    }
    let runner = UpgradeRunner {
        printer: &ctx.printer,
        settings: &settings,
        nomad: &nomad,
        timeout,
        lock_timeout: args.lock_timeout,
    };
    let params = json!({
        "upgrade": prepared.progress.id,
        "tag": tag,
        "migrations": prepared.progress.migrations,
        "resume": prepared.resuming,
        "allow_drift": args.allow_drift,
    });
    let question = question(&settings, &prepared);
    let (runner, settings) = (&runner, &settings);
    operation::run_locked(settings, progress::OPERATION, params, |op| async move {
        ctx.prompter
            .confirm(&question, &settings.env_name, settings.protected)?;
        let message = upgrade::execute(runner, prepared, &op).await?;
        Ok(((), message))
    })
    .await
}

fn question(settings: &Settings, prepared: &PreparedUpgrade) -> String {
    let p = &prepared.progress;
    if prepared.resuming {
        return format!(
            "Resume the upgrade of `{}` to {} at step {}?",
            settings.env_name,
            p.tag,
            p.next().map(|s| p.key(s)).unwrap_or_default()
        );
    }
    format!(
        "Upgrade `{}` to {} ({} migration(s), then {} service(s))?",
        settings.env_name,
        p.tag,
        p.migrations.len(),
        settings.services.len()
    )
}

/// Marks the unfinished upgrade as given up; nothing is undone.
async fn abandon(ctx: &Context, settings: &Settings) -> anyhow::Result<()> {
    let Some(mut p) = progress::load(&settings.state_dir)?.filter(|p| p.state == State::Unfinished)
    else {
        ctx.printer
            .info(&format!("no unfinished upgrade of `{}`", settings.env_name));
        return Ok(());
    };
    let applied = p.applied_migrations().join(", ");
    ctx.printer.data(&format!(
        "unfinished upgrade to {} begun at {}: done {}",
        p.tag,
        p.begun_at.format("%Y-%m-%d %H:%M:%S UTC"),
        if p.done.is_empty() {
            "nothing".to_owned()
        } else {
            p.done.join(", ")
        }
    ));
    if ctx.global.dry_run {
        ctx.printer.info("dry run: nothing was changed");
        return Ok(());
    }
    let params = json!({ "upgrade": p.id, "abandon": true });
    operation::run_locked(settings, progress::OPERATION, params, |op| async move {
        ctx.prompter.confirm(
            "Give this upgrade up? Nothing is undone",
            &settings.env_name,
            settings.protected,
        )?;
        p.state = State::Abandoned;
        progress::save(&settings.state_dir, &p)?;
        op.step("abandoned", json!({ "upgrade": p.id, "done": p.done }))?;
        let mut message = format!("upgrade to {} abandoned; nothing was undone", p.tag);
        if !applied.is_empty() {
            message.push_str(&format!(
                "; applied and kept: {applied} (safety archive {})",
                p.safety_archive
            ));
        }
        if p.files_written && !p.done.iter().any(|d| d == "rollout") {
            message.push_str("; the job files may be ahead of Nomad: see `csi env drift`");
        }
        ctx.printer.info(&message);
        Ok(((), message))
    })
    .await
}
