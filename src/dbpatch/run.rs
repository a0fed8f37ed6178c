//! Running a patch's statements, the same way on the scratch copy and on the
//! environment: in one transaction with the ledger row (or, with `--no-transaction`,
//! one statement at a time and the ledger row last). A failing statement is reported
//! with the patch's file and line.

use std::time::Instant;

use serde::Serialize;
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::{CancelToken, Client, GenericClient};

use super::ledger::{self, Entry, Record};
use super::Patch;
use crate::database::pg_error::PgContext;
use crate::error::{precondition, CsiError, Kind};
use crate::interrupt;

#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub statements: usize,
    pub seconds: f64,
    pub entry: Entry,
}

/// A statement of the patch failed.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {severity}: {message}{}", extra(.detail, .hint))]
pub struct StatementFailed {
    /// `file:line`, the line of the error itself when PostgreSQL gave a position.
    pub location: String,
    /// 1-based number of the statement in the patch.
    pub number: usize,
    pub statement: String,
    pub severity: String,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// Statements that ran before it (and, without a transaction, stay applied).
    pub done_before: usize,
    pub transactional: bool,
}

fn extra(detail: &Option<String>, hint: &Option<String>) -> String {
    let mut text = String::new();
    if let Some(d) = detail {
        text.push_str(&format!(" (DETAIL: {d})"));
    }
    if let Some(h) = hint {
        text.push_str(&format!(" (HINT: {h})"));
    }
    text
}

/// Runs the patch and records it. In a transaction: the ledger is prepared and
/// re-checked under its lock, every statement runs, the ledger row is written, then
/// COMMIT; any error rolls everything back.
pub async fn run(
    client: &mut Client,
    patch: &Patch,
    record: &Record,
    transactional: bool,
) -> anyhow::Result<Applied> {
    let started = Instant::now();
    // A signal cancels the running statement (and so rolls the transaction back)
    // instead of leaving it running on the server after csi is gone.
    let _handled = interrupt::ChildGuard::enter();
    let cancel = client.cancel_token();
    let entry = if transactional {
        let tx = client
            .transaction()
            .await
            .pg_context("beginning the patch's transaction")?;
        recheck(&tx, record).await?;
        statements(&tx, &cancel, patch, true).await?;
        // The patch may have changed the role; the ledger row is csi's, written as the
        // session's own role.
        tx.batch_execute("reset role")
            .await
            .pg_context("resetting the role")?;
        let entry = ledger::insert(&tx, record).await?;
        tx.commit().await.pg_context("committing the patch")?;
        entry
    } else {
        statements(&*client, &cancel, patch, false).await?;
        client
            .batch_execute("reset role")
            .await
            .pg_context("resetting the role")?;
        let tx = client
            .transaction()
            .await
            .pg_context("beginning the ledger's transaction")?;
        recheck(&tx, record).await?;
        let entry = ledger::insert(&tx, record).await?;
        tx.commit().await.pg_context("committing the ledger row")?;
        entry
    };
    Ok(Applied {
        statements: patch.statements.len(),
        seconds: started.elapsed().as_secs_f64(),
        entry,
    })
}

async fn recheck(client: &impl GenericClient, record: &Record) -> anyhow::Result<()> {
    ledger::prepare(client).await?;
    let (found, _) = ledger::lookup(client, &record.file_name, &record.checksum).await?;
    if found.is_some() {
        ledger::refuse_applied(found.as_ref(), &record.file_name, &record.checksum).map_err(
            |e| {
                precondition(format!(
                    "{} (recorded meanwhile by another session)",
                    e.message
                ))
            },
        )?;
    }
    Ok(())
}

async fn statements(
    client: &impl GenericClient,
    cancel: &CancelToken,
    patch: &Patch,
    transactional: bool,
) -> anyhow::Result<()> {
    let mut signals = interrupt::subscribe();
    for (index, statement) in patch.statements.iter().enumerate() {
        if let Some(signal) = interrupt::received() {
            return Err(interrupted(signal, patch, index, transactional));
        }
        tracing::debug!(line = statement.line, "running: {}", statement.head());
        let running = client.batch_execute(&statement.text);
        tokio::pin!(running);
        let result = tokio::select! {
            result = &mut running => result,
            Ok(()) = signals.changed() => {
                let _ = cancel.cancel_query(tokio_postgres::NoTls).await;
                running.await
            }
        };
        if let Some(signal) = interrupt::received() {
            let done = index + usize::from(result.is_ok());
            return Err(interrupted(signal, patch, done, transactional));
        }
        if let Err(error) = result {
            let Some(db) = error.as_db_error() else {
                return Err(crate::error::failed(format!(
                    "{}: the database connection failed: {}",
                    patch.location(statement.line),
                    crate::database::pg_error::message(&error)
                ))
                .into());
            };
            let line = match db.position() {
                Some(ErrorPosition::Original(position)) => statement.line_at(*position as usize),
                _ => statement.line,
            };
            return Err(StatementFailed {
                location: patch.location(line),
                number: index + 1,
                statement: statement.head().to_owned(),
                severity: db.severity().to_owned(),
                code: db.code().code().to_owned(),
                message: db.message().to_owned(),
                detail: db.detail().map(str::to_owned),
                hint: db.hint().map(str::to_owned),
                done_before: index,
                transactional,
            }
            .into());
        }
    }
    Ok(())
}

/// Interrupted after `done` statements: the transaction is rolled back when dropped.
fn interrupted(
    signal: nix::sys::signal::Signal,
    patch: &Patch,
    done: usize,
    transactional: bool,
) -> anyhow::Error {
    let what = if transactional {
        "the patch's transaction was rolled back, nothing was changed".to_owned()
    } else if done == 0 {
        "no statement had run".to_owned()
    } else {
        format!(
            "statements 1-{done} of {} were applied and stay applied (--no-transaction), the ledger was not written",
            patch.statements.len()
        )
    };
    CsiError::new(
        Kind::Interrupted,
        format!("interrupted by {signal}: {what}"),
    )
    .into()
}
