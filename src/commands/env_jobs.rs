//! `csi env jobs <env> list|set-status|retry`: select jobs, and walk stuck ones through
//! authorized statuses, one transaction per job, with a pause between jobs.

use std::time::Duration;

use serde_json::json;

use super::Context;
use crate::cli::{JobSelectionArgs, JobsAction, JobsArgs, JobsListArgs, WalkFlags};
use crate::error::{failed, precondition, usage, CsiError, Kind};
use crate::jobs::{
    self, describe, path_text, JobRow, Outcome, Resolved, Selection, Status, StatusNames,
    StatusPlan, Summary, TimeRange, Transitions, WalkOptions, WalkProgress,
};
use crate::operation;
use crate::output::Printer;
use crate::settings::Settings;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(ctx: &Context, args: JobsArgs) -> anyhow::Result<()> {
    let settings = ctx.reach(&args.env).await?;
    if let JobsAction::SetStatus(set) = &args.action {
        if selects_everything(&set.selection) {
            return Err(usage(
                "set-status needs a selection: it would walk every job of the database",
            )
            .with_hint("narrow it with --type, --status, --id, --tile or --since/--before")
            .into());
        }
    }
    let client = connect(&settings).await?;
    jobs::require_for_reading(&client, &settings.database.schema).await?;
    if !matches!(args.action, JobsAction::List(_)) {
        jobs::require_for_walking(&client, &settings.database.schema).await?;
    }
    let names = StatusNames::load(
        &client,
        &settings.database.schema,
        "csi env jobs reads the job statuses (ids and names) from it",
    )
    .await?;
    match args.action {
        JobsAction::List(list) => self::list(ctx, &settings, client, &names, *list).await,
        JobsAction::SetStatus(set) => {
            let selection = selection(&set.selection, &names, None)?;
            let path = names.parse_list(&set.to)?;
            walk(
                ctx,
                &settings,
                client,
                "jobs-set-status",
                selection,
                path,
                &set.walk,
            )
            .await
        }
        JobsAction::Retry(retry) => {
            let retry_from = names
                .parse_list(&settings.jobs.retry_from)
                .map_err(|e| in_setting("jobs.retry_from", e))?;
            let selection = selection(&retry.selection, &names, Some(&retry_from))?;
            let path = if retry.to.is_empty() {
                names
                    .parse_list(&settings.jobs.retry_to)
                    .map_err(|e| in_setting("jobs.retry_to", e))?
            } else {
                names.parse_list(&retry.to)?
            };
            walk(
                ctx,
                &settings,
                client,
                "jobs-retry",
                selection,
                path,
                &retry.walk,
            )
            .await
        }
    }
}

/// No criterion given: the selection would be every job (as [`Selection::is_everything`],
/// on the command line's text, before the database is reached).
fn selects_everything(args: &JobSelectionArgs) -> bool {
    args.types.is_empty()
        && args.status.is_empty()
        && args.ids.is_empty()
        && args.tile.is_empty()
        && args.since.is_none()
        && args.before.is_none()
}

/// A configured status list the database does not know: the key is named.
fn in_setting(key: &str, e: CsiError) -> CsiError {
    usage(format!("{key} in csi.hcl: {}", e.message)).with_hint(e.hint.unwrap_or_default())
}

/// The command line's selection; `default_statuses` when no --status is given.
fn selection(
    args: &JobSelectionArgs,
    names: &StatusNames,
    default_statuses: Option<&[Status]>,
) -> Result<Selection, CsiError> {
    let statuses = if args.status.is_empty() {
        default_statuses.map(<[Status]>::to_vec).unwrap_or_default()
    } else {
        names.parse_list(&args.status)?
    };
    let since = args.since.as_deref().map(jobs::parse_time).transpose()?;
    let before = args.before.as_deref().map(jobs::parse_time).transpose()?;
    if let (Some(s), Some(b)) = (since, before) {
        if s >= b {
            return Err(usage("--since must be earlier than --before"));
        }
    }
    let time = (since.is_some() || before.is_some()).then(|| TimeRange {
        column: args.date_column.clone(),
        since,
        before,
    });
    Ok(Selection {
        types: args.types.clone(),
        statuses,
        ids: jobs::parse_ids(&args.ids)?,
        tiles: args.tile.clone(),
        time,
    })
}

async fn connect(settings: &Settings) -> anyhow::Result<tokio_postgres::Client> {
    let client = crate::database::connect_required(&settings.database, CONNECT_TIMEOUT).await?;
    jobs::prepare_session(&client).await?;
    Ok(client)
}

