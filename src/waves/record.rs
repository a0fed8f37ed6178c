//! A wave restart as the journal tells it. Every step is journaled under the
//! operation `restart-waves` with the restart's id in its detail, so a restart that
//! spans several runs (resumed after a crash, a lost connection, `--detach`) reads
//! back as one record, and the next step is always known.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::downtime::Downtime;
use super::preflight::Proposal;
use crate::journal::{Entry, Event, Journal};

pub const OPERATION: &str = "restart-waves";
pub const BEGUN: &str = "restart_begun";
pub const PREFLIGHT_DONE: &str = "preflight_done";
pub const PARAMS_SET: &str = "params_set";
pub const WAVE_STARTED: &str = "wave_started";
pub const GATE_PASSED: &str = "gate_passed";
pub const GATE_SKIPPED: &str = "gate_skipped";
pub const FULL_LIST_SET: &str = "full_list_set";
pub const FINISHED: &str = "finished";
pub const ABORTED: &str = "aborted";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateMode {
    Sql,
    Manual,
}

/// What a restart will do, decided and confirmed once, journaled as `restart_begun`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub restart: String,
    pub downtime: Downtime,
    /// job_types_list of each wave: every wave holds the types of the previous ones.
    pub waves: Vec<Vec<String>>,
    /// Written after the last wave.
    pub full_list: Vec<String>,
    /// The value job_types_list held when the restart began.
    pub previous_job_types_list: Option<String>,
    pub preflight: Vec<Proposal>,
    pub gate: GateMode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateEnd {
    pub at: DateTime<Utc>,
    /// `sql`, `manual` or `skipped`.
    pub how: String,
    pub by: Option<String>,
    pub values: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WaveState {
    pub started: Option<DateTime<Utc>>,
    pub gate: Option<GateEnd>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Restart {
    pub begun_at: DateTime<Utc>,
    pub plan: Plan,
    pub preflight_done: Option<DateTime<Utc>>,
    pub waves: Vec<WaveState>,
    pub full_list_set: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub aborted: Option<(DateTime<Utc>, String)>,
}

/// The next thing a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Preflight,
    /// Index into the plan's waves (0-based).
    StartWave(usize),
    Gate(usize),
    FullList,
    Finish,
    /// Finished or aborted: nothing left.
    Over,
}

impl Restart {
    pub fn next(&self) -> Next {
        if self.finished.is_some() || self.aborted.is_some() {
            return Next::Over;
        }
        if self.preflight_done.is_none() {
            return Next::Preflight;
        }
        for (i, wave) in self.waves.iter().enumerate() {
            if wave.started.is_none() {
                return Next::StartWave(i);
            }
            if wave.gate.is_none() {
                return Next::Gate(i);
            }
        }
        if self.full_list_set.is_none() {
            return Next::FullList;
        }
        Next::Finish
    }

    pub fn is_active(&self) -> bool {
        self.next() != Next::Over
    }

    /// When a job type was enabled: the start of the first wave that holds it.
    pub fn enabled_since(&self, job_type: &str) -> Option<DateTime<Utc>> {
        self.plan
            .waves
            .iter()
            .zip(&self.waves)
            .find(|(types, _)| types.iter().any(|t| t == job_type))
            .and_then(|(_, state)| state.started)
    }

    /// The wave being run or waited for (0-based), if any started.
    pub fn current_wave(&self) -> Option<usize> {
        self.waves.iter().rposition(|w| w.started.is_some())
    }
}

/// The newest restart in the journal, with every step journaled for it since.
pub fn latest(journal: &Journal) -> anyhow::Result<Option<Restart>> {
    Ok(fold(journal.entries()?))
}

pub fn fold(entries: impl Iterator<Item = Entry>) -> Option<Restart> {
    let mut current: Option<Restart> = None;
    for entry in entries {
        if entry.operation != OPERATION {
            continue;
        }
        let Event::Step { step, detail } = entry.event else {
            continue;
        };
        if step == BEGUN {
            if let Ok(plan) = serde_json::from_value::<Plan>(detail) {
                current = Some(Restart {
                    begun_at: entry.time,
                    waves: vec![WaveState::default(); plan.waves.len()],
                    plan,
                    preflight_done: None,
                    full_list_set: None,
                    finished: None,
                    aborted: None,
                });
            }
            continue;
        }
        let Some(restart) = current.as_mut() else {
            continue;
        };
        if detail.get("restart").and_then(Value::as_str) != Some(restart.plan.restart.as_str()) {
            continue;
        }
        let wave = detail
            .get("wave")
            .and_then(Value::as_u64)
            .and_then(|w| (w as usize).checked_sub(1))
            .filter(|w| *w < restart.waves.len());
        let by = detail.get("by").and_then(Value::as_str).map(str::to_owned);
        match (step.as_str(), wave) {
            (PREFLIGHT_DONE, _) => {
                restart.preflight_done.get_or_insert(entry.time);
            }
            (WAVE_STARTED, Some(w)) => {
                restart.waves[w].started.get_or_insert(entry.time);
            }
            (GATE_PASSED | GATE_SKIPPED, Some(w)) if restart.waves[w].gate.is_none() => {
                let how = if step == GATE_SKIPPED {
                    "skipped".to_owned()
                } else {
                    detail
                        .get("how")
                        .and_then(Value::as_str)
                        .unwrap_or("sql")
                        .to_owned()
                };
                restart.waves[w].gate = Some(GateEnd {
                    at: entry.time,
                    how,
                    by,
                    values: detail.get("values").cloned().unwrap_or(Value::Null),
                });
            }
            (FULL_LIST_SET, _) => {
                restart.full_list_set.get_or_insert(entry.time);
            }
            (FINISHED, _) => {
                restart.finished.get_or_insert(entry.time);
            }
            (ABORTED, _) if restart.aborted.is_none() => {
                restart.aborted = Some((entry.time, by.unwrap_or_default()));
            }
            _ => {}
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> Plan {
        Plan {
            restart: "r1".into(),
            downtime: Downtime::new(Utc::now(), "test", Utc::now()),
            waves: vec![vec!["a".into()], vec!["a".into(), "b".into()]],
            full_list: vec!["a".into(), "b".into()],
            previous_job_types_list: None,
            preflight: vec![],
            gate: GateMode::Sql,
        }
    }

    #[test]
    fn steps_advance_the_record_and_nothing_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::for_state_dir(dir.path());
        let op = journal.start(OPERATION, json!({})).unwrap();
        op.step(BEGUN, serde_json::to_value(plan()).unwrap())
            .unwrap();
        let next = || latest(&journal).unwrap().unwrap().next();
        assert_eq!(next(), Next::Preflight);
        op.step(PREFLIGHT_DONE, json!({"restart": "r1"})).unwrap();
        assert_eq!(next(), Next::StartWave(0));
        op.step(WAVE_STARTED, json!({"restart": "r1", "wave": 1}))
            .unwrap();
        assert_eq!(next(), Next::Gate(0));
        // A step of another restart is ignored.
        op.step(GATE_PASSED, json!({"restart": "r0", "wave": 1}))
            .unwrap();
        assert_eq!(next(), Next::Gate(0));
        op.step(GATE_SKIPPED, json!({"restart": "r1", "wave": 1, "by": "x"}))
            .unwrap();
        assert_eq!(next(), Next::StartWave(1));
        op.step(WAVE_STARTED, json!({"restart": "r1", "wave": 2}))
            .unwrap();
        op.step(GATE_PASSED, json!({"restart": "r1", "wave": 2}))
            .unwrap();
        assert_eq!(next(), Next::FullList);
        op.step(FULL_LIST_SET, json!({"restart": "r1"})).unwrap();
        assert_eq!(next(), Next::Finish);
        op.step(FINISHED, json!({"restart": "r1"})).unwrap();
        let restart = latest(&journal).unwrap().unwrap();
        assert_eq!(restart.next(), Next::Over);
        assert_eq!(restart.waves[0].gate.as_ref().unwrap().how, "skipped");
        assert!(restart.enabled_since("b").unwrap() >= restart.enabled_since("a").unwrap());
    }
}
