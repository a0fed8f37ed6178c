//! How long the system was down, and what the reference advises after such a downtime.

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};

use crate::journal::{Event, Journal, Outcome};
use crate::settings::Settings;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Downtime {
    pub since: DateTime<Utc>,
    /// `journal` (the last stop) or `database` (the newest job status change).
    pub source: &'static str,
}

impl Downtime {
    pub fn length(&self, now: DateTime<Utc>) -> TimeDelta {
        now - self.since
    }
}

/// The end of the last successful stop recorded in the journal.
pub fn last_stop(journal: &Journal) -> anyhow::Result<Option<DateTime<Utc>>> {
    let entry = journal.last_matching(|e| {
        e.operation == "stop"
            && matches!(
                e.event,
                Event::Finished {
                    outcome: Outcome::Ok,
                    ..
                }
            )
    })?;
    Ok(entry.map(|e| e.time))
}

/// From the journal's last stop; else from the newest job status change.
pub async fn since_last_activity(settings: &Settings) -> anyhow::Result<Option<Downtime>> {
    let journal = Journal::for_state_dir(&settings.state_dir);
    if let Some(since) = last_stop(&journal)? {
        return Ok(Some(Downtime {
            since,
            source: "journal",
        }));
    }
    let client =
        crate::database::connect(&settings.database, std::time::Duration::from_secs(10)).await?;
    let table = format!(
        "{}.job_status_changes",
        crate::database::dump::quote_ident(&settings.database.schema)
    );
    let query = format!("select max(time) from {table}");
    let row = client
        .query_one(query.as_str(), &[])
        .await
        .with_context(|| format!("reading the newest job status change of {table}"))?;
    // `timestamp` (UTC) in production, `timestamptz` accepted too.
    let newest = crate::database::decode::timestamp(&row, 0, &format!("{table}.time"))?;
    Ok(newest.map(|since| Downtime {
        since,
        source: "database",
    }))
}

/// The reference's rule: up to a day, nothing more; longer, the wave restart.
pub fn advice(env: &str, length: TimeDelta) -> String {
    if length <= TimeDelta::days(1) {
        "downtime of at most one day: all job types can run at once; nothing more to do".into()
    } else {
        format!(
            "downtime longer than one day: restart job types in waves with `csi env restart-waves {env}` \
             (check rlies1s2_min/max_search_window_days exceed the downtime in days{})",
            if length > TimeDelta::days(2) {
                ", and set gfsc_daily_jobs_creation_start_date"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_follows_the_reference_thresholds() {
        assert!(advice("prod", TimeDelta::hours(20)).contains("nothing more"));
        let two_days = advice("prod", TimeDelta::hours(36));
        assert!(two_days.contains("csi env restart-waves prod"));
        assert!(!two_days.contains("gfsc"));
        assert!(advice("prod", TimeDelta::days(3)).contains("gfsc_daily_jobs_creation_start_date"));
    }
}