async fn list(
    ctx: &Context,
    settings: &Settings,
    client: tokio_postgres::Client,
    names: &StatusNames,
    args: JobsListArgs,
) -> anyhow::Result<()> {
    let selection = selection(&args.selection, names, None)?;
    let resolved = jobs::resolve(&client, &settings.database.schema, &selection).await?;
    let counts = jobs::counts(&client, &resolved).await?;
    let page = jobs::page(&client, &resolved, args.limit.max(0), args.offset.max(0)).await?;
    let total: i64 = counts.iter().map(|c| c.jobs).sum();
    let date_column = resolved.date_expression().map(|(column, _)| column);
    if ctx.printer.is_json() {
        ctx.printer.json(&json!({
            "selection": selection,
            "total": total,
            "counts": counts,
            "offset": args.offset,
            "limit": args.limit,
            "date_column": date_column,
            "jobs": page,
        }));
        return Ok(());
    }
    let p = &ctx.printer;
    p.data(&format!(
        "selection: {} ({total} jobs)",
        selection.describe()
    ));
    for c in &counts {
        p.data(&format!("  {:<18} {:>8}", describe(c.status), c.jobs));
    }
    if page.is_empty() {
        return Ok(());
    }
    p.data("");
    let date_header = date_column.as_deref().unwrap_or("");
    p.data(&format!(
        "{:>10}  {:<14} {:<7} {:<18} {:<20} {date_header}",
        "id", "type", "tile", "status", "since"
    ));
    for job in &page {
        p.data(&job_line(job));
    }
    let shown_to = args.offset + page.len() as i64;
    if shown_to < total {
        p.info(&format!(
            "jobs {}-{shown_to} of {total}; --offset {shown_to} shows the next page",
            args.offset + 1
        ));
    }
    Ok(())
}

fn job_line(job: &JobRow) -> String {
    format!(
        "{:>10}  {:<14} {:<7} {:<18} {:<20} {}",
        job.id,
        job.job_type.as_deref().unwrap_or("-"),
        job.tile.as_deref().unwrap_or("-"),
        describe(job.status),
        job.since
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "-".into()),
        job.date.as_deref().unwrap_or("")
    )
}

