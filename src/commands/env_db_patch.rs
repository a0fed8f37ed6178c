//! `csi env db-patch <env> FILE.sql`: analyse the patch, refuse one already applied,
//! rehearse it on a scratch copy of the schema, back the database up to borg, apply
//! it in one transaction together with its ledger row, and read the ledger back.
//! `--list` shows the ledger.

use chrono::Local;
use serde::Serialize;
use serde_json::json;

use super::Context;
use crate::borg::Borg;
use crate::cli::DbPatchArgs;
use crate::database::Target;
use crate::dbpatch::{
    self, ledger, rehearse, Applied, Patch, Record, Rehearsal, RehearsalRequest, ScratchPlace,
};
use crate::error::precondition;
use crate::operation;

/// Prefix of the archive made before a patch (never the nightly prefix).
pub const SAFETY_PREFIX: &str = crate::borg::PATCH_SAFETY_PREFIX;

pub async fn run(ctx: &Context, args: DbPatchArgs) -> anyhow::Result<()> {
    let settings = ctx.reach(&args.env).await?;
    let target = Target::environment(&settings.database)?;
    if args.list {
        return list(ctx, &target).await;
    }
    // clap requires FILE unless --list; said again rather than assumed.
    let file = args
        .file
        .as_ref()
        .ok_or_else(|| crate::error::usage("db-patch needs FILE.sql (or --list)"))?;
    let transactional = !args.no_transaction;
    let patch = Patch::load(file)?;
    patch.check_mode(transactional)?;
    if settings.protected && args.skip_rehearsal {
        return Err(precondition(format!(
            "`{}` is protected: a patch is never applied there without a successful rehearsal",
            settings.env_name
        ))
        .with_hint("drop --skip-rehearsal")
        .into());
    }
    if settings.protected && args.no_safety_backup {
        return Err(precondition(format!(
            "`{}` is protected: a patch is never applied there without a safety backup",
            settings.env_name
        ))
        .with_hint("drop --no-safety-backup")
        .into());
    }
    let borg = if args.no_safety_backup {
        None
    } else {
        Some(Borg::new(&settings.borg)?)
    };

    let client = dbpatch::connect(&target).await?;
    let checksum = ledger::checksum(&patch.bytes);
    let (applied, same_content) = ledger::lookup(&client, &patch.file_name, &checksum).await?;
    ledger::refuse_applied(applied.as_ref(), &patch.file_name, &checksum)?;
    for other in &same_content {
        ctx.printer.warn(&format!(
            "the same content was applied as {} at {} by {}",
            other.file_name,
            other.applied_at.format("%Y-%m-%d %H:%M:%S UTC"),
            other.applied_by
        ));
    }
    let facts = dbpatch::env_facts(&client).await?;
    drop(client);

    let place = match &settings.scratch_database {
        Some(url) => ScratchPlace::Url(url.clone()),
        None => ScratchPlace::Local,
    };
    let safety_archive = borg.as_ref().map(|_| {
        format!(
            "{SAFETY_PREFIX}{}",
            Local::now().format("%Y-%m-%dT%H:%M:%S")
        )
    });
    let record = Record {
        file_name: patch.file_name.clone(),
        checksum: checksum.clone(),
        applied_by: dbpatch::applied_by(),
        csi_version: dbpatch::CSI_VERSION.to_owned(),
        statements: patch.statements.len() as i32,
        transactional,
        rehearsed: !args.skip_rehearsal,
        safety_archive: safety_archive.clone(),
    };
    show(ctx, &patch, &record, &target, &place, args.skip_rehearsal);

    let rehearse_now = |record: Record| {
        let (target, facts, place, patch) = (&target, &facts, &place, &patch);
        async move {
            let request = RehearsalRequest {
                env: target,
                facts,
                place,
                before: &[],
                patch,
                record: &record,
                transactional,
                lock_timeout: args.lock_timeout,
            };
            rehearse(&request, &ctx.printer).await
        }
    };
    if ctx.global.dry_run {
        let rehearsal = if args.skip_rehearsal {
            None
        } else {
            let r = rehearse_now(record.clone()).await?;
            ctx.printer.info(&format!(
                "rehearsal passed in {:.1}s on {}",
                r.seconds, r.place
            ));
            Some(r)
        };
        ctx.printer.info("dry run: nothing was applied");
        if ctx.printer.is_json() {
            ctx.printer
                .json(&json!({ "record": record, "rehearsal": rehearsal, "applied": null }));
        }
        return Ok(());
    }

    let params = json!({
        "file": patch.path.display().to_string(),
        "checksum": checksum,
        "transactional": transactional,
        "skip_rehearsal": args.skip_rehearsal,
        "safety_archive": safety_archive,
    });
    let settings = &settings;
    let (patch, target, borg, record) = (&patch, &target, &borg, &record);
    let outcome = operation::run_locked(settings, "db-patch", params, |op| async move {
        let rehearsal = if args.skip_rehearsal {
            ctx.printer
                .warn("--skip-rehearsal: the patch was not rehearsed");
            None
        } else {
            let r = rehearse_now(record.clone()).await?;
            ctx.printer.info(&format!(
                "rehearsal passed: {} statements in {:.1}s on {}",
                r.statements, r.seconds, r.place
            ));
            op.step("rehearsed", json!(r))?;
            Some(r)
        };
        let question = format!(
            "Apply {} ({} statements{}) to {}?",
            patch.file_name,
            patch.statements.len(),
            if transactional {
                ", one transaction"
            } else {
                ", one by one, no transaction"
            },
            target.describe()
        );
        ctx.prompter
            .confirm(&question, &settings.env_name, settings.protected)?;
        op.step("confirmed", json!({ "by": record.applied_by }))?;
        if let (Some(borg), Some(name)) = (borg, &record.safety_archive) {
            let backup =
                crate::remote::make_backup(settings, borg, target, name, &ctx.printer).await?;
            ctx.printer
                .info(&format!("safety backup {} made", backup.archive));
            op.step("safety_backup", json!(backup))?;
        }
        let applied = dbpatch::apply(
            &ctx.printer,
            target,
            patch,
            record,
            transactional,
            args.lock_timeout,
        )
        .await?;
        op.step("applied", json!(applied))?;
        dbpatch::verify(target, record).await?;
        op.step("verified", json!({ "ledger_id": applied.entry.id }))?;
        let message = format!(
            "patch {} applied to {}: {} statements in {:.1}s, ledger entry {}",
            patch.file_name,
            target.describe(),
            applied.statements,
            applied.seconds,
            applied.entry.id
        );
        ctx.printer.info(&message);
        Ok((Outcome { rehearsal, applied }, message))
    })
    .await?;
    if ctx.printer.is_json() {
        ctx.printer.json(&json!({
            "record": record,
            "rehearsal": outcome.rehearsal,
            "applied": outcome.applied,
        }));
    } else {
        ctx.printer.data(&format!(
            "{}  {}  applied",
            patch.file_name, record.checksum
        ));
    }
    Ok(())
}

