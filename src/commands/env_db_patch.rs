//! `csi env db-patch <env> FILE.sql`: analyse the patch, refuse one already applied,
//! rehearse it on a scratch copy of the schema, back the database up to borg, apply
//! it in one transaction together with its ledger row, and read the ledger back.
//! `--list` shows the ledger.

use std::time::Duration;

use chrono::Local;
use serde::Serialize;
use serde_json::json;

use super::Context;
use crate::borg::Borg;
use crate::cli::DbPatchArgs;
use crate::database::restore::{make_backup, Target};
use crate::dbpatch::{
    self, ledger, rehearse, Applied, EnvFacts, Patch, Record, Rehearsal, RehearsalRequest,
    ScratchPlace, StatementFailed,
};
use crate::error::{failed, precondition, verification, CsiError, Kind};
use crate::operation;

/// Prefix of the archive made before a patch (never the nightly prefix).
pub const SAFETY_PREFIX: &str = "pre-patch-";

pub async fn run(ctx: &Context, args: DbPatchArgs) -> anyhow::Result<()> {
    let settings = ctx.settings(&args.env)?;
    let target = Target::environment(&settings.database)?;
    if args.list {
        return list(ctx, &target).await;
    }
    let file = args
        .file
        .as_ref()
        .expect("clap requires FILE unless --list");
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

    let client = connect(&target).await?;
    let checksum = ledger::checksum(&client, &patch.bytes).await?;
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
    let facts = env_facts(&client).await?;
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
            let backup = make_backup(borg, target, name, &ctx.printer).await?;
            ctx.printer
                .info(&format!("safety backup {} made", backup.archive));
            op.step("safety_backup", json!(backup))?;
        }
        let applied = apply(ctx, target, patch, record, transactional, args.lock_timeout).await?;
        op.step("applied", json!(applied))?;
        verify(target, record).await?;
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

async fn connect(target: &Target) -> anyhow::Result<tokio_postgres::Client> {
    target.connect().await.map_err(|e| {
        CsiError::new(Kind::Precondition, format!("{e:#}"))
            .with_hint("`csi env check` tests the database connection")
            .into()
    })
}

async fn env_facts(client: &tokio_postgres::Client) -> anyhow::Result<EnvFacts> {
    use crate::database::pg_error::PgContext;
    let row = client
        .query_one(
            "select current_setting('server_version_num')::int / 10000, current_user::text, \
             pg_encoding_to_char(d.encoding)::text, pg_get_userbyid(d.datdba)::text \
             from pg_database d where d.datname = current_database()",
            &[],
        )
        .await
        .pg_context("reading the environment's server version, role and encoding")?;
    let system_identifier = client
        .query_one("select system_identifier from pg_control_system()", &[])
        .await
        .ok()
        .map(|r| r.get::<_, i64>(0));
    Ok(EnvFacts {
        server_major: u32::try_from(row.get::<_, i32>(0)).ok(),
        role: row.get(1),
        encoding: row.get(2),
        owner: row.get(3),
        system_identifier,
    })
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

async fn apply(
    ctx: &Context,
    target: &Target,
    patch: &Patch,
    record: &Record,
    transactional: bool,
    lock_timeout: Duration,
) -> anyhow::Result<Applied> {
    use crate::database::pg_error::PgContext;
    let mut client = connect(target).await?;
    client
        .batch_execute(&format!(
            "set lock_timeout = '{}ms'",
            lock_timeout.as_millis()
        ))
        .await
        .pg_context("preparing the session")?;
    ctx.printer.info(&format!(
        "applying {} to {}",
        patch.file_name,
        target.describe()
    ));
    dbpatch::run(&mut client, patch, record, transactional)
        .await
        .map_err(|e| match e.downcast_ref::<StatementFailed>() {
            Some(f) if f.transactional => failed(format!(
                "the patch failed and was rolled back, nothing was changed: {f}"
            ))
            .with_hint(format!(
                "statement {} ({}) passed the rehearsal but not here: compare the environment with its schema dump",
                f.number, f.statement
            ))
            .into(),
            Some(f) => failed(format!(
                "the patch failed at statement {} of {}: {f}; statements 1-{} were applied and stay applied \
                 (--no-transaction), and the ledger was not written",
                f.number,
                patch.statements.len(),
                f.done_before
            ))
            .with_hint("put the statements that remain in a new patch once the cause is fixed")
            .into(),
            None => e,
        })
}

/// The ledger row must be there, with this file's checksum.
async fn verify(target: &Target, record: &Record) -> anyhow::Result<()> {
    let client = connect(target).await?;
    let (found, _) = ledger::lookup(&client, &record.file_name, &record.checksum).await?;
    match found {
        Some(entry) if entry.checksum == record.checksum => Ok(()),
        _ => Err(verification(format!(
            "the patch ran but {} has no row for {} with its checksum",
            ledger::TABLE,
            record.file_name
        ))
        .into()),
    }
}

async fn list(ctx: &Context, target: &Target) -> anyhow::Result<()> {
    let client = connect(target).await?;
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
