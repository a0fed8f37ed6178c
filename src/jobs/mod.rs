//! Repairing jobs: selecting them (type, status, ids, tile, a time range on a date
//! column of the type's table), and walking them through statuses the way the
//! services do, through `job_status_changes` rows that the database's trigger checks.
//! Nothing here knows about the command line.

mod plan;
mod progress;
mod query;
mod rules;
mod schema;
mod selection;
mod status;
mod summary;
mod writer;

pub use plan::{plan_walk, StatusPlan};
pub use progress::WalkProgress;
pub use query::{counts, page, JobRow, StatusCount};
pub use rules::{Disallowed, Transitions};
pub use schema::{require_for_reading, require_for_walking};
pub use selection::{
    job_types, parse_ids, parse_time, resolve, DateColumn, IdRange, JobType, Resolved, Selection,
    TimeRange,
};
pub use status::{describe, path_text, Status, StatusNames};
pub use summary::{IdRanges, Reason, Summary, Tally};
pub use writer::{walk, Outcome, WalkOptions};

use crate::database::pg_error::PgContext;

/// How long a write waits for a job locked by a service before that job fails.
pub const LOCK_TIMEOUT: &str = "10s";

/// Session settings for a jobs connection: times in UTC, and a lock timeout so that a
/// job held by a service fails alone instead of stalling the walk.
pub async fn prepare_session(client: &tokio_postgres::Client) -> anyhow::Result<()> {
    client
        .batch_execute(&format!(
            "set time zone 'UTC'; set lock_timeout = '{LOCK_TIMEOUT}'"
        ))
        .await
        .pg_context("preparing the database session")
}
