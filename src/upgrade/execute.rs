//! Running the upgrade's steps in order from the first one not done, each saved to
//! the progress file and journaled once done.

use std::time::Duration;

use serde_json::{json, Value};

use super::plan::describe;
use super::preflight::PreparedUpgrade;
use super::progress::{self, State, Step, UpgradeRecord};
use crate::borg::Borg;
use crate::dbpatch::{self, rehearse, Patch, Record, RehearsalRequest, ScratchPlace};
use crate::error::CsiError;
use crate::journal::Operation;
use crate::nomad::NomadClient;
use crate::output::Printer;
use crate::settings::Settings;

/// What the steps run with.
pub struct UpgradeRunner<'a> {
    pub printer: &'a Printer,
    pub settings: &'a Settings,
    pub nomad: &'a NomadClient,
    /// Each service's rollout (and rollback) may take this long.
    pub timeout: Duration,
    /// How long a migration's statement waits for a lock.
    pub lock_timeout: Duration,
}

/// Runs every step not done; returns the journal's closing message.
pub async fn execute(
    runner: &UpgradeRunner<'_>,
    prepared: PreparedUpgrade,
    op: &Operation,
) -> anyhow::Result<String> {
    let PreparedUpgrade {
        mut progress,
        resuming,
        patches,
        target,
        facts,
        recovered,
        ..
    } = prepared;
    let state_dir = &runner.settings.state_dir;
    progress::save(state_dir, &progress)?;
    op.step(
        if resuming {
            "upgrade_resumed"
        } else {
            "upgrade_begun"
        },
        json!({ "upgrade": progress, "recovered": recovered }),
    )?;
    let steps = Steps {
        runner,
        records: (0..patches.len())
            .map(|i| record(&progress, &patches[i], i))
            .collect(),
        patches,
        target,
        facts,
        op,
    };
    if let Err(error) = steps.run(&mut progress).await {
        let changed = !progress.applied_migrations().is_empty() || progress.files_written;
        let interrupted = crate::error::kind_of(&error) == crate::error::Kind::Interrupted;
        if progress.state == State::Unfinished && !changed && !interrupted {
            // Nothing changed (a safety archive at most): the next run begins afresh,
            // with the migration files as they are then.
            progress.state = State::Failed;
            progress::save(state_dir, &progress)?;
        }
        return Err(error);
    }
    progress.state = State::Finished;
    progress::save(state_dir, &progress)?;
    let message = format!(
        "upgraded `{}` to {}{}",
        runner.settings.env_name,
        progress.tag,
        match progress.applied_migrations().as_slice() {
            [] => String::new(),
            applied => format!(" with {}", applied.join(", ")),
        }
    );
    op.step("finished", json!({ "upgrade": progress.id }))?;
    runner.printer.info(&message);
    if runner.printer.is_json() {
        runner.printer.json(&progress);
    } else {
        runner.printer.data(&format!("{}  upgraded", progress.tag));
    }
    Ok(message)
}

struct Steps<'a> {
    runner: &'a UpgradeRunner<'a>,
    patches: Vec<Patch>,
    records: Vec<Record>,
    target: crate::database::Target,
    facts: crate::dbpatch::EnvFacts,
    op: &'a Operation,
}

