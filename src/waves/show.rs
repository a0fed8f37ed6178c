//! What the operator reads before confirming, and `--status`.

use chrono::Utc;

use super::control::Status;
use super::gate::line;
use super::plan::{Decision, PreparedWaves};
use super::preflight::Proposal;
use super::record::{GateMode, Restart};
use crate::output::human_age;
use crate::output::Printer;
use crate::params::{job_types, shown};
use crate::settings::Settings;

pub fn plan(
    printer: &Printer,
    settings: &Settings,
    prepared: &PreparedWaves,
    gate: GateMode,
    poll: std::time::Duration,
) {
    let mut out: Vec<String> = Vec::new();
    match &prepared.decision {
        Decision::Nothing(_) => return,
        Decision::New(plan) => {
            out.push(format!(
                "wave restart of `{}` after a downtime of {} (since {}; from {})",
                settings.env_name,
                human_age(plan.downtime.length()),
                plan.downtime.since.format("%Y-%m-%d %H:%M UTC"),
                plan.downtime.source
            ));
            if let Some(previous) = prepared.previous.as_ref().filter(|p| p.aborted.is_some()) {
                out.push(format!(
                    "(the previous restart, begun {}, was aborted)",
                    previous.begun_at.format("%Y-%m-%d %H:%M UTC")
                ));
            }
            out.push("preflight:".into());
            preflight_lines(&plan.preflight, &mut out);
            let style = job_types::style_of(plan.previous_job_types_list.as_deref());
            out.push(format!(
                "job_types_list now: {}",
                shown(plan.previous_job_types_list.as_deref())
            ));
            if plan.waves.is_empty() {
                out.push(
                    "downtime of at most one day: no waves, every job type at once".to_owned(),
                );
            }
            for (i, wave) in plan.waves.iter().enumerate() {
                out.push(format!(
                    "  wave {}: {}",
                    i + 1,
                    job_types::render(wave, &style)
                ));
            }
            let full = job_types::render(&plan.full_list, &style);
            let held = plan
                .previous_job_types_list
                .as_deref()
                .and_then(|text| job_types::parse(text).ok())
                .is_some_and(|(types, _)| types == plan.full_list);
            out.push(format!(
                "  then:   {full} (the full list{})",
                if held { ", as before the restart" } else { "" }
            ));
            out.push(gate_line(settings, gate, poll, plan.waves.is_empty()));
        }
        Decision::Resume(restart) => {
            out.push(format!(
                "resuming the wave restart of `{}` begun {} (downtime {} since {})",
                settings.env_name,
                restart.begun_at.format("%Y-%m-%d %H:%M UTC"),
                human_age(restart.plan.downtime.length()),
                restart.plan.downtime.since.format("%Y-%m-%d %H:%M UTC"),
            ));
            out.extend(progress_lines(restart));
            if !prepared.preflight.is_empty() {
                out.push("preflight (still to do):".into());
                preflight_lines(&prepared.preflight, &mut out);
            }
            out.push(format!(
                "job_types_list now: {}",
                shown(prepared.current.get(job_types::COLUMN))
            ));
            out.push(gate_line(settings, gate, poll, restart.waves.is_empty()));
        }
    }
    for line in out {
        printer.data(&line);
    }
}

fn gate_line(
    settings: &Settings,
    gate: GateMode,
    poll: std::time::Duration,
    no_waves: bool,
) -> String {
    if no_waves {
        return "gate: none".into();
    }
    match gate {
        GateMode::Manual => "gate: asked of the operator after each wave (--gate manual)".into(),
        GateMode::Sql => format!(
            "gate: per job type, restart.gate_sql ({}; NRT jobs unfinished after {} count as backlog, production within {}), checked every {}",
            settings.origins.get("restart.gate_sql").map(String::as_str).unwrap_or("default"),
            crate::output::human_duration(settings.restart.nrt_max_age),
            crate::output::human_duration(settings.restart.recent_production),
            crate::output::human_duration(poll)
        ),
    }
}

