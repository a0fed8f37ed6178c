//! Walking the selected jobs through a list of statuses: every step checked against
//! the rules before anything is written, then one transaction per job that inserts
//! the status-change rows (the database's trigger checks them again and keeps
//! `parent_jobs` in step), with a pause between jobs because the services are live.
//!
//! A signal stops the walk between two jobs, never inside one.

use std::time::Duration;

use crate::database::pg_error::PgContext;
use tokio_postgres::Client;

use super::query::{Batches, JobRow, BATCH};
use super::rules::Transitions;
use super::selection::Resolved;
use super::status::{describe, Status};
use super::summary::Summary;
use crate::database::dump::quote_ident;
use crate::error::failed;
use crate::interrupt;

#[derive(Debug, Clone)]
pub struct WalkOptions {
    pub path: Vec<Status>,
    pub pause: Duration,
    /// At most this many jobs of the selection (in id order).
    pub limit: Option<u64>,
    pub dry_run: bool,
}

/// What happened to one job.
#[derive(Debug, Clone)]
pub enum Outcome {
    WouldWrite,
    Changed,
    Skipped(String),
    Failed(String),
}

/// Streams the selection and walks each job; `on_job` sees every job as it is done.
pub async fn walk(
    client: &mut Client,
    resolved: &Resolved,
    rules: &Transitions,
    options: &WalkOptions,
    mut on_job: impl FnMut(&JobRow, &Outcome),
) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        dry_run: options.dry_run,
        ..Summary::default()
    };
    // While writing, a signal is handled here (between jobs), not by exiting mid-job.
    let _handled = (!options.dry_run).then(interrupt::ChildGuard::enter);
    let mut signals = interrupt::subscribe();
    let mut batches = Batches::start(client, resolved).await?;
    let mut wrote = false;
    'walk: loop {
        let remaining = options.limit.map_or(BATCH, |l| (l - summary.seen) as i64);
        if remaining <= 0 {
            break;
        }
        let Some(batch) = batches.next(client, remaining).await? else {
            break;
        };
        for job in batch {
            if interrupt::received().is_some() {
                summary.interrupted = true;
                break 'walk;
            }
            summary.seen += 1;
            let outcome = match rules.check_path(job.status, &options.path) {
                Err(disallowed) => Outcome::Skipped(disallowed.to_string()),
                Ok(()) if options.dry_run => Outcome::WouldWrite,
                Ok(()) => {
                    if wrote && pause(options.pause, &mut signals).await {
                        summary.seen -= 1;
                        summary.interrupted = true;
                        break 'walk;
                    }
                    wrote = true;
                    write_one(client, resolved, &job, &options.path).await?
                }
            };
            match &outcome {
                Outcome::WouldWrite | Outcome::Changed => {
                    summary.changed += 1;
                    summary.status_changes += options.path.len() as u64;
                    summary.changed_ids.push(job.id);
                }
                Outcome::Skipped(reason) => summary.skipped.add(job.id, reason),
                Outcome::Failed(reason) => summary.failed.add(job.id, reason),
            }
            on_job(&job, &outcome);
        }
    }
    Ok(summary)
}

/// Sleeps, unless a signal comes first (then true).
async fn pause(
    duration: Duration,
    signals: &mut tokio::sync::watch::Receiver<Option<nix::sys::signal::Signal>>,
) -> bool {
    if interrupt::received().is_some() {
        return true;
    }
    if duration.is_zero() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(duration) => false,
        Ok(()) = signals.changed() => true,
    }
}

/// One job, one transaction: lock the job, check it still has the status it was
/// selected with, insert one status-change row per step, check the trigger moved
/// `parent_jobs` to the last one, commit. Database errors fail this job only; a lost
/// connection stops the walk.
async fn write_one(
    client: &mut Client,
    resolved: &Resolved,
    job: &JobRow,
    path: &[Status],
) -> anyhow::Result<Outcome> {
    let schema = quote_ident(&resolved.schema);
    let tx = client
        .transaction()
        .await
        .pg_context("beginning a transaction")?;
    let current = tx
        .query_opt(
            &format!(
                "select last_status_id::int2 from {schema}.parent_jobs where id = $1 for update"
            ),
            &[&job.id],
        )
        .await;
    let current = match current {
        Ok(Some(row)) => {
            crate::database::decode::get::<Option<i16>>(&row, 0, "parent_jobs.last_status_id")?
                .map(Status)
        }
        Ok(None) => return Ok(Outcome::Skipped("the job no longer exists".to_owned())),
        Err(e) => return per_job(e, job.id),
    };
    if current != job.status {
        return Ok(Outcome::Skipped(format!(
            "its status changed since it was selected (was {}, now {})",
            describe(job.status),
            describe(current)
        )));
    }
    let insert = format!(
        "insert into {schema}.job_status_changes (fk_parent_job_id, job_status, time) \
         values ($1, $2, clock_timestamp())"
    );
    for status in path {
        if let Err(e) = tx.execute(&insert, &[&job.id, &status.0]).await {
            return per_job(e, job.id);
        }
    }
    let after = tx
        .query_one(
            &format!("select last_status_id::int2 from {schema}.parent_jobs where id = $1"),
            &[&job.id],
        )
        .await;
    let after = match after {
        Ok(row) => {
            crate::database::decode::get::<Option<i16>>(&row, 0, "parent_jobs.last_status_id")?
                .map(Status)
        }
        Err(e) => return per_job(e, job.id),
    };
    let last = path.last().copied();
    if after != last {
        return Ok(Outcome::Failed(format!(
            "parent_jobs was not kept in step (last_status_id is {} after the inserts, expected {}); rolled back",
            describe(after),
            describe(last)
        )));
    }
    match tx.commit().await {
        Ok(()) => Ok(Outcome::Changed),
        Err(e) => per_job(e, job.id),
    }
}

/// A database error fails the job (the transaction is rolled back when dropped); any
/// other error (connection lost) ends the walk.
fn per_job(error: tokio_postgres::Error, id: i64) -> anyhow::Result<Outcome> {
    match error.as_db_error() {
        Some(db) => {
            let mut text = db.message().replace(&format!("job {id}"), "the job");
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" ({hint})"));
            }
            Ok(Outcome::Failed(text))
        }
        None => Err(failed(format!(
            "the database connection failed during the walk: {}",
            crate::database::pg_error::message(&error)
        ))
        .into()),
    }
}