async fn walk(
    ctx: &Context,
    settings: &Settings,
    mut client: tokio_postgres::Client,
    verb: &str,
    selection: Selection,
    path: Vec<Status>,
    flags: &WalkFlags,
) -> anyhow::Result<()> {
    let resolved = jobs::resolve(&client, &settings.database.schema, &selection).await?;
    let rules = Transitions::load(&client, &settings.database.schema).await?;
    let counts = jobs::counts(&client, &resolved).await?;
    let plan = jobs::plan_walk(&counts, &rules, &path);
    let pause = flags.pause.unwrap_or(settings.jobs.pause);
    let total: i64 = counts.iter().map(|c| c.jobs).sum();
    let selected = flags.limit.map_or(total, |l| total.min(l as i64));
    let to_write: i64 = plan
        .iter()
        .filter(|p| p.refused.is_none())
        .map(|p| p.jobs)
        .sum();
    show_plan(&ctx.printer, &resolved, &rules, &plan, &path, pause, total);

    let refused: Vec<&StatusPlan> = plan.iter().filter(|p| p.refused.is_some()).collect();
    if flags.strict && !refused.is_empty() {
        let jobs: i64 = refused.iter().map(|p| p.jobs).sum();
        return Err(precondition(format!(
            "--strict: {jobs} selected job(s) cannot walk {}: {}; nothing was written",
            path_text(None, &path).trim_start_matches("none -> "),
            refused
                .iter()
                .map(|p| format!(
                    "{} job(s) in {}: {}",
                    p.jobs,
                    p.status,
                    p.refused.as_deref().unwrap_or("")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ))
        .with_hint("narrow the selection (--status) or drop --strict to skip those jobs")
        .into());
    }
    if to_write == 0 {
        ctx.printer
            .info("nothing to write: no selected job can take this walk");
        if ctx.printer.is_json() {
            ctx.printer
                .json(&json!({ "plan": plan, "summary": Summary::default(), "jobs": [] }));
        }
        return Ok(());
    }
    let options = WalkOptions {
        path: path.clone(),
        pause,
        limit: flags.limit,
        dry_run: ctx.global.dry_run,
    };
    if ctx.global.dry_run {
        let (summary, jobs) =
            run_walk(ctx, &mut client, &resolved, &rules, &options, selected).await?;
        ctx.printer.info("dry run: nothing was written");
        report(ctx, &plan, &summary, jobs);
        return Ok(());
    }
    let params = json!({
        "selection": selection,
        "walk": path,
        "pause": humantime::format_duration(pause).to_string(),
        "strict": flags.strict,
        "limit": flags.limit,
    });
    let env = settings.env_name.clone();
    let (plan, rules, resolved, options) = (&plan, &rules, &resolved, &options);
    let client = &mut client;
    operation::run_locked(settings, verb, params, |op| async move {
        let question = format!(
            "Walk up to {to_write} job(s) of `{env}` through {} ({} status changes, pause {})?",
            path.iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(" -> "),
            to_write as u64 * path.len() as u64,
            crate::output::human_duration(pause)
        );
        ctx.prompter.confirm(&question, &env, settings.protected)?;
        op.step("planned", json!({ "plan": plan, "rules": rules.source }))?;
        let (summary, _) = run_walk(ctx, client, resolved, rules, options, selected).await?;
        op.step("summary", json!(summary))?;
        report(ctx, plan, &summary, Vec::new());
        let message = format!(
            "{} job(s) changed, {} skipped, {} failed{}",
            summary.changed,
            summary.skipped.jobs,
            summary.failed.jobs,
            if summary.interrupted {
                ", interrupted"
            } else {
                ""
            }
        );
        if summary.interrupted {
            return Err(CsiError::new(
                Kind::Interrupted,
                format!("interrupted between two jobs: {message}"),
            )
            .with_hint("run the same command again: jobs already walked no longer match")
            .into());
        }
        if summary.failed.jobs > 0 {
            return Err(failed(format!("some jobs could not be walked: {message}"))
                .with_hint("the failed jobs were left as they were; see the reasons above")
                .into());
        }
        Ok(((), message))
    })
    .await
}

fn show_plan(
    p: &Printer,
    resolved: &Resolved,
    rules: &Transitions,
    plan: &[StatusPlan],
    path: &[Status],
    pause: Duration,
    total: i64,
) {
    p.info(&format!(
        "selection: {} ({total} jobs); walk: {}; rules: {}; pause {} between jobs",
        resolved.selection.describe(),
        path.iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(" -> "),
        rules.source,
        crate::output::human_duration(pause)
    ));
    for s in plan {
        match &s.refused {
            None => p.info(&format!("  {:>8} job(s): {}", s.jobs, s.walk)),
            Some(reason) => p.info(&format!(
                "  {:>8} job(s) in {}: {} — {}",
                s.jobs,
                s.status,
                p.highlight("skipped"),
                reason
            )),
        }
    }
}

async fn run_walk(
    ctx: &Context,
    client: &mut tokio_postgres::Client,
    resolved: &Resolved,
    rules: &Transitions,
    options: &WalkOptions,
    selected: i64,
) -> anyhow::Result<(Summary, Vec<serde_json::Value>)> {
    let p = &ctx.printer;
    let json = p.is_json();
    // A dry run lists every job instead.
    let mut progress = (!options.dry_run).then(|| WalkProgress::new(p, selected));
    // A dry run in JSON lists every job's walk in the document.
    let mut planned = Vec::new();
    let summary = jobs::walk(client, resolved, rules, options, |job, outcome| {
        let walk = path_text(job.status, &options.path);
        let say = |f: &mut dyn FnMut()| match &progress {
            Some(progress) => progress.say(f),
            None => f(),
        };
        match outcome {
            Outcome::WouldWrite if json => planned.push(json!({
                "id": job.id,
                "type": job.job_type,
                "name": job.name,
                "tile": job.tile,
                "from": describe(job.status),
                "walk": options.path,
            })),
            Outcome::WouldWrite => p.data(&format!(
                "would write  job {}  {}  {}  {walk}",
                job.id,
                job.job_type.as_deref().unwrap_or("-"),
                job.tile.as_deref().unwrap_or("-")
            )),
            Outcome::Changed => say(&mut || p.detail(&format!("job {}: {walk}", job.id))),
            Outcome::Skipped(reason) => say(&mut || {
                p.info(&format!(
                    "skipped job {} ({}): {reason}",
                    job.id,
                    describe(job.status)
                ))
            }),
            Outcome::Failed(reason) => {
                say(&mut || p.warn(&format!("job {} failed ({walk}): {reason}", job.id)))
            }
        }
        if let Some(progress) = &mut progress {
            progress.tick(p, outcome);
        }
    })
    .await?;
    if let Some(progress) = progress {
        progress.finish();
    }
    Ok((summary, planned))
}

fn report(ctx: &Context, plan: &[StatusPlan], summary: &Summary, jobs: Vec<serde_json::Value>) {
    let p = &ctx.printer;
    if p.is_json() {
        p.json(&json!({ "plan": plan, "summary": summary, "jobs": jobs }));
        return;
    }
    let verb = if summary.dry_run {
        "would change"
    } else {
        "changed"
    };
    p.data(&format!(
        "{verb} {} job(s) ({} status changes), skipped {}, failed {}{}",
        summary.changed,
        summary.status_changes,
        summary.skipped.jobs,
        summary.failed.jobs,
        if summary.interrupted {
            " — interrupted"
        } else {
            ""
        }
    ));
    for (label, tally) in [("skipped", &summary.skipped), ("failed", &summary.failed)] {
        for reason in &tally.reasons {
            let ids: Vec<String> = reason.ids.iter().map(i64::to_string).collect();
            let more = if reason.jobs as usize > reason.ids.len() {
                ", ..."
            } else {
                ""
            };
            p.data(&format!(
                "  {label} {}: {} (jobs {}{more})",
                reason.jobs,
                reason.reason,
                ids.join(", ")
            ));
        }
    }
}
