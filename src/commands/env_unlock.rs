//! `csi env unlock <env>`: clears a lock left by an operation that died. A live
//! operation's lock is never cleared. With `--output json` the result is one object:
//! `{"environment", "result": "not_locked" | "cleared" | "dry_run", "holder"}` (the
//! stale lock's holder, null when there was none); a live lock is an error (exit 4).

use serde_json::json;

use super::Context;
use crate::journal::{Journal, Outcome};
use crate::lock::{self, LockState};

pub fn run(ctx: &Context, env: &str) -> anyhow::Result<()> {
    let settings = ctx.settings(env)?;
    let holder = match lock::inspect(&settings.state_dir)? {
        LockState::Free => {
            ctx.printer
                .info(&format!("`{env}` is not locked; nothing to do"));
            result(ctx, env, "not_locked", None);
            return Ok(());
        }
        LockState::Held { holder } => {
            return Err(crate::error::precondition(format!(
                "`{env}` is locked by a running operation: {}",
                holder.describe()
            ))
            .with_hint("a live operation's lock is never cleared; wait for it to finish")
            .into())
        }
        LockState::Stale { holder } => holder,
    };
    ctx.printer.info(&format!(
        "`{env}` has a lock left by an operation that did not finish: {}",
        holder.describe()
    ));
    if ctx.global.dry_run {
        ctx.printer.info("dry run: the lock is left in place");
        result(ctx, env, "dry_run", Some(&holder));
        return Ok(());
    }
    ctx.prompter
        .confirm("Clear this lock?", env, settings.protected)?;
    lock::clear_stale(&settings.state_dir, env)?;
    let op = Journal::for_state_dir(&settings.state_dir)
        .start("unlock", json!({ "cleared": holder }))?;
    op.finish(Outcome::Ok, "stale lock cleared")?;
    ctx.printer.info(&format!("lock on `{env}` cleared"));
    result(ctx, env, "cleared", Some(&holder));
    Ok(())
}

/// The documented JSON result (`--output json` only; the text output is the messages).
fn result(ctx: &Context, env: &str, outcome: &str, holder: Option<&lock::LockInfo>) {
    if ctx.printer.is_json() {
        ctx.printer.json(&json!({
            "environment": env,
            "result": outcome,
            "holder": holder,
        }));
    }
}
