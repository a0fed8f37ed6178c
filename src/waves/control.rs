//! Looking at and steering a restart from another terminal: `--status`, `--abort`,
//! and `--skip-gate` while a run (detached or not) is waiting at a gate. The
//! running process reads the journal at every check and follows what it finds.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::live::{self, LiveState, WavesRunner};
use super::record::{self, Next, Restart};
use crate::journal::{Journal, Outcome};
use crate::lock;
use crate::power::Io;
use crate::settings::Settings;

#[derive(Debug, Serialize)]
pub struct Status {
    /// `none`, `running`, `stopped` (resumable), `finished` or `aborted`.
    pub state: &'static str,
    pub restart: Option<Restart>,
    /// The process running it now.
    pub runner: Option<WavesRunner>,
    /// The last process that ran it, when none runs now.
    pub last_runner: Option<WavesRunner>,
    /// The running (or last) process's latest gate values.
    pub live: Option<LiveState>,
    /// 1-based wave being run or waited for, and since when.
    pub wave: Option<usize>,
    pub wave_since: Option<DateTime<Utc>>,
    pub next: Option<String>,
}

pub fn status(settings: &Settings) -> anyhow::Result<Status> {
    let journal = Journal::for_state_dir(&settings.state_dir);
    let restart = record::latest(&journal)?;
    let runner = live::running(&settings.state_dir)?;
    let live = live::read_state(&settings.state_dir).filter(|s| {
        restart
            .as_ref()
            .is_some_and(|r| r.plan.restart == s.restart)
    });
    let state = match &restart {
        None => "none",
        Some(r) if r.aborted.is_some() => "aborted",
        Some(r) if r.finished.is_some() => "finished",
        Some(_) if runner.is_some() => "running",
        Some(_) => "stopped",
    };
    let wave = restart.as_ref().and_then(Restart::current_wave);
    let wave_since = wave.and_then(|w| restart.as_ref().and_then(|r| r.waves[w].started));
    let next = restart.as_ref().map(|r| describe_next(r, r.next()));
    Ok(Status {
        state,
        last_runner: if runner.is_none() {
            live::last_runner(&settings.state_dir)
        } else {
            None
        },
        runner,
        live,
        wave: wave.map(|w| w + 1),
        wave_since,
        next,
        restart,
    })
}

fn describe_next(restart: &Restart, next: Next) -> String {
    match next {
        Next::Preflight => "set the preflight parameters".into(),
        Next::StartWave(i) => format!(
            "start wave {} ({})",
            i + 1,
            restart.plan.waves[i].join(", ")
        ),
        Next::Gate(i) => format!("wait for the gate of wave {}", i + 1),
        Next::FullList => "set the full job types list".into(),
        Next::Finish => "record the end".into(),
        Next::Over => "nothing".into(),
    }
}

/// Stops the restart: journaled, so a running process stops at its next check; the
/// parameters stay as they are.
pub async fn abort(settings: &Settings, io: &Io<'_>, poll: Duration) -> anyhow::Result<bool> {
    let journal = Journal::for_state_dir(&settings.state_dir);
    let Some(restart) = record::latest(&journal)?.filter(Restart::is_active) else {
        io.printer.info(&format!(
            "no wave restart of `{}` is in progress",
            settings.env_name
        ));
        return Ok(false);
    };
    let wave = restart.current_wave().map(|w| w + 1);
    io.prompter.confirm(
        &format!(
            "Abort the wave restart of `{}`{}? job_types_list and the other parameters stay as they are",
            settings.env_name,
            wave.map(|w| format!(" at wave {w}")).unwrap_or_default()
        ),
        &settings.env_name,
        false,
    )?;
    let op = journal.start(
        record::OPERATION,
        json!({"action": "abort", "restart": restart.plan.restart}),
    )?;
    op.step(
        record::ABORTED,
        json!({"restart": restart.plan.restart, "by": lock::current_user(), "wave": wave}),
    )?;
    op.finish(Outcome::Ok, "aborted; the parameters stay as they are")?;
    io.printer.info("aborted; the parameters stay as they are");
    if let Some(runner) = live::running(&settings.state_dir)? {
        io.printer.info(&format!(
            "waiting for the running restart ({}) to stop",
            runner.describe()
        ));
        let limit = poll * 3 + Duration::from_secs(30);
        let started = Instant::now();
        while live::running(&settings.state_dir)?.is_some() {
            if started.elapsed() > limit {
                io.printer.warn(&format!(
                    "pid {} has not stopped yet; it stops at its next check",
                    runner.pid
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(100).min(poll)).await;
        }
    }
    Ok(true)
}

/// Skips the gate a running restart waits for (journaled; the run moves on at its
/// next check).
pub fn skip_running_gate(
    settings: &Settings,
    io: &Io<'_>,
    runner: &WavesRunner,
) -> anyhow::Result<()> {
    let journal = Journal::for_state_dir(&settings.state_dir);
    let restart = record::latest(&journal)?.filter(Restart::is_active);
    let Some((restart, wave)) = restart.and_then(|r| match r.next() {
        Next::Gate(w) => Some((r, w)),
        _ => None,
    }) else {
        io.printer.info(&format!(
            "the running restart ({}) is not waiting at a gate; nothing to skip",
            runner.describe()
        ));
        return Ok(());
    };
    io.prompter.confirm(
        &format!(
            "Skip the gate of wave {} of `{}` and go on at once?",
            wave + 1,
            settings.env_name
        ),
        &settings.env_name,
        settings.protected,
    )?;
    let op = journal.start(
        record::OPERATION,
        json!({"action": "skip-gate", "restart": restart.plan.restart}),
    )?;
    op.step(
        record::GATE_SKIPPED,
        json!({"restart": restart.plan.restart, "wave": wave + 1, "by": lock::current_user(), "values": null}),
    )?;
    op.finish(Outcome::Ok, &format!("gate of wave {} skipped", wave + 1))?;
    io.printer.info(&format!(
        "gate of wave {} skipped; the running restart ({}) goes on at its next check",
        wave + 1,
        runner.describe()
    ));
    Ok(())
}
