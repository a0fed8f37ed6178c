//! `csi env deploy-dashboard <env> <dist>` and `--rollback`: plan, show, confirm, then
//! deploy (or swap back) under the environment's lock, journaled.

use std::future::Future;

use serde_json::Value;

use super::Context;
use crate::cli::DeployDashboardArgs;
use crate::dashboard::{self, deploy, rollback, WebHost};
use crate::journal::Operation;
use crate::lock;
use crate::operation;
use crate::settings::Settings;

pub async fn run(ctx: &Context, args: DeployDashboardArgs) -> anyhow::Result<()> {
    let settings = ctx.settings(&args.env)?;
    let dashboard = dashboard::settings::resolve(&ctx.config()?, &args.env)?;
    let host = WebHost::new(dashboard.clone());
    let (host, dashboard) = (&host, &dashboard);
    match args.source {
        Some(dist) => {
            let plan = deploy::plan(host, dashboard, &dist).await?;
            if !show(ctx, &plan.lines(), &plan)? {
                return Ok(());
            }
            let question = format!("Deploy this dashboard to `{}`?", settings.env_name);
            let plan = &plan;
            confirmed_and_locked(
                ctx,
                &settings,
                &question,
                "deploy-dashboard",
                plan.journal_params(),
                |op| async move { deploy::execute(host, dashboard, plan, &op, &ctx.printer).await },
            )
            .await?;
            ctx.printer
                .info(&format!("deployed and verified: {}", plan.live_dir));
        }
        None => {
            let plan = rollback::plan(host, dashboard).await?;
            if !show(ctx, &plan.lines(), &plan)? {
                return Ok(());
            }
            let question = format!(
                "Roll the dashboard of `{}` back to {}?",
                settings.env_name, plan.layout.previous
            );
            let plan = &plan;
            confirmed_and_locked(ctx, &settings, &question, "deploy-dashboard-rollback", plan.journal_params(), |op| async move {
                rollback::execute(host, dashboard, plan, &op, &ctx.printer).await
            })
            .await?;
            ctx.printer
                .info(&format!("rolled back and verified: {}", plan.live_dir));
        }
    }
    Ok(())
}

/// Asks `question`, then runs `execute` under the environment's lock as journal
/// operation `name`, with who confirmed as its first step.
async fn confirmed_and_locked<F, Fut>(
    ctx: &Context,
    settings: &Settings,
    question: &str,
    name: &str,
    params: Value,
    execute: F,
) -> anyhow::Result<()>
where
    F: FnOnce(Operation) -> Fut,
    Fut: Future<Output = anyhow::Result<String>>,
{
    ctx.prompter
        .confirm(question, &settings.env_name, settings.protected)?;
    operation::run_locked(settings, name, params, |op| async move {
        op.step("confirmed", serde_json::json!({"by": lock::current_user()}))?;
        let message = execute(op).await?;
        Ok(((), message))
    })
    .await
}

/// Prints the plan; false when this is a dry run (nothing more to do).
fn show(ctx: &Context, lines: &[String], plan: &impl serde::Serialize) -> anyhow::Result<bool> {
    if ctx.printer.is_json() {
        ctx.printer.json(plan);
    } else {
        for line in lines {
            ctx.printer.data(line);
        }
    }
    if ctx.global.dry_run {
        ctx.printer.info("dry run: nothing was changed");
        return Ok(false);
    }
    Ok(true)
}
