//! Running a restart, step after step, each journaled as soon as it is done: the
//! preflight values, each wave's job_types_list then its gate, the full list. A run
//! resumes at the first step not journaled, so nothing is repeated, and a parameter
//! that already holds its value is not written again. The environment lock is held
//! only while parameters are written; a runner lock keeps a second run away.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use super::display::GateDisplay;
use super::gate::{Gate, Reading};
use super::live::{self, LiveState, WavesRunner};
use super::plan::{Db, Decision};
use super::record::{self, GateMode, Next, Restart};
use crate::error::{self, refused, CsiError, Kind};
use crate::journal::{Journal, Operation, Outcome};
use crate::lock::{self, EnvLock, LockState};
use crate::params::{self, job_types, shown, Assignment, Change, Value as ParamValue};
use crate::power::Io;
use crate::settings::Settings;

pub struct RunOptions {
    pub poll: Duration,
    pub gate: GateMode,
    /// Skip the gate the restart waits for (or the next one), once.
    pub skip_gate: bool,
    /// Set when this run is detached: where its output goes.
    pub log: Option<PathBuf>,
}

/// Runs the decided restart to its end (or until aborted, refused or interrupted).
pub async fn execute(
    settings: &Settings,
    io: Io<'_>,
    db: Db,
    decision: Decision,
    options: RunOptions,
) -> anyhow::Result<Restart> {
    let _runner = live::acquire(
        &settings.state_dir,
        &WavesRunner::this_process(options.log.clone()),
    )?;
    let journal = Journal::for_state_dir(&settings.state_dir);
    let (plan, resume) = match decision {
        Decision::New(plan) => (Some(plan), None),
        Decision::Resume(restart) => (None, Some(restart.plan.restart.clone())),
        Decision::Nothing(message) => return Err(CsiError::new(Kind::Failed, message).into()),
    };
    let op = journal.start(
        record::OPERATION,
        json!({
            "resume": resume,
            "gate": options.gate,
            "skip_gate": options.skip_gate,
            "poll": humantime::format_duration(options.poll).to_string(),
            "detached": options.log.is_some(),
        }),
    )?;
    let on_interrupt = op.clone();
    let _journal_guard = crate::interrupt::on_interrupt(move || {
        let _ = on_interrupt.finish(Outcome::Interrupted, "csi was interrupted by a signal");
    });
    let restart_id = match plan {
        Some(mut plan) => {
            plan.restart = op.id().to_owned();
            op.step(record::BEGUN, serde_json::to_value(&plan)?)?;
            plan.restart
        }
        None => resume.unwrap_or_default(),
    };
    let mut driver = Driver {
        settings,
        io,
        gate: Gate::new(&settings.restart, &settings.database.schema),
        db,
        op: op.clone(),
        journal,
        restart_id,
        options,
        skip_pending: false,
    };
    driver.skip_pending = driver.options.skip_gate;
    let result = driver.run().await;
    let (outcome, message) = match &result {
        Ok(restart) => (Outcome::Ok, summary(restart)),
        Err(err) => (Outcome::from_kind(error::kind_of(err)), err.to_string()),
    };
    op.finish(outcome, &message)?;
    result
}

fn summary(restart: &Restart) -> String {
    format!(
        "restart finished: {} wave(s), job_types_list {}",
        restart.waves.len(),
        job_types::render(&restart.plan.full_list, &Default::default())
    )
}

struct Driver<'a> {
    settings: &'a Settings,
    io: Io<'a>,
    gate: Gate,
    db: Db,
    op: Operation,
    journal: Journal,
    restart_id: String,
    options: RunOptions,
    skip_pending: bool,
}

