//! Deciding what a run does: resume the restart in progress, begin a new one (the
//! downtime, the preflight proposals, the waves and the full list), or nothing.

use chrono::{DateTime, TimeDelta, Utc};
use tokio_postgres::Client;

use super::downtime;
use super::preflight::{self, Proposal};
use super::record::{self, GateMode, Plan, Restart};
use crate::error::{precondition, usage, CsiError};
use crate::journal::Journal;
use crate::params::{self, job_types, Catalog, Snapshot};
use crate::settings::Settings;

/// The environment's database: the connection and the parameters' catalog.
pub struct Db {
    pub client: Client,
    pub catalog: Catalog,
}

impl Db {
    pub async fn connect(settings: &Settings) -> anyhow::Result<Db> {
        let client = crate::database::connect_required(
            &settings.database,
            std::time::Duration::from_secs(10),
        )
        .await?;
        let catalog = Catalog::load(&client, &settings.database.schema).await?;
        Ok(Db { client, catalog })
    }
}

#[derive(Debug, Clone)]
pub struct WavesRequest {
    pub downtime: Option<std::time::Duration>,
    pub gate: GateMode,
}

#[derive(Debug)]
pub enum Decision {
    New(Plan),
    Resume(Restart),
    Nothing(String),
}

impl Decision {
    /// What the operator confirms; None when there is nothing to do.
    pub fn question(&self, env: &str) -> Option<String> {
        Some(match self {
            Decision::Nothing(_) => return None,
            Decision::New(plan) if plan.waves.is_empty() => {
                format!("Set the preflight parameters and the full job types list of `{env}`?")
            }
            Decision::New(plan) => format!(
                "Restart the job types of `{env}` in {} waves?",
                plan.waves.len()
            ),
            Decision::Resume(restart) => format!(
                "Resume the wave restart of `{env}` begun {}?",
                restart.begun_at.format("%Y-%m-%d %H:%M UTC")
            ),
        })
    }
}

#[derive(Debug)]
pub struct PreparedWaves {
    pub decision: Decision,
    pub current: Snapshot,
    /// For a resume whose preflight is not done: what it still has to write.
    pub preflight: Vec<Proposal>,
    /// The previous restart, when it was aborted or finished.
    pub previous: Option<Restart>,
}

pub async fn prepare(
    settings: &Settings,
    db: &Db,
    request: &WavesRequest,
    now: DateTime<Utc>,
) -> anyhow::Result<PreparedWaves> {
    let current = params::read(&db.client, &db.catalog).await?;
    let journal = Journal::for_state_dir(&settings.state_dir);
    let latest = record::latest(&journal)?;
    if let Some(restart) = latest.clone().filter(Restart::is_active) {
        if request.downtime.is_some() {
            return Err(precondition(format!(
                "a wave restart of `{}` is in progress (begun {}); --downtime applies to a new one",
                settings.env_name,
                restart.begun_at.format("%Y-%m-%d %H:%M UTC")
            ))
            .with_hint("run without --downtime to resume it, or stop it with --abort first")
            .into());
        }
        let preflight = if restart.preflight_done.is_none() {
            restart.plan.preflight.clone()
        } else {
            Vec::new()
        };
        return Ok(PreparedWaves {
            decision: Decision::Resume(restart),
            current,
            preflight,
            previous: None,
        });
    }
    let downtime = downtime::determine(settings, request.downtime, now)
        .await?
        .ok_or_else(|| {
            precondition("the downtime is unknown: no stop or restore in the journal and no job status change in the database")
                .with_hint("state it with --downtime, e.g. --downtime 5d")
        })?;
    if let Some(done) = latest.as_ref().filter(|r| r.finished.is_some()) {
        if request.downtime.is_none() && downtime.covered_by_restart_begun(done.begun_at) {
            let message =
                format!(
                "the restart after this downtime (since {}) already finished at {}; nothing to do",
                downtime.since.format("%Y-%m-%d %H:%M UTC"),
                done.finished.unwrap_or(done.begun_at).format("%Y-%m-%d %H:%M UTC"),
            );
            return Ok(PreparedWaves {
                decision: Decision::Nothing(message),
                current,
                preflight: Vec::new(),
                previous: latest,
            });
        }
    }
    let known = params::known_job_types(&db.catalog, &current, &settings.waves);
    let previous_list = current.get(job_types::COLUMN).map(str::to_owned);
    // After an aborted restart the row may still hold one of its waves: the full list
    // starts from what that restart found.
    let base = latest
        .as_ref()
        .filter(|r| r.aborted.is_some())
        .and_then(|r| r.plan.previous_job_types_list.clone())
        .or_else(|| previous_list.clone());
    let full_list = full_list(&settings.waves, base.as_deref());
    let waves = cumulative(&settings.waves, &known, &full_list)?;
    let waves = if downtime.length() <= TimeDelta::days(1) {
        Vec::new()
    } else {
        waves
    };
    let preflight = preflight::propose(&downtime, &current, &db.catalog);
    let plan = Plan {
        restart: String::new(),
        downtime,
        waves,
        full_list,
        previous_job_types_list: previous_list,
        preflight: preflight.clone(),
        gate: request.gate,
    };
    Ok(PreparedWaves {
        decision: Decision::New(plan),
        current,
        preflight,
        previous: latest,
    })
}

/// Each configured wave lists the types it adds; each wave's list holds the previous
/// ones, in the order of the full list.
pub fn cumulative(
    waves: &[Vec<String>],
    known: &[String],
    full_list: &[String],
) -> Result<Vec<Vec<String>>, CsiError> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut so_far: Vec<String> = Vec::new();
    for (i, wave) in waves.iter().enumerate() {
        job_types::validate(wave, known).map_err(|e| {
            usage(format!("waves[{i}] in csi.hcl: {}", e.message))
                .with_hint(e.hint.unwrap_or_default())
        })?;
        for t in wave {
            if so_far.contains(t) {
                return Err(usage(format!(
                    "waves in csi.hcl: `{t}` is in more than one wave"
                )));
            }
            so_far.push(t.clone());
        }
        out.push(
            full_list
                .iter()
                .filter(|t| so_far.contains(t))
                .cloned()
                .collect(),
        );
    }
    Ok(out)
}

/// The list before the restart, in its order, with the types of the waves it lacks
/// appended: what job_types_list holds at the end.
pub fn full_list(waves: &[Vec<String>], previous: Option<&str>) -> Vec<String> {
    let mut all = previous
        .and_then(|text| job_types::parse(text).ok())
        .map(|(types, _)| types)
        .unwrap_or_default();
    for t in waves.iter().flatten() {
        if !all.contains(t) {
            all.push(t.clone());
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn waves_accumulate_in_the_order_of_the_full_list() {
        let known = s(&["a", "b", "c", "t"]);
        let configured = [s(&["a"]), s(&["b", "c"])];
        let full = full_list(&configured, Some("['t', 'c', 'a']"));
        assert_eq!(full, s(&["t", "c", "a", "b"]));
        let waves = cumulative(&configured, &known, &full).unwrap();
        assert_eq!(waves, vec![s(&["a"]), s(&["c", "a", "b"])]);
        assert_eq!(full_list(&configured, None), s(&["a", "b", "c"]));
        assert!(cumulative(&[s(&["a"]), s(&["a"])], &known, &full).is_err());
        assert!(cumulative(&[s(&["x"])], &known, &full).is_err());
    }
}
