//! `csi env status <env>`: one screen that says what state the environment is in.
//! `--watch` refreshes it.

use std::time::Duration;

use super::Context;
use crate::output::human_age;
use crate::output::Printer;
use crate::status::{self, Overview, Section};

pub async fn run(ctx: &Context, args: crate::cli::StatusArgs) -> anyhow::Result<()> {
    let settings = ctx.reach(&args.env).await?;
    loop {
        let overview = status::collect(&settings, args.timeout).await;
        if ctx.printer.is_json() {
            ctx.printer.json(&overview);
        } else {
            if args.watch {
                ctx.printer.clear_screen();
            }
            render(&ctx.printer, &overview);
        }
        let Some(every) = args.watch.then_some(args.every) else {
            return Ok(());
        };
        tokio::time::sleep(every.max(Duration::from_millis(500))).await;
    }
}

fn render(p: &Printer, o: &Overview) {
    p.data(&p.emphasis(&format!("environment {}", o.environment)));
    match &o.terraform {
        Section::Available(t) => {
            let vms: Vec<String> = t
                .vms
                .iter()
                .map(|(name, up)| format!("{name} {}", if *up { "up" } else { "absent" }))
                .collect();
            p.data(&format!(
                "terraform  {} resources under the target; {}",
                t.resources_under_target,
                vms.join(", ")
            ));
        }
        Section::Unavailable { reason } => p.data(&format!("terraform  unavailable: {reason}")),
    }
    match &o.nomad {
        Section::Available(n) => {
            p.data(&format!("nomad      leader {}", n.leader));
            for s in &n.services {
                let drift = if s.drift {
                    p.highlight(" DRIFT")
                } else {
                    String::new()
                };
                p.data(&format!(
                    "  {:<24} {:<8} running {:<14} file {:<14} allocs {}/{}{drift}",
                    s.service,
                    s.status,
                    s.running_tag.as_deref().unwrap_or("-"),
                    s.file_tag.as_deref().unwrap_or("?"),
                    s.healthy,
                    s.total
                ));
            }
        }
        Section::Unavailable { reason } => p.data(&format!("nomad      unavailable: {reason}")),
    }
    match &o.database {
        Section::Available(d) => {
            p.data(&format!(
                "database   job_types_list {}",
                d.job_types_list.as_deref().unwrap_or("(no row)")
            ));
            for t in &d.job_types {
                p.data(&format!(
                    "  {:<18} in error {:>5}   stuck > 3h {:>5}",
                    t.job_type, t.in_error, t.stuck
                ));
            }
        }
        Section::Unavailable { reason } => p.data(&format!("database   unavailable: {reason}")),
    }
    match &o.waves {
        Section::Available(Some(w)) => p.data(&format!("waves      restart in progress: {w}")),
        Section::Available(None) => {}
        Section::Unavailable { reason } => p.data(&format!("waves      unavailable: {reason}")),
    }
    match &o.backup {
        Section::Available(b) => p.data(&format!(
            "backup     {}",
            match (&b.newest, b.age_seconds) {
                (Some(name), Some(age)) => format!(
                    "{name} ({} old)",
                    human_age(chrono::TimeDelta::seconds(age))
                ),
                _ => "no nightly archive".into(),
            }
        )),
        Section::Unavailable { reason } => p.data(&format!("backup     unavailable: {reason}")),
    }
    match &o.lock {
        Section::Available(crate::lock::LockState::Free) => p.data("lock       free"),
        Section::Available(crate::lock::LockState::Held { holder }) => {
            p.data(&format!("lock       held by {}", holder.describe()))
        }
        Section::Available(crate::lock::LockState::Stale { holder }) => {
            p.data(&format!("lock       STALE, left by {}", holder.describe()))
        }
        Section::Unavailable { reason } => p.data(&format!("lock       unavailable: {reason}")),
    }
    match &o.last_operation {
        Section::Available(Some(op)) => p.data(&format!(
            "last       {} {} at {}: {}",
            op.operation,
            op.outcome,
            op.time.format("%Y-%m-%d %H:%M UTC"),
            op.message
        )),
        Section::Available(None) => p.data("last       no operation journaled yet"),
        Section::Unavailable { reason } => p.data(&format!("last       unavailable: {reason}")),
    }
}
