//! `csi env stop|start|plan <env>`: the terraform target through a saved plan that is
//! checked, shown, confirmed, applied exactly and verified.

use std::time::Duration;

use serde_json::json;

use super::Context;
use crate::cli::{PlanArgs, PlanFlags, PlanOperation, StartArgs, StopArgs};
use crate::error::precondition;
use crate::lock::{self, LockState};
use crate::operation;
use crate::output::human_age;
use crate::power::{self, Io, PowerRequest, PowerResult};
use crate::settings::Settings;
use crate::terraform::Direction;

pub async fn stop(ctx: &Context, args: StopArgs) -> anyhow::Result<()> {
    let request = request(Direction::Stop, &args.plan);
    let request = PowerRequest {
        accept_old_backup: args.accept_old_backup,
        ..request
    };
    run(ctx, &args.env, request).await.map(|_| ())
}

/// What the dispatcher does after a start: after a downtime of more than a day, it
/// offers the wave restart (a command of its own).
pub struct Started {
    pub long_downtime: bool,
}

pub async fn start(ctx: &Context, args: StartArgs) -> anyhow::Result<Started> {
    let request = PowerRequest {
        no_wait: args.no_wait,
        wait_timeout: args.wait_timeout,
        ..request(Direction::Start, &args.plan)
    };
    let downtime = run(ctx, &args.env, request).await?;
    Ok(Started {
        long_downtime: downtime.is_some_and(|d| d > chrono::TimeDelta::days(1)),
    })
}

/// `csi env plan`: the checked plan, nothing changed; exit 4 when it differs from
/// what is expected.
pub async fn plan(ctx: &Context, args: PlanArgs) -> anyhow::Result<()> {
    let direction = match args.operation {
        PlanOperation::Stop => Direction::Stop,
        PlanOperation::Start => Direction::Start,
    };
    let settings = ctx.reach(&args.env).await?;
    plan_only(ctx, &settings, &request(direction, &args.plan)).await
}

fn request(direction: Direction, flags: &PlanFlags) -> PowerRequest {
    PowerRequest {
        direction,
        expect: flags.expect,
        tag: flags.tag.clone(),
        allow_dirty: flags.allow_dirty,
        accept_old_backup: false,
        no_wait: false,
        wait_timeout: Duration::from_secs(600),
    }
}

async fn plan_only(
    ctx: &Context,
    settings: &Settings,
    request: &PowerRequest,
) -> anyhow::Result<()> {
    let io = Io {
        printer: &ctx.printer,
        prompter: &ctx.prompter,
    };
    let tree = power::preflight(settings)?;
    if let LockState::Held { holder } = lock::inspect(&settings.state_dir)? {
        ctx.printer.warn(&format!(
            "`{}` is locked by {}",
            settings.env_name,
            holder.describe()
        ));
    }
    power::report_unfinished(settings, &tree, &ctx.printer).await?;
    let plan = power::checked_plan(&tree, settings, request, &io).await?;
    if ctx.printer.is_json() {
        ctx.printer.json(&PowerResult::of(
            &settings.env_name,
            request.direction,
            &plan,
        ));
    }
    if plan.summary.changes.is_empty() {
        ctx.printer.info(&format!(
            "`{}` is already {}: nothing to do",
            settings.env_name,
            already(request.direction)
        ));
        return Ok(());
    }
    if plan.mismatches.is_empty() {
        ctx.printer.info("plan only: nothing was changed");
        Ok(())
    } else {
        Err(
            precondition("the plan differs from what is expected; nothing was changed")
                .with_hint("review it; if it is what you expect, state the count with --expect N")
                .into(),
        )
    }
}

fn already(direction: Direction) -> &'static str {
    match direction {
        Direction::Stop => "stopped",
        Direction::Start => "started",
    }
}

/// Returns the downtime a start measured.
async fn run(
    ctx: &Context,
    env: &str,
    request: PowerRequest,
) -> anyhow::Result<Option<chrono::TimeDelta>> {
    let settings = ctx.reach(env).await?;
    if ctx.global.dry_run {
        return plan_only(ctx, &settings, &request).await.map(|_| None);
    }
    let (downtime, result) = apply_locked(ctx, env, &settings, request).await?;
    if ctx.printer.is_json() {
        ctx.printer.json(&result);
    }
    Ok(downtime)
}

