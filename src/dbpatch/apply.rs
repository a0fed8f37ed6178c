//! Applying a patch to the environment's database and reading the ledger back: the
//! part of a patch's life that `db-patch` and `upgrade` share.

use crate::database::decode;
use std::time::Duration;

use super::ledger::{self, Record};
use super::rehearse::EnvFacts;
use super::run::{run, Applied, StatementFailed};
use super::Patch;
use crate::database::pg_error::PgContext;
use crate::database::Target;
use crate::error::{failed, verification};
use crate::output::Printer;

/// Connects to the environment's database; an unreachable one is a precondition.
pub async fn connect(target: &Target) -> anyhow::Result<tokio_postgres::Client> {
    target.connect().await.map_err(crate::database::unreachable)
}

/// What the rehearsal must reproduce of the environment's database.
pub async fn env_facts(client: &tokio_postgres::Client) -> anyhow::Result<EnvFacts> {
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
        .map(|r| decode::get::<i64>(&r, 0, "pg_control_system().system_identifier"))
        .transpose()?;
    Ok(EnvFacts {
        server_major: u32::try_from(decode::get::<i32>(&row, 0, "server_version_num")?).ok(),
        role: decode::get(&row, 1, "current_user")?,
        encoding: decode::get(&row, 2, "pg_database.encoding")?,
        owner: decode::get(&row, 3, "pg_database.datdba")?,
        system_identifier,
    })
}

/// Runs the patch on the environment with its ledger row (one transaction unless
/// `transactional` is false); a failing statement becomes an operator's message.
pub async fn apply(
    printer: &Printer,
    target: &Target,
    patch: &Patch,
    record: &Record,
    transactional: bool,
    lock_timeout: Duration,
) -> anyhow::Result<Applied> {
    let mut client = connect(target).await?;
    client
        .batch_execute(&format!(
            "set lock_timeout = '{}ms'",
            lock_timeout.as_millis()
        ))
        .await
        .pg_context("preparing the session")?;
    printer.info(&format!(
        "applying {} to {}",
        patch.file_name,
        target.describe()
    ));
    run(&mut client, patch, record, transactional)
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
pub async fn verify(target: &Target, record: &Record) -> anyhow::Result<()> {
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
