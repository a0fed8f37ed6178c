//! What `csi env jobs` needs of the schema, checked before it reads or writes: the
//! columns its queries name, and for a walk the trigger that checks each transition
//! (without it nothing would refuse a walk the system does not authorize).

use crate::database::require::{require_columns, require_insert_trigger, Needed};

/// Production's name for the trigger (init_database.sql).
const TRANSITION_TRIGGER: &str = "check_status_change";

/// The tables and columns every jobs command reads.
pub async fn require_for_reading(
    client: &tokio_postgres::Client,
    schema: &str,
) -> anyhow::Result<()> {
    require_columns(
        client,
        &Needed::new(
            schema,
            "parent_jobs",
            "csi env jobs selects and lists the jobs from it",
        ),
        &[
            "id",
            "name",
            "tile_id",
            "last_status_id",
            "last_status_change_date",
        ],
    )
    .await
}

/// What a walk (set-status, retry) needs besides: the status-change table it writes
/// and its transition trigger.
pub async fn require_for_walking(
    client: &tokio_postgres::Client,
    schema: &str,
) -> anyhow::Result<()> {
    require_columns(
        client,
        &Needed::new(
            schema,
            "job_status_changes",
            "csi env jobs writes each status change as a row of it",
        ),
        &["fk_parent_job_id", "job_status", "time"],
    )
    .await?;
    require_insert_trigger(
        client,
        &Needed::new(
            schema,
            "job_status_changes",
            "csi env jobs relies on it to refuse the transitions the system does not authorize; nothing was written",
        ),
        TRANSITION_TRIGGER,
    )
    .await
}
