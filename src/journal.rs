//! The journal: one append-only JSON-lines file per environment recording every
//! operation, its parameters, steps, outcome and timestamps. Later commands read it
//! (when was the system stopped?). Every line passes through the secret redactor.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{failed, CsiError};
use crate::secret::redact;

const JOURNAL_FILE: &str = "journal.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub time: DateTime<Utc>,
    /// Groups the entries of one operation.
    pub operation_id: String,
    /// The operation, e.g. `stop`, `restore-db`.
    pub operation: String,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        user: String,
        params: Value,
    },
    Step {
        step: String,
        #[serde(default)]
        detail: Value,
    },
    Finished {
        outcome: Outcome,
        #[serde(default)]
        message: String,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    DryRun,
    Failed,
    Refused,
    Precondition,
    VerificationFailed,
    RolledBack,
    Drift,
    Interrupted,
}

impl Outcome {
    pub fn from_kind(kind: crate::error::Kind) -> Self {
        use crate::error::Kind;
        match kind {
            Kind::Failed | Kind::Usage => Outcome::Failed,
            Kind::Refused => Outcome::Refused,
            Kind::Precondition => Outcome::Precondition,
            Kind::Verification => Outcome::VerificationFailed,
            Kind::RolledBack => Outcome::RolledBack,
            Kind::Drift => Outcome::Drift,
            Kind::Interrupted => Outcome::Interrupted,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    pub fn for_state_dir(state_dir: &Path) -> Self {
        Journal {
            path: state_dir.join(JOURNAL_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry and flushes it to disk before returning.
    pub fn append(&self, entry: &Entry) -> Result<(), CsiError> {
        let line = redact(
            &serde_json::to_string(entry)
                .map_err(|e| failed(format!("cannot encode the journal entry: {e}")))?,
        );
        if let Some(dir) = self.path.parent() {
            fs_err::create_dir_all(dir)
                .map_err(|e| failed(format!("cannot create the state directory: {e}")))?;
        }
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| failed(format!("cannot open the journal: {e}")))?;
        file.write_all(format!("{line}\n").as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| failed(format!("cannot write the journal: {e}")))
    }

    /// Streams the entries, oldest first, without loading the file. Lines that do not
    /// parse (a torn last line after a crash) are skipped.
    pub fn entries(&self) -> Result<impl Iterator<Item = Entry>, CsiError> {
        let file = match fs_err::File::open(&self.path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(failed(format!("cannot read the journal: {e}"))),
        };
        Ok(file
            .into_iter()
            .flat_map(|f| BufReader::new(f).lines())
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str(&line).ok()))
    }

    /// The newest entry matching `predicate`.
    pub fn last_matching(
        &self,
        predicate: impl Fn(&Entry) -> bool,
    ) -> Result<Option<Entry>, CsiError> {
        Ok(self.entries()?.filter(|e| predicate(e)).last())
    }

    pub fn start(&self, operation: &str, params: Value) -> Result<Operation, CsiError> {
        let op = Operation {
            journal: self.clone(),
            id: new_operation_id(),
            name: operation.to_owned(),
        };
        op.write(Event::Started {
            user: crate::lock::current_user(),
            params,
        })?;
        Ok(op)
    }
}

/// An operation being recorded; steps and the outcome are appended as they happen.
#[derive(Debug, Clone)]
pub struct Operation {
    journal: Journal,
    id: String,
    name: String,
}

impl Operation {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn step(&self, step: &str, detail: Value) -> Result<(), CsiError> {
        self.write(Event::Step {
            step: step.to_owned(),
            detail,
        })
    }

    pub fn finish(&self, outcome: Outcome, message: &str) -> Result<(), CsiError> {
        self.write(Event::Finished {
            outcome,
            message: message.to_owned(),
        })
    }

    fn write(&self, event: Event) -> Result<(), CsiError> {
        self.journal.append(&Entry {
            time: Utc::now(),
            operation_id: self.id.clone(),
            operation: self.name.clone(),
            event,
        })
    }
}

fn new_operation_id() -> String {
    format!(
        "{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_round_trip_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::for_state_dir(dir.path());
        let op = journal
            .start("stop", serde_json::json!({"expect": 13}))
            .unwrap();
        op.step("plan", serde_json::json!({"destroy": 13})).unwrap();
        op.finish(Outcome::Ok, "stopped").unwrap();
        let entries: Vec<Entry> = journal.entries().unwrap().collect();
        assert_eq!(entries.len(), 3);
        assert!(entries.iter().all(|e| e.operation_id == op.id()));
        assert!(matches!(
            entries[2].event,
            Event::Finished {
                outcome: Outcome::Ok,
                ..
            }
        ));
        let last = journal
            .last_matching(|e| e.operation == "stop")
            .unwrap()
            .unwrap();
        assert_eq!(last, entries[2]);
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::for_state_dir(dir.path());
        journal.start("stop", Value::Null).unwrap();
        let mut text = fs_err::read_to_string(journal.path()).unwrap();
        text.push_str("{\"time\": \"2026-");
        fs_err::write(journal.path(), text).unwrap();
        assert_eq!(journal.entries().unwrap().count(), 1);
    }

    #[test]
    fn registered_secrets_never_reach_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::for_state_dir(dir.path());
        crate::secret::register("journal-planted-secret");
        journal
            .start("x", serde_json::json!({"arg": "journal-planted-secret"}))
            .unwrap();
        let text = fs_err::read_to_string(journal.path()).unwrap();
        assert!(!text.contains("journal-planted-secret"));
    }
}