#[derive(Serialize)]
struct Outcome {
    rehearsal: Option<Rehearsal>,
    applied: Applied,
}

fn show(
    ctx: &Context,
    patch: &Patch,
    record: &Record,
    target: &Target,
    place: &ScratchPlace,
    skip_rehearsal: bool,
) {
    let p = &ctx.printer;
    p.info(&format!(
        "patch {} ({} statements, sha256 {})",
        patch.path.display(),
        patch.statements.len(),
        record.checksum
    ));
    p.info(&format!("  target: {}", target.describe()));
    p.info(&format!(
        "  mode: {}",
        if record.transactional {
            "one transaction, with the ledger row".to_owned()
        } else {
            let found: Vec<String> = patch
                .non_transactional
                .iter()
                .map(|f| format!("{} at line {}", f.what, f.line))
                .collect();
            format!(
                "--no-transaction: statement by statement, the ledger row last{}",
                if found.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", found.join(", "))
                }
            )
        }
    ));
    p.info(&format!(
        "  rehearsal: {}",
        match (skip_rehearsal, place) {
            (true, _) => "skipped (--skip-rehearsal)".to_owned(),
            (false, ScratchPlace::Local) => "in a throwaway local cluster".to_owned(),
            (false, ScratchPlace::Url(_)) =>
                "on the scratch server (database.scratch_database)".to_owned(),
        }
    ));
    p.info(&format!(
        "  safety backup: {}",
        record
            .safety_archive
            .as_deref()
            .unwrap_or("none (--no-safety-backup)")
    ));
}

async fn list(ctx: &Context, target: &Target) -> anyhow::Result<()> {
    let client = dbpatch::connect(target).await?;
    let entries = ledger::list(&client).await?;
    if ctx.printer.is_json() {
        ctx.printer.json(&entries);
        return Ok(());
    }
    if entries.is_empty() {
        ctx.printer
            .info(&format!("no patch applied to {} yet", target.describe()));
        return Ok(());
    }
    ctx.printer.data(&format!(
        "{:<20} {:<40} {:<12} {:<24} {:<8} {}",
        "applied at", "file", "sha256", "by", "csi", "mode"
    ));
    for e in &entries {
        ctx.printer.data(&format!(
            "{:<20} {:<40} {:<12} {:<24} {:<8} {}{}",
            e.applied_at.format("%Y-%m-%d %H:%M:%S"),
            e.file_name,
            &e.checksum[..e.checksum.len().min(12)],
            e.applied_by,
            e.csi_version,
            if e.transactional {
                "transaction"
            } else {
                "no-transaction"
            },
            if e.rehearsed { "" } else { ", not rehearsed" }
        ));
    }
    Ok(())
}
