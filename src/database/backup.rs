//! A backup made now, the way the nightly job makes it (pg_dumpall into borg, zstd),
//! but kept only when the dump is complete: borg runs pg_dumpall itself, so a failed
//! dump leaves no archive, and the archive is then read back and checked (trailers,
//! COPY blocks, byte count); an incomplete one is deleted.

use serde::Serialize;

use super::restore::{check_archive, DumpSource};
use super::target::Target;
use crate::borg::Borg;
use crate::error::{failed, CsiError, Kind};
use crate::output::Printer;
use crate::process::ProcessError;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Backup {
    pub archive: String,
    pub size: u64,
    pub databases: Vec<String>,
    pub tables: u64,
    pub rows: u64,
    pub seconds: f64,
}

pub async fn make_backup(
    borg: &Borg,
    target: &Target,
    archive: &str,
    printer: &Printer,
) -> anyhow::Result<Backup> {
    let started = std::time::Instant::now();
    printer.info(&format!(
        "dumping {} (pg_dumpall) into {}",
        target.describe(),
        borg.archive_ref(archive)
    ));
    borg.create_dump_archive(
        archive,
        &target.dumpall_argv(),
        |cmd| target.client_env(cmd),
        |line| printer.detail(&format!("borg: {line}")),
    )
    .await
    .map_err(|e| {
        let interrupted = e.chain().any(|c| {
            matches!(
                c.downcast_ref::<ProcessError>(),
                Some(ProcessError::Interrupted { .. })
            )
        });
        let kind = if interrupted || crate::error::kind_of(&e) == Kind::Interrupted {
            Kind::Interrupted
        } else {
            Kind::Failed
        };
        CsiError::new(
            kind,
            format!("the backup failed, no archive was kept: {}", one_line(&e)),
        )
    })?;
    let size = dump_size(borg, archive).await?;
    printer.info(&format!("checking the dump in {archive} ({} bytes)", size));
    let verdict = check_archive(DumpSource::borg(borg, archive, size)?, printer).await?;
    if !verdict.is_complete() {
        let deleted = match borg.delete_archive(archive).await {
            Ok(()) => "the archive was deleted".to_owned(),
            Err(e) => format!("deleting the archive failed too ({e}); delete it by hand"),
        };
        return Err(failed(format!(
            "the dump in {archive} is incomplete ({}); {deleted}",
            verdict.problems.join("; ")
        ))
        .into());
    }
    Ok(Backup {
        archive: archive.to_owned(),
        size,
        databases: verdict.databases,
        tables: verdict.tables,
        rows: verdict.rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The size of the archive's dump; an archive without one is a precondition failure.
pub async fn dump_size(borg: &Borg, archive: &str) -> anyhow::Result<u64> {
    borg.dump_size(archive).await
}

fn one_line(e: &anyhow::Error) -> String {
    e.to_string().lines().collect::<Vec<_>>().join(" / ")
}
