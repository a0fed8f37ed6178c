//! `csi env check <env>`: every preflight check, one line each; non-zero on a failure.

use super::Context;
use crate::error::precondition;
use crate::preflight::{self, Status};

pub async fn run(ctx: &Context, env: &str) -> anyhow::Result<()> {
    let mut settings = ctx.settings(env)?;
    let mut checks = preflight::sources(&settings);
    if let Some(ssh) = &settings.ssh {
        let name = format!("ssh {}@{}", ssh.user, ssh.host);
        checks.push(
            match crate::ssh::attach(&mut settings, &ctx.printer, ctx.global.through_client).await {
                Ok(()) => preflight::Check::new(
                    name,
                    Status::Ok,
                    "connected (one connection for the whole check)",
                ),
                Err(e) => preflight::Check::new(name, Status::Fail, e.message),
            },
        );
    }
    checks.extend(preflight::all(&settings).await);
    if ctx.printer.is_json() {
        ctx.printer.json(&checks);
    } else {
        for check in &checks {
            let mark = match check.status {
                Status::Ok => ctx.printer.ok_fail(true),
                Status::Fail => ctx.printer.ok_fail(false),
                Status::Skip => "SKIP".to_owned(),
                Status::Info => "FROM".to_owned(),
            };
            ctx.printer
                .data(&format!("{mark}  {:<26} {}", check.name, check.detail));
        }
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.name.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(precondition(format!(
            "{} check(s) failed for `{env}`: {}",
            failed.len(),
            failed.join(", ")
        ))
        .with_hint("fix what the FAIL lines say, then run the check again")
        .into())
    }
}
