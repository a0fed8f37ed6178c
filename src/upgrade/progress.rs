//! An upgrade's progress, kept in `<state_dir>/upgrade.json` (rewritten atomically
//! after every step) so that a run that was interrupted resumes from the first step
//! not done. The journal has the same steps, for history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{failed, CsiError};

pub const FILE: &str = "upgrade.json";
/// The journal's operation name.
pub const OPERATION: &str = "upgrade";

/// A migration of the upgrade, as the ledger will know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    pub file_name: String,
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, hex (the ledger's checksum).
    pub checksum: String,
    pub statements: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Begun and not over: the next run resumes it.
    Unfinished,
    Finished,
    /// The rollout failed and every service went back to its previous version.
    RolledBack,
    /// Given up by `--abandon`.
    Abandoned,
    /// Stopped by a failure before anything changed: the next run begins afresh.
    Failed,
}

/// One step of the upgrade, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Rehearsal,
    SafetyBackup,
    /// Index into the migrations.
    Migration(usize),
    Rollout,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpgradeRecord {
    pub id: String,
    pub begun_at: DateTime<Utc>,
    pub tag: String,
    pub migrations: Vec<Migration>,
    pub safety_archive: String,
    /// Each service's tag in its job file when the upgrade began (what a rollback
    /// brings back).
    pub previous_tags: BTreeMap<String, String>,
    /// The keys of the steps done (`rehearsal`, `safety_backup`, `migration:<file>`,
    /// `rollout`).
    pub done: Vec<String>,
    /// The job files were rewritten to the new tag: from here on, files and Nomad may
    /// differ until the rollout ends.
    pub files_written: bool,
    pub state: State,
}

impl UpgradeRecord {
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        if !self.migrations.is_empty() {
            steps.push(Step::Rehearsal);
        }
        steps.push(Step::SafetyBackup);
        steps.extend((0..self.migrations.len()).map(Step::Migration));
        steps.push(Step::Rollout);
        steps
    }

    pub fn key(&self, step: Step) -> String {
        match step {
            Step::Rehearsal => "rehearsal".into(),
            Step::SafetyBackup => "safety_backup".into(),
            Step::Migration(i) => format!("migration:{}", self.migrations[i].file_name),
            Step::Rollout => "rollout".into(),
        }
    }

    pub fn is_done(&self, step: Step) -> bool {
        let key = self.key(step);
        self.done.contains(&key)
    }

    pub fn mark_done(&mut self, step: Step) {
        if !self.is_done(step) {
            let key = self.key(step);
            self.done.push(key);
        }
    }

    /// The first step not done, if any.
    pub fn next(&self) -> Option<Step> {
        self.steps().into_iter().find(|s| !self.is_done(*s))
    }

    /// The migrations applied so far (recorded in the ledger).
    pub fn applied_migrations(&self) -> Vec<&str> {
        (0..self.migrations.len())
            .filter(|i| self.is_done(Step::Migration(*i)))
            .map(|i| self.migrations[i].file_name.as_str())
            .collect()
    }

    /// Whether a run with these arguments continues this upgrade.
    pub fn same_request(&self, tag: &str, migrations: &[Migration]) -> bool {
        let names = |m: &[Migration]| {
            m.iter()
                .map(|m| (m.file_name.clone(), m.checksum.clone()))
                .collect::<Vec<_>>()
        };
        self.tag == tag && names(&self.migrations) == names(migrations)
    }

    pub fn describe_request(&self) -> String {
        let mut text = format!("--tag {}", self.tag);
        for m in &self.migrations {
            text.push_str(&format!(" --migrate {}", m.path.display()));
        }
        text
    }
}

/// The upgrade recorded under `state_dir`, if any.
pub fn load(state_dir: &Path) -> Result<Option<UpgradeRecord>, CsiError> {
    let path = state_dir.join(FILE);
    let text = match fs_err::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(failed(format!("cannot read the upgrade's progress: {e}"))),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        failed(format!(
            "{} is not an upgrade's progress: {e}",
            path.display()
        ))
        .with_hint(
            "`csi env history --steps` has the same steps; move the file away to start afresh",
        )
    })
}

/// Writes the progress atomically (a temporary file renamed over the old one).
pub fn save(state_dir: &Path, progress: &UpgradeRecord) -> Result<(), CsiError> {
    let path = state_dir.join(FILE);
    let text = serde_json::to_string_pretty(progress)
        .map_err(|e| failed(format!("cannot encode the upgrade's progress: {e}")))?;
    fs_err::create_dir_all(state_dir)
        .map_err(|e| failed(format!("cannot create the state directory: {e}")))?;
    crate::atomic_file::write_atomically(&path, &format!("{text}\n"))
        .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(migrations: usize) -> UpgradeRecord {
        UpgradeRecord {
            id: "u1".into(),
            begun_at: Utc::now(),
            tag: "git-0123abcd".into(),
            migrations: (0..migrations)
                .map(|i| Migration {
                    file_name: format!("{i}.sql"),
                    path: format!("patch/{i}.sql").into(),
                    checksum: format!("c{i}"),
                    statements: 1,
                })
                .collect(),
            safety_archive: "pre-upgrade-x".into(),
            previous_tags: BTreeMap::new(),
            done: Vec::new(),
            files_written: false,
            state: State::Unfinished,
        }
    }

    #[test]
    fn the_next_step_is_the_first_not_done() {
        let mut p = progress(2);
        assert_eq!(p.next(), Some(Step::Rehearsal));
        p.mark_done(Step::Rehearsal);
        p.mark_done(Step::SafetyBackup);
        p.mark_done(Step::Migration(0));
        assert_eq!(p.next(), Some(Step::Migration(1)));
        assert_eq!(p.applied_migrations(), vec!["0.sql"]);
        p.mark_done(Step::Migration(1));
        p.mark_done(Step::Rollout);
        assert_eq!(p.next(), None);
    }

    #[test]
    fn without_migrations_there_is_no_rehearsal() {
        assert_eq!(progress(0).steps(), vec![Step::SafetyBackup, Step::Rollout]);
    }

    #[test]
    fn a_different_tag_or_migration_is_another_request() {
        let p = progress(1);
        assert!(p.same_request("git-0123abcd", &p.migrations.clone()));
        assert!(!p.same_request("git-89abcdef", &p.migrations.clone()));
        let mut edited = p.migrations.clone();
        edited[0].checksum = "other".into();
        assert!(!p.same_request("git-0123abcd", &edited));
        assert!(!p.same_request("git-0123abcd", &[]));
    }

    #[test]
    fn progress_survives_a_round_trip_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let mut p = progress(1);
        p.mark_done(Step::SafetyBackup);
        save(dir.path(), &p).unwrap();
        let back = load(dir.path()).unwrap().unwrap();
        assert_eq!(back.done, vec!["safety_backup"]);
        assert_eq!(back.state, State::Unfinished);
    }
}
