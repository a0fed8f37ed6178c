//! How long the system was down, and what the reference advises after such a downtime.

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};

use crate::journal::{Event, Journal, Outcome};
use crate::settings::Settings;

/// How long the system was down: the one type `start` reports and journals and a wave
/// restart keeps in its state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Downtime {
    pub since: DateTime<Utc>,
    /// In words: where `since` comes from.
    pub source: String,
    /// Its length when it was measured (by `start`, or as a wave restart began).
    pub seconds: i64,
    /// When the event that set `since` was journaled (a restore of an old archive sets
    /// `since` far back, but a restart begun after the restore already covered it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noted_at: Option<DateTime<Utc>>,
}

impl Downtime {
    pub fn new(since: DateTime<Utc>, source: impl Into<String>, now: DateTime<Utc>) -> Self {
        Downtime {
            since,
            source: source.into(),
            seconds: (now - since).num_seconds().max(0),
            noted_at: None,
        }
    }

    /// Whether a restart begun at `begun_at` came after this downtime was known.
    pub fn covered_by_restart_begun(&self, begun_at: DateTime<Utc>) -> bool {
        begun_at >= self.noted_at.unwrap_or(self.since)
    }

    pub fn length(&self) -> TimeDelta {
        TimeDelta::seconds(self.seconds)
    }

    pub fn days(&self) -> f64 {
        self.seconds as f64 / 86_400.0
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
    let now = Utc::now();
    if let Some(since) = last_stop(&journal)? {
        return Ok(Some(Downtime::new(
            since,
            "the last stop in the journal",
            now,
        )));
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
    Ok(newest
        .map(|since| Downtime::new(since, "the newest job status change in the database", now)))
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