/// The locked part of a stop or start; returns the downtime a start measured and the
/// `--output json` document.
async fn apply_locked(
    ctx: &Context,
    env: &str,
    settings: &Settings,
    request: PowerRequest,
) -> anyhow::Result<(Option<chrono::TimeDelta>, serde_json::Value)> {
    let tree = power::preflight(settings)?;
    let params = json!({
        "direction": request.direction,
        "expect": request.expect,
        "tag": request.tag,
        "allow_dirty": request.allow_dirty,
        "accept_old_backup": request.accept_old_backup,
    });
    let verb = power::verb(request.direction);
    operation::run_locked(settings, verb, params, |op| async move {
        let io = Io {
            printer: &ctx.printer,
            prompter: &ctx.prompter,
        };
        power::report_unfinished(settings, &tree, &ctx.printer).await?;
        if request.direction == Direction::Stop {
            let backup = power::backup_gate(settings, &io, request.accept_old_backup).await?;
            op.step("backup_checked", backup)?;
        }
        let plan = power::checked_plan(&tree, settings, &request, &io).await?;
        op.step(
            "planned",
            json!({"tag": plan.tag, "totals": plan.summary.totals(), "mismatches": plan.mismatches}),
        )?;
        if plan.summary.changes.is_empty() {
            let state = already(request.direction);
            ctx.printer.info(&format!("`{env}` is already {state}: nothing to do"));
            let result = json!(PowerResult::of(env, request.direction, &plan));
            return Ok(((None, result), format!("nothing to do: already {state}")));
        }
        power::accept_differences(&plan, &request, &io)?;
        let question = format!(
            "{} `{env}`: apply this plan ({} changes)?",
            capitalised(verb),
            plan.summary.changes.len()
        );
        ctx.prompter.confirm(&question, env, settings.protected)?;
        op.step("confirmed", json!({"by": lock::current_user()}))?;
        let report = power::apply(&tree, &plan, &op, &io).await?;
        let present = power::verify(&tree, request.direction, &plan.summary).await?;
        op.step("verified", json!({"resources_under_target": present}))?;
        let (message, downtime) = match request.direction {
            Direction::Stop => (format!("stopped: {} resources destroyed", plan.summary.changes.len()), None),
            Direction::Start => {
                let downtime = after_start(ctx, settings, &request, &op).await?;
                (format!("started: {present} resources under {}", tree.target), downtime)
            }
        };
        ctx.printer.info(&message);
        let result = json!(PowerResult {
            outcome: "done",
            changed: true,
            applied: Some(&report),
            resources_under_target: Some(present),
            downtime_seconds: downtime.map(|d| d.num_seconds()),
            ..PowerResult::of(env, request.direction, &plan)
        });
        Ok(((downtime, result), message))
    })
    .await
}

/// Waits for Nomad and the services, then says how long the system was down and what
/// the reference advises.
async fn after_start(
    ctx: &Context,
    settings: &Settings,
    request: &PowerRequest,
    op: &crate::journal::Operation,
) -> anyhow::Result<Option<chrono::TimeDelta>> {
    if request.no_wait {
        ctx.printer.info("not waiting for Nomad (--no-wait)");
    } else {
        power::wait_for_services(settings, &ctx.printer, request.wait_timeout).await?;
        op.step("services_running", json!({}))?;
    }
    match power::since_last_activity(settings).await {
        Ok(Some(downtime)) => {
            let length = downtime.length();
            ctx.printer.info(&format!(
                "downtime: {} (since {}, from {})",
                human_age(length),
                downtime.since.format("%Y-%m-%d %H:%M UTC"),
                downtime.source
            ));
            ctx.printer.info(&power::advice(&settings.env_name, length));
            op.step(
                "downtime",
                json!({"since": downtime.since, "source": downtime.source, "seconds": length.num_seconds()}),
            )?;
            return Ok(Some(length));
        }
        Ok(None) => ctx
            .printer
            .info("downtime unknown: no stop in the journal and no job in the database"),
        Err(e) => ctx.printer.warn(&format!("downtime unknown: {e:#}")),
    }
    Ok(None)
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}