fn preflight_lines(proposals: &[Proposal], out: &mut Vec<String>) {
    if proposals.is_empty() {
        out.push("  (none of the checked parameters is in this database)".into());
    }
    for p in proposals {
        let value = match &p.proposed {
            Some(new) => format!("{} -> {new}", shown(p.current.as_deref())),
            None => shown(p.current.as_deref()),
        };
        out.push(format!("  {:<38} {value}  ({})", p.name, p.reason));
    }
}

fn progress_lines(restart: &Restart) -> Vec<String> {
    let mut out = Vec::new();
    match restart.preflight_done {
        Some(at) => out.push(format!(
            "  preflight done {}",
            at.format("%Y-%m-%d %H:%M UTC")
        )),
        None => out.push("  preflight not done yet".into()),
    }
    for (i, (types, state)) in restart.plan.waves.iter().zip(&restart.waves).enumerate() {
        let started = state
            .started
            .map(|t| format!("started {}", t.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_else(|| "not started".into());
        let gate = match &state.gate {
            Some(end) => format!(
                ", gate {} {}{}",
                end.how,
                end.at.format("%Y-%m-%d %H:%M UTC"),
                end.by
                    .as_ref()
                    .map(|b| format!(" by {b}"))
                    .unwrap_or_default()
            ),
            None if state.started.is_some() => ", waiting for its gate".into(),
            None => String::new(),
        };
        out.push(format!(
            "  wave {} ({}): {started}{gate}",
            i + 1,
            types.join(", ")
        ));
    }
    if let Some(at) = restart.full_list_set {
        out.push(format!(
            "  full list set {}",
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    out
}

pub fn status(printer: &Printer, settings: &Settings, status: &Status) {
    if printer.is_json() {
        printer.json(status);
        return;
    }
    let Some(restart) = &status.restart else {
        printer.data(&format!(
            "no wave restart recorded for `{}`",
            settings.env_name
        ));
        return;
    };
    let mut out = vec![format!(
        "wave restart of `{}` begun {}: {}",
        settings.env_name,
        restart.begun_at.format("%Y-%m-%d %H:%M UTC"),
        match status.state {
            "running" => "running".to_owned(),
            "stopped" => "stopped before its end: run the command again to resume".to_owned(),
            "finished" => format!(
                "finished {}",
                restart
                    .finished
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default()
            ),
            "aborted" => restart
                .aborted
                .as_ref()
                .map(|(at, by)| format!("aborted {} by {by}", at.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default(),
            other => other.to_owned(),
        }
    )];
    if let Some(runner) = &status.runner {
        out.push(format!("run by {}", runner.describe()));
    } else if let (Some(runner), "stopped") = (&status.last_runner, status.state) {
        out.push(format!(
            "last run by {} (no longer running)",
            runner.describe()
        ));
    }
    out.push(format!(
        "downtime: {} since {} (from {})",
        human_age(restart.plan.downtime.length()),
        restart.plan.downtime.since.format("%Y-%m-%d %H:%M UTC"),
        restart.plan.downtime.source
    ));
    if let (Some(wave), Some(since)) = (status.wave, status.wave_since) {
        out.push(format!(
            "current wave: {wave} of {} ({}), since {} ({} ago)",
            restart.waves.len(),
            restart.plan.waves[wave - 1].join(", "),
            since.format("%Y-%m-%d %H:%M UTC"),
            human_age(Utc::now() - since)
        ));
    }
    out.extend(progress_lines(restart));
    if let Some(next) = status.next.as_ref().filter(|_| restart.is_active()) {
        out.push(format!("next: {next}"));
    }
    if let Some(live) = &status.live {
        if let Some(at) = live.checked_at {
            out.push(format!(
                "gate values at {}:",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ));
            for r in &live.readings {
                out.push(format!("  {}", line(r)));
            }
        }
        if let Some(error) = &live.gate_error {
            out.push(format!("last gate check failed: {error}"));
        }
    }
    for line in out {
        printer.data(&line);
    }
}