impl Driver<'_> {
    fn record(&self) -> anyhow::Result<Restart> {
        let restart = record::latest(&self.journal)?
            .filter(|r| r.plan.restart == self.restart_id)
            .ok_or_else(|| {
                CsiError::new(
                    Kind::Failed,
                    format!(
                        "restart {} is no longer the newest in the journal",
                        self.restart_id
                    ),
                )
            })?;
        if let Some((at, by)) = &restart.aborted {
            return Err(refused(format!(
                "the restart was aborted by {by} at {}; the parameters stay as they are",
                at.format("%Y-%m-%d %H:%M UTC")
            ))
            .into());
        }
        Ok(restart)
    }

    fn step(&self, name: &str, mut detail: Value) -> anyhow::Result<()> {
        detail["restart"] = json!(self.restart_id);
        Ok(self.op.step(name, detail)?)
    }

    fn live(
        &self,
        wave: Option<usize>,
        doing: String,
        readings: Vec<Reading>,
        gate_error: Option<String>,
    ) {
        let now = Utc::now();
        let state = LiveState {
            restart: self.restart_id.clone(),
            wave: wave.map(|w| w + 1),
            doing,
            checked_at: (!readings.is_empty()).then_some(now),
            readings,
            gate_error,
            updated_at: now,
        };
        if let Err(e) = live::write_state(&self.settings.state_dir, &state) {
            self.io.printer.warn(&e.to_string());
        }
    }

    async fn run(&mut self) -> anyhow::Result<Restart> {
        loop {
            let restart = self.record()?;
            let wave_count = restart.waves.len();
            match restart.next() {
                Next::Preflight => {
                    self.live(
                        None,
                        "setting the preflight parameters".into(),
                        vec![],
                        None,
                    );
                    let written = self.preflight(&restart).await?;
                    let names: Vec<&str> = written.iter().map(|c| c.name.as_str()).collect();
                    self.step(record::PREFLIGHT_DONE, json!({ "written": names }))?;
                }
                Next::StartWave(i) => {
                    let types = restart.plan.waves[i].clone();
                    self.live(Some(i), format!("starting wave {}", i + 1), vec![], None);
                    let written = self
                        .set_job_types(&types, &format!("wave {}", i + 1))
                        .await?;
                    self.step(
                        record::WAVE_STARTED,
                        json!({"wave": i + 1, "job_types": types, "written": !written.is_empty()}),
                    )?;
                    self.io.printer.info(&format!(
                        "wave {} of {wave_count} started: {}",
                        i + 1,
                        types.join(", ")
                    ));
                }
                Next::Gate(i) => self.gate(i, &restart).await?,
                Next::FullList => {
                    let types = restart.plan.full_list.clone();
                    self.live(None, "setting the full list".into(), vec![], None);
                    let written = self.set_job_types(&types, "the full list").await?;
                    self.step(
                        record::FULL_LIST_SET,
                        json!({"job_types": types, "written": !written.is_empty()}),
                    )?;
                }
                Next::Finish => {
                    self.step(record::FINISHED, json!({}))?;
                    self.live(None, "finished".into(), vec![], None);
                    self.io.printer.info(&format!(
                        "wave restart of `{}` finished: every job type runs",
                        self.settings.env_name
                    ));
                }
                Next::Over => return Ok(restart),
            }
        }
    }

    async fn preflight(&mut self, restart: &Restart) -> anyhow::Result<Vec<Change>> {
        let mut assignments = Vec::new();
        for proposal in &restart.plan.preflight {
            let Some(value) = &proposal.proposed else {
                continue;
            };
            let column = self.db.catalog.column(&proposal.name)?.clone();
            let value = params::parse(&column, value)?;
            assignments.push(Assignment { column, value });
        }
        self.ensure(assignments, "preflight").await
    }

    /// Writes job_types_list unless it already holds these types (in either
    /// spelling), in the spelling the row holds.
    async fn set_job_types(&mut self, types: &[String], what: &str) -> anyhow::Result<Vec<Change>> {
        let current = params::read(&self.db.client, &self.db.catalog).await?;
        let held = current.get(job_types::COLUMN);
        let same = held
            .and_then(|text| job_types::parse(text).ok())
            .is_some_and(|(have, _)| have == types);
        if same {
            self.io.printer.detail(&format!(
                "{}: job_types_list already holds {what}",
                self.settings.env_name
            ));
            return Ok(Vec::new());
        }
        let text = job_types::render(types, &job_types::style_of(held));
        let column = self.db.catalog.column(job_types::COLUMN)?.clone();
        self.ensure(
            vec![Assignment {
                column,
                value: ParamValue::Text(text),
            }],
            what,
        )
        .await
    }

    /// Writes what differs, under the environment lock, and journals it.
    async fn ensure(
        &mut self,
        assignments: Vec<Assignment>,
        what: &str,
    ) -> anyhow::Result<Vec<Change>> {
        let planned = params::plan(&self.db.client, &self.db.catalog, &assignments).await?;
        if !planned.iter().any(Change::changes) {
            return Ok(Vec::new());
        }
        let lock = self.env_lock().await?;
        let written = params::write(
            &mut self.db.client,
            &self.db.catalog,
            &assignments,
            &planned,
        )
        .await?;
        drop(lock);
        let shown_changes: Vec<Value> = written
            .iter()
            .map(|c| json!({"name": c.name, "old": shown(c.old.as_deref()), "new": shown(c.new.as_deref())}))
            .collect();
        self.step(
            record::PARAMS_SET,
            json!({"for": what, "changes": shown_changes}),
        )?;
        for change in &written {
            self.io.printer.info(&format!(
                "set {}: {} -> {}",
                change.name,
                shown(change.old.as_deref()),
                shown(change.new.as_deref())
            ));
        }
        Ok(written)
    }

    /// The environment lock, waiting while another operation holds it.
    async fn env_lock(&self) -> anyhow::Result<EnvLock> {
        let state_dir = &self.settings.state_dir;
        let env = &self.settings.env_name;
        let command = format!("csi env restart-waves {env}");
        let mut warned = false;
        let mut free_but_refused = 0;
        loop {
            match lock::acquire(state_dir, env, &command) {
                Ok(lock) => return Ok(lock),
                Err(err) => match lock::inspect(state_dir)? {
                    LockState::Held { holder } => {
                        if !warned {
                            self.io.printer.warn(&format!(
                                "waiting for the environment lock, held by {}",
                                holder.describe()
                            ));
                            warned = true;
                        }
                        self.record()?;
                        tokio::time::sleep(self.options.poll).await;
                    }
                    // Released in between: try again, a few times.
                    LockState::Free if free_but_refused < 3 => {
                        free_but_refused += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    LockState::Free => return Err(err.into()),
                    LockState::Stale { .. } => return Err(err.into()),
                },
            }
        }
    }

    async fn readings(
        &mut self,
        restart: &Restart,
        types: &[String],
    ) -> anyhow::Result<Vec<Reading>> {
        if self.db.client.is_closed() {
            self.db.client =
                crate::database::connect(&self.settings.database, Duration::from_secs(10)).await?;
        }
        let mut out = Vec::new();
        for job_type in types {
            let since = restart.enabled_since(job_type).unwrap_or_else(Utc::now);
            out.push(self.gate.read(&self.db.client, job_type, since).await?);
        }
        Ok(out)
    }

    async fn gate(&mut self, wave: usize, restart: &Restart) -> anyhow::Result<()> {
        let types = restart.plan.waves[wave].clone();
        let label = format!("wave {} of {}", wave + 1, restart.waves.len());
        if std::mem::take(&mut self.skip_pending) {
            let values = self
                .readings(restart, &types)
                .await
                .map(|r| json!(r))
                .unwrap_or(Value::Null);
            self.step(
                record::GATE_SKIPPED,
                json!({"wave": wave + 1, "by": lock::current_user(), "values": values}),
            )?;
            self.io
                .printer
                .warn(&format!("{label}: gate skipped (--skip-gate)"));
            return Ok(());
        }
        if self.options.gate == GateMode::Manual {
            return self.manual_gate(wave, restart, &types, &label).await;
        }
        let title = format!(
            "{label}: waiting until {} caught up with NRT production (checked every {})",
            types.join(", "),
            crate::output::human_duration(self.options.poll)
        );
        let mut display = GateDisplay::new(self.io.printer, title, &types);
        loop {
            let restart = match self.record() {
                Ok(r) => r,
                Err(e) => {
                    display.finish();
                    return Err(e);
                }
            };
            if let Some(end) = &restart.waves[wave].gate {
                display.finish();
                self.io.printer.info(&format!(
                    "{label}: gate {} by {}",
                    end.how,
                    end.by.as_deref().unwrap_or("another run")
                ));
                return Ok(());
            }
            match self.readings(&restart, &types).await {
                Ok(readings) => {
                    display.update(&readings);
                    let passed = readings.iter().all(|r| r.passed);
                    self.live(
                        Some(wave),
                        format!("waiting for the gate of wave {}", wave + 1),
                        readings.clone(),
                        None,
                    );
                    if passed {
                        display.finish();
                        self.step(
                            record::GATE_PASSED,
                            json!({"wave": wave + 1, "how": "sql", "values": readings}),
                        )?;
                        self.io.printer.info(&format!(
                            "{label}: {} caught up with NRT production",
                            types.join(", ")
                        ));
                        return Ok(());
                    }
                }
                Err(e) if error::kind_of(&e) == Kind::Usage => {
                    display.finish();
                    return Err(e);
                }
                Err(e) => {
                    let message = format!("{e:#}");
                    display.problem(&message);
                    self.live(
                        Some(wave),
                        format!("waiting for the gate of wave {}", wave + 1),
                        vec![],
                        Some(message),
                    );
                }
            }
            tokio::time::sleep(self.options.poll).await;
        }
    }

    async fn manual_gate(
        &mut self,
        wave: usize,
        restart: &Restart,
        types: &[String],
        label: &str,
    ) -> anyhow::Result<()> {
        let readings = self.readings(restart, types).await;
        self.live(
            Some(wave),
            format!("asking the operator about the gate of wave {}", wave + 1),
            readings.as_ref().cloned().unwrap_or_default(),
            None,
        );
        match &readings {
            Ok(readings) => {
                for r in readings {
                    self.io.printer.info(&format!("  {}", super::gate::line(r)));
                }
            }
            Err(e) => self
                .io
                .printer
                .warn(&format!("gate values unavailable: {e:#}")),
        }
        let next = if wave + 1 < restart.waves.len() {
            format!("start wave {}", wave + 2)
        } else {
            "set the full list".to_owned()
        };
        let question = format!(
            "{label}: have {} caught up with NRT production? Then {next}",
            types.join(", ")
        );
        self.io
            .prompter
            .confirm_exception(
                &question,
                "the manual gate needs a terminal; use --gate sql or --skip-gate",
            )
            .map_err(|e| {
                refused(format!(
                    "paused at the gate of {label} ({}); run the command again to resume",
                    e.message.trim_start_matches("aborted: ")
                ))
            })?;
        let values = readings.map(|r| json!(r)).unwrap_or(Value::Null);
        self.step(
            record::GATE_PASSED,
            json!({"wave": wave + 1, "how": "manual", "by": lock::current_user(), "values": values}),
        )
    }
}
