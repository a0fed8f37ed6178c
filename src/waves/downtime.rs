//! How long the system was down, for a wave restart: `--downtime`, else the newest of
//! the journal's last stop, the downtime `csi env start` computed, and the last full
//! `restore-db` (whose backup's age is the downtime); else the newest job status change.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::error::usage;
use crate::journal::{Entry, Event, Journal, Outcome};
pub use crate::power::Downtime;
use crate::settings::Settings;

/// The restore-db step that names the archive and when it was dumped.
pub const RESTORE_ARCHIVE_STEP: &str = "archive_resolved";

pub async fn determine(
    settings: &Settings,
    flag: Option<std::time::Duration>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Downtime>> {
    if let Some(length) = flag {
        let since = TimeDelta::from_std(length)
            .ok()
            .and_then(|length| now.checked_sub_signed(length))
            .ok_or_else(|| usage("--downtime is longer than csi can count"))?;
        return Ok(Some(Downtime::new(since, "--downtime", now)));
    }
    let journal = Journal::for_state_dir(&settings.state_dir);
    if let Some(found) = from_journal(journal.entries()?) {
        let mut downtime = Downtime::new(found.since, found.source, now);
        downtime.noted_at = Some(found.at);
        return Ok(Some(downtime));
    }
    let from_database = crate::power::since_last_activity(settings).await?;
    Ok(from_database
        .map(|d| Downtime::new(d.since, "the newest job status change in the database", now)))
}

#[derive(Default)]
struct Op {
    name: String,
    params: Value,
    steps: Vec<(String, Value)>,
    ok_at: Option<DateTime<Utc>>,
}

/// The newest of: the last successful stop, the last successful start's computed
/// downtime, the last successful full restore of the environment's own database.
pub fn from_journal(entries: impl Iterator<Item = Entry>) -> Option<FromJournal> {
    let mut ops: HashMap<String, Op> = HashMap::new();
    for entry in entries {
        if !matches!(entry.operation.as_str(), "stop" | "start" | "restore-db") {
            continue;
        }
        let op = ops.entry(entry.operation_id.clone()).or_default();
        op.name = entry.operation.clone();
        match entry.event {
            Event::Started { params, .. } => op.params = params,
            Event::Step { step, detail } => op.steps.push((step, detail)),
            Event::Finished { outcome, .. } => {
                if outcome == Outcome::Ok {
                    op.ok_at = Some(entry.time);
                }
            }
        }
    }
    // (when it happened, since, source)
    let mut candidates: Vec<(DateTime<Utc>, DateTime<Utc>, String)> = Vec::new();
    for op in ops.values() {
        let Some(at) = op.ok_at else { continue };
        match op.name.as_str() {
            "stop" => candidates.push((at, at, "the last stop in the journal".into())),
            "start" => {
                if let Some(since) = step_time(op, "downtime", &["since"]) {
                    candidates.push((
                        at,
                        since,
                        format!(
                            "the downtime `csi env start` computed at {}",
                            at.format("%Y-%m-%d %H:%M UTC")
                        ),
                    ));
                }
            }
            "restore-db" if restores_the_environment(&op.params) => {
                if let Some(dumped) = step_time(op, RESTORE_ARCHIVE_STEP, &["dumped_at", "time"]) {
                    let archive = op
                        .steps
                        .iter()
                        .find(|(s, _)| s == RESTORE_ARCHIVE_STEP)
                        .and_then(|(_, d)| d.get("archive").or_else(|| d.get("name")))
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned();
                    candidates.push((
                        at,
                        dumped,
                        format!(
                            "the age of backup {archive}, restored at {}",
                            at.format("%Y-%m-%d %H:%M UTC")
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    candidates
        .into_iter()
        .max_by_key(|(at, _, _)| *at)
        .map(|(at, since, source)| FromJournal { since, source, at })
}

/// A downtime found in the journal, and when the operation that tells it ended.
pub struct FromJournal {
    pub since: DateTime<Utc>,
    pub source: String,
    pub at: DateTime<Utc>,
}

/// A full restore into the environment's database (not `--to`, not `--tables`).
fn restores_the_environment(params: &Value) -> bool {
    let external = params.get("to").is_some_and(|v| !v.is_null());
    let selective = params
        .get("tables")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    !external && !selective
}

fn step_time(op: &Op, step: &str, keys: &[&str]) -> Option<DateTime<Utc>> {
    let (_, detail) = op.steps.iter().rev().find(|(s, _)| s == step)?;
    keys.iter()
        .find_map(|k| detail.get(*k).and_then(Value::as_str))
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_restart_begun_before_an_old_archive_was_restored_does_not_cover_it() {
        let now = Utc::now();
        let mut downtime = Downtime::new(now - TimeDelta::days(3), "restore", now);
        downtime.noted_at = Some(now - TimeDelta::hours(1));
        assert!(!downtime.covered_by_restart_begun(now - TimeDelta::hours(2)));
        assert!(downtime.covered_by_restart_begun(now - TimeDelta::minutes(30)));
        downtime.noted_at = None;
        assert!(downtime.covered_by_restart_begun(now - TimeDelta::hours(2)));
    }

    fn entry(op: &str, id: &str, hours_ago: i64, event: Event) -> Entry {
        Entry {
            time: Utc::now() - TimeDelta::hours(hours_ago),
            operation_id: id.into(),
            operation: op.into(),
            event,
        }
    }

    fn ok() -> Event {
        Event::Finished {
            outcome: Outcome::Ok,
            message: String::new(),
        }
    }

    fn started(params: Value) -> Event {
        Event::Started {
            user: "op".into(),
            params,
        }
    }

    #[test]
    fn the_last_stop_counts_when_nothing_came_after() {
        let entries = vec![
            entry("stop", "a", 100, started(json!({}))),
            entry("stop", "a", 99, ok()),
        ];
        let FromJournal { since, source, .. } = from_journal(entries.into_iter()).unwrap();
        assert!(
            (Utc::now() - since - TimeDelta::hours(99))
                .num_seconds()
                .abs()
                < 5
        );
        assert!(source.contains("stop"));
    }

    #[test]
    fn a_later_full_restore_counts_its_backup_age() {
        let dumped = (Utc::now() - TimeDelta::hours(50)).to_rfc3339();
        let entries = vec![
            entry("stop", "a", 400, started(json!({}))),
            entry("stop", "a", 399, ok()),
            entry(
                "restore-db",
                "b",
                2,
                started(json!({"to": null, "tables": []})),
            ),
            entry(
                "restore-db",
                "b",
                2,
                Event::Step {
                    step: RESTORE_ARCHIVE_STEP.into(),
                    detail: json!({"archive": "pgdump_x", "dumped_at": dumped}),
                },
            ),
            entry("restore-db", "b", 1, ok()),
        ];
        let FromJournal { since, source, .. } = from_journal(entries.into_iter()).unwrap();
        assert!(
            (Utc::now() - since - TimeDelta::hours(50))
                .num_seconds()
                .abs()
                < 5
        );
        assert!(source.contains("pgdump_x"), "{source}");
    }

    #[test]
    fn selective_or_external_restores_do_not_count() {
        let dumped = (Utc::now() - TimeDelta::hours(50)).to_rfc3339();
        for params in [
            json!({"to": "x@y/z", "tables": []}),
            json!({"to": null, "tables": ["t"]}),
        ] {
            let entries = vec![
                entry("restore-db", "b", 2, started(params)),
                entry(
                    "restore-db",
                    "b",
                    2,
                    Event::Step {
                        step: RESTORE_ARCHIVE_STEP.into(),
                        detail: json!({"archive": "pgdump_x", "dumped_at": dumped}),
                    },
                ),
                entry("restore-db", "b", 1, ok()),
            ];
            assert!(from_journal(entries.into_iter()).is_none());
        }
    }

    #[test]
    fn a_start_hands_over_its_downtime() {
        let since = (Utc::now() - TimeDelta::hours(80)).to_rfc3339();
        let entries = vec![
            entry("start", "s", 3, started(json!({}))),
            entry(
                "start",
                "s",
                2,
                Event::Step {
                    step: "downtime".into(),
                    detail: json!({"since": since, "source": "database"}),
                },
            ),
            entry("start", "s", 2, ok()),
        ];
        let FromJournal {
            since: found,
            source,
            ..
        } = from_journal(entries.into_iter()).unwrap();
        assert!(
            (Utc::now() - found - TimeDelta::hours(80))
                .num_seconds()
                .abs()
                < 5
        );
        assert!(source.contains("csi env start"));
    }
}