impl Steps<'_> {
    async fn run(&self, progress: &mut UpgradeRecord) -> anyhow::Result<()> {
        let state_dir = &self.runner.settings.state_dir;
        while let Some(step) = progress.next() {
            self.runner
                .printer
                .info(&format!("step: {}", describe(progress, step)));
            let detail = match step {
                Step::Rehearsal => self.rehearse_pending(progress).await?,
                Step::SafetyBackup => self.safety_backup(progress).await?,
                Step::Migration(i) => self.migrate(progress, i).await?,
                Step::Rollout => super::rollout::run(self.runner, progress, self.op)
                    .await
                    .map_err(|e| rollout_stopped(e, progress))?,
            };
            progress.mark_done(step);
            progress::save(state_dir, progress)?;
            self.op.step(&progress.key(step), detail)?;
        }
        Ok(())
    }

    /// The migrations not applied yet, in order, on one scratch copy of the schema.
    async fn rehearse_pending(&self, progress: &UpgradeRecord) -> anyhow::Result<Value> {
        let place = match &self.runner.settings.scratch_database {
            Some(url) => ScratchPlace::Url(url.clone()),
            None => ScratchPlace::Local,
        };
        let pending: Vec<(&Patch, &Record)> = (0..self.patches.len())
            .filter(|i| !progress.is_done(Step::Migration(*i)))
            .map(|i| (&self.patches[i], &self.records[i]))
            .collect();
        let Some(((last, last_record), before)) = pending.split_last() else {
            return Ok(json!({ "pending": 0 }));
        };
        let request = RehearsalRequest {
            env: &self.target,
            facts: &self.facts,
            place: &place,
            before,
            patch: last,
            record: last_record,
            transactional: true,
            lock_timeout: self.runner.lock_timeout,
        };
        let rehearsal = rehearse(&request, self.runner.printer).await.map_err(|e| {
            upgrade_stopped(
                e,
                "nothing was changed: no backup made, no migration applied, no service touched",
            )
        })?;
        self.runner.printer.info(&format!(
            "rehearsal passed: {} migration(s) in {:.1}s on {}",
            pending.len(),
            rehearsal.seconds,
            rehearsal.place
        ));
        Ok(json!(rehearsal))
    }

    async fn safety_backup(&self, progress: &UpgradeRecord) -> anyhow::Result<Value> {
        let borg = Borg::new(&self.runner.settings.borg)?;
        let backup = crate::remote::make_backup(
            self.runner.settings,
            &borg,
            &self.target,
            &progress.safety_archive,
            self.runner.printer,
        )
        .await
        .map_err(|e| upgrade_stopped(e, "no migration applied, no service touched"))?;
        self.runner
            .printer
            .info(&format!("safety backup {} made", backup.archive));
        Ok(json!(backup))
    }

    /// One migration and its ledger row in one transaction, then the ledger read back.
    async fn migrate(&self, progress: &UpgradeRecord, i: usize) -> anyhow::Result<Value> {
        let (patch, record) = (&self.patches[i], &self.records[i]);
        let applied = dbpatch::apply(
            self.runner.printer,
            &self.target,
            patch,
            record,
            true,
            self.runner.lock_timeout,
        )
        .await
        .map_err(|e| upgrade_stopped(e, &migration_state(progress, i)))?;
        dbpatch::verify(&self.target, record).await?;
        self.runner.printer.info(&format!(
            "migration {} applied: {} statements in {:.1}s, ledger entry {}",
            patch.file_name, applied.statements, applied.seconds, applied.entry.id
        ));
        Ok(json!({ "file": patch.file_name, "applied": applied }))
    }
}

fn record(progress: &UpgradeRecord, patch: &Patch, index: usize) -> Record {
    let migration = &progress.migrations[index];
    Record {
        file_name: migration.file_name.clone(),
        checksum: migration.checksum.clone(),
        applied_by: dbpatch::applied_by(),
        csi_version: dbpatch::CSI_VERSION.to_owned(),
        statements: patch.statements.len() as i32,
        transactional: true,
        rehearsed: true,
        // Ties the ledger row to this upgrade: a resumed run recognises its own.
        safety_archive: Some(progress.safety_archive.clone()),
    }
}

/// What a failure of migration `index` leaves: the earlier ones stay applied.
fn migration_state(progress: &UpgradeRecord, index: usize) -> String {
    let applied = progress.applied_migrations();
    let file = &progress.migrations[index].file_name;
    if applied.is_empty() {
        format!("{file} was rolled back, no migration is applied, no service touched")
    } else {
        format!(
            "{file} was rolled back; {} stay applied (safety archive {}); no service touched",
            applied.join(", "),
            progress.safety_archive
        )
    }
}

/// A rollout that stopped without rolling back (Nomad refusing or unreachable, an
/// interruption): what the database and the services are left in. A rollback's error
/// already says it all.
fn rollout_stopped(error: anyhow::Error, progress: &UpgradeRecord) -> anyhow::Error {
    if progress.state == State::RolledBack {
        return error;
    }
    let migrations = match progress.applied_migrations().as_slice() {
        [] => "no migration applied".to_owned(),
        applied => format!(
            "{} stay applied (safety archive {})",
            applied.join(", "),
            progress.safety_archive
        ),
    };
    let services = if progress.files_written {
        "the job files were rewritten and some services may run the new tag already \
         (`csi env drift` shows which)"
    } else {
        "no service touched"
    };
    upgrade_stopped(error, &format!("{migrations}; {services}"))
}

/// The step's own error with what the upgrade left, and how to go on.
fn upgrade_stopped(error: anyhow::Error, state: &str) -> anyhow::Error {
    let kind = crate::error::kind_of(&error);
    let hint = match crate::error::hint_of(&error) {
        Some(hint) => format!("{hint}; "),
        None => String::new(),
    };
    CsiError::new(kind, format!("the upgrade stopped: {error:#}; {state}"))
        .with_hint(format!(
            "{hint}`csi env history --steps` shows every step; a run with the same arguments \
             resumes an upgrade that changed something, and --abandon gives it up"
        ))
        .into()
}
