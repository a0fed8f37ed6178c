//! `csi env restart-waves <env>`: after a long downtime, the preflight parameters,
//! then job types back in waves, each once the running ones caught up with NRT
//! production. `--status`, `--abort`, `--skip-gate`, `--detach`; resumable.

use chrono::Utc;
use serde_json::json;

use super::Context;
use crate::cli::{GateArg, RestartWavesArgs};
use crate::error::{refused, usage};
use crate::power::Io;
use crate::waves::{self, Db, Decision, GateMode, RunOptions, WavesRequest};

pub async fn run(ctx: &Context, args: RestartWavesArgs) -> anyhow::Result<()> {
    if args.detached_child {
        waves::detach::leave_the_terminal();
    }
    let settings = ctx.reach(&args.env).await?;
    let io = Io {
        printer: &ctx.printer,
        prompter: &ctx.prompter,
    };
    let poll = args.poll.unwrap_or(settings.restart.poll_interval);
    if args.status {
        let status = waves::status(&settings)?;
        waves::show_status(&ctx.printer, &settings, &status);
        return Ok(());
    }
    if args.abort {
        waves::abort(&settings, &io, poll).await?;
        return Ok(());
    }
    if let Some(runner) = waves::running(&settings.state_dir)? {
        if args.skip_gate {
            return waves::skip_running_gate(&settings, &io, &runner);
        }
        return Err(crate::error::precondition(format!(
            "a wave restart of `{}` is already running: {}",
            settings.env_name,
            runner.describe()
        ))
        .with_hint("`--status` shows where it stands; `--abort` stops it")
        .into());
    }
    let gate = match args.gate {
        GateArg::Sql => GateMode::Sql,
        GateArg::Manual => GateMode::Manual,
    };
    if gate == GateMode::Manual && args.detach {
        return Err(
            usage("--gate manual asks at a terminal; a detached run has none")
                .with_hint("use the SQL gate with --detach")
                .into(),
        );
    }
    let db = Db::connect(&settings).await?;
    let request = WavesRequest {
        downtime: args.downtime,
        gate,
    };
    let prepared = waves::prepare(&settings, &db, &request, Utc::now()).await?;
    if ctx.printer.is_json() && ctx.global.dry_run {
        ctx.printer.json(&json!({
            "decision": match &prepared.decision {
                Decision::New(plan) => json!({"new": plan}),
                Decision::Resume(restart) => json!({"resume": restart}),
                Decision::Nothing(message) => json!({"nothing": message}),
            },
            "preflight": prepared.preflight,
        }));
    } else if !ctx.printer.is_json() {
        waves::show_plan(&ctx.printer, &settings, &prepared, gate, poll);
    }
    if gate == GateMode::Sql {
        waves::probe(&settings, &db.client, &prepared.decision, &ctx.printer).await?;
    }
    let Some(question) = prepared.decision.question(&settings.env_name) else {
        if let Decision::Nothing(message) = &prepared.decision {
            ctx.printer.info(message);
            if ctx.printer.is_json() && !ctx.global.dry_run {
                ctx.printer.json(&json!({ "nothing": message }));
            }
        }
        return Ok(());
    };
    if ctx.global.dry_run {
        ctx.printer.info("dry run: nothing was changed");
        return Ok(());
    }
    if gate == GateMode::Manual && !ctx.prompter.is_interactive() {
        return Err(refused("--gate manual needs a terminal to ask on")
            .with_hint("use the SQL gate, or run at a terminal")
            .into());
    }
    ctx.prompter
        .confirm(&question, &settings.env_name, settings.protected)?;
    if args.detach {
        let (pid, log) = waves::detach::spawn(&settings.state_dir)?;
        if ctx.printer.is_json() {
            ctx.printer.json(&json!({"pid": pid, "log": log}));
        } else {
            ctx.printer
                .data(&format!("detached: pid {pid}, log {}", log.display()));
        }
        ctx.printer.info(&format!(
            "follow it with `csi env restart-waves {} --status`; stop it with `--abort`",
            settings.env_name
        ));
        return Ok(());
    }
    let log = args
        .detached_child
        .then(|| settings.state_dir.join(waves::LOG_FILE));
    let options = RunOptions {
        poll,
        gate,
        skip_gate: args.skip_gate,
        log,
    };
    let restart = waves::execute(&settings, io, db, prepared.decision, options).await?;
    if ctx.printer.is_json() {
        ctx.printer.json(&restart);
    }
    Ok(())
}

/// After a start that ended a downtime of more than a day, at a terminal: start the wave
/// restart now, detached (it runs for days). Never without the operator's own yes.
pub async fn offer_after_start(ctx: &Context, env: &str) -> anyhow::Result<()> {
    if !ctx.prompter.is_interactive() {
        return Ok(());
    }
    let question = format!("Start the wave restart of `{env}` now, detached (it runs for days)?");
    if ctx.prompter.confirm_exception(&question, "").is_err() {
        ctx.printer
            .info(&format!("later: `csi env restart-waves {env}`"));
        return Ok(());
    }
    let args = RestartWavesArgs {
        env: env.to_owned(),
        downtime: None,
        gate: GateArg::Sql,
        skip_gate: false,
        status: false,
        abort: false,
        detach: true,
        poll: None,
        detached_child: false,
    };
    run(ctx, args).await
}
