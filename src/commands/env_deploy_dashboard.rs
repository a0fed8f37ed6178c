//! `csi env deploy-dashboard <env> <dist>` and `--rollback`: plan, show, confirm, then
//! deploy (or swap back) under the environment's lock, journaled.

use super::Context;
use crate::cli::DeployDashboardArgs;
use crate::dashboard::{self, deploy, rollback, WebHost};
use crate::lock;
use crate::operation;

pub async fn run(ctx: &Context, args: DeployDashboardArgs) -> anyhow::Result<()> {
    let settings = ctx.settings(&args.env)?;
    let dashboard = dashboard::settings::resolve(&ctx.config()?, &args.env)?;
    let host = WebHost::new(dashboard.clone());
    match args.source {
        Some(dist) => {
            let plan = deploy::plan(&host, &dashboard, &dist).await?;
            if !show(ctx, &plan.lines(), &plan)? {
                return Ok(());
            }
            let question = format!("Deploy this dashboard to `{}`?", settings.env_name);
            ctx.prompter
                .confirm(&question, &settings.env_name, settings.protected)?;
            let plan = &plan;
            let (host, dashboard) = (&host, &dashboard);
            operation::run_locked(
                &settings,
                "deploy-dashboard",
                plan.journal_params(),
                |op| async move {
                    op.step("confirmed", serde_json::json!({"by": lock::current_user()}))?;
                    let message = deploy::execute(host, dashboard, plan, &op, &ctx.printer).await?;
                    Ok(((), message))
                },
            )
            .await?;
            ctx.printer
                .info(&format!("deployed and verified: {}", plan.live_dir));
        }
        None => {
            let plan = rollback::plan(&host, &dashboard).await?;
            if !show(ctx, &plan.lines(), &plan)? {
                return Ok(());
            }
            let question = format!(
                "Roll the dashboard of `{}` back to {}?",
                settings.env_name, plan.layout.previous
            );
            ctx.prompter
                .confirm(&question, &settings.env_name, settings.protected)?;
            let plan = &plan;
            let (host, dashboard) = (&host, &dashboard);
            operation::run_locked(
                &settings,
                "deploy-dashboard-rollback",
                plan.journal_params(),
                |op| async move {
                    op.step("confirmed", serde_json::json!({"by": lock::current_user()}))?;
                    let message =
                        rollback::execute(host, dashboard, plan, &op, &ctx.printer).await?;
                    Ok(((), message))
                },
            )
            .await?;
            ctx.printer
                .info(&format!("rolled back and verified: {}", plan.live_dir));
        }
    }
    Ok(())
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
