//! `csi env backup <env>`: a backup now, named and made like the nightly one
//! (pg_dumpall into borg, zstd, under the nightly prefix), kept only when complete.

use chrono::Local;
use indicatif::HumanBytes;
use serde_json::json;

use super::Context;
use crate::borg::{nightly_archive_name, Borg};
use crate::database::Target;
use crate::operation;
use crate::remote;

pub async fn run(ctx: &Context, env: &str) -> anyhow::Result<()> {
    let settings = ctx.reach(env).await?;
    let borg = Borg::new(&settings.borg)?;
    let target = Target::environment(&settings.database)?;
    let name = nightly_archive_name(&settings.borg.archive_prefix, Local::now());
    ctx.printer.info(&format!(
        "backup of {} into {} (pg_dumpall, zstd), kept only if the dump is complete",
        target.describe(),
        borg.archive_ref(&name)
    ));
    remote::prepare(&settings, &target, &ctx.printer).await?;
    if ctx.global.dry_run {
        ctx.printer.info("dry run: nothing was done");
        return Ok(());
    }
    let settings = &settings;
    let (borg, target, name) = (&borg, &target, &name);
    let backup = operation::run_locked(
        settings,
        "backup",
        json!({ "archive": name }),
        |op| async move {
            let backup = remote::make_backup(settings, borg, target, name, &ctx.printer).await?;
            op.step("created", json!(backup))?;
            let message = format!(
                "backup {} made: {} in {:.0}s, databases {}, {} tables, {} rows",
                backup.archive,
                HumanBytes(backup.size),
                backup.seconds,
                backup.databases.join(", "),
                backup.tables,
                backup.rows
            );
            Ok((backup, message))
        },
    )
    .await?;
    if ctx.printer.is_json() {
        ctx.printer.json(&backup);
    } else {
        ctx.printer.data(&backup.archive);
        ctx.printer.info(&format!(
            "backup made: {} ({}, checked complete: databases {}, {} tables, {} rows)",
            backup.archive,
            HumanBytes(backup.size),
            backup.databases.join(", "),
            backup.tables,
            backup.rows
        ));
    }
    Ok(())
}
