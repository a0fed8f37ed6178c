//! `csi env patch-image <env> <service>... <tag>`: the job files rewritten to the new
//! tag (nothing else changed), shown as a diff, then parsed, planned, registered with
//! EnforceIndex and watched in Nomad, concurrently; a failed rollout is reverted in
//! Nomad and in the file.

use serde_json::json;

use super::Context;
use crate::cli::PatchImageArgs;
use crate::error::{usage, CsiError, Kind};
use crate::journal::Operation;
use crate::nomad::{deployment::Outcome, jobfile, NomadClient, NomadError};
use crate::operation;
use crate::rollout::{self, PatchedFile, RolloutOptions, Rollouts, ServiceResult};
use crate::settings::Settings;

mod live;

pub async fn run(ctx: &Context, args: PatchImageArgs) -> anyhow::Result<()> {
    let settings = ctx.reach(&args.env).await?;
    let (names, tag) = split_words(&args.words)?;
    jobfile::validate_tag(&tag, &settings.nomad.tag_pattern).map_err(|e| {
        usage(e.to_string())
            .with_hint("tags are the build's git commit: git- and 8 lower-case hex digits")
    })?;
    let services = rollout::select_services(&settings.services, &names, args.all)?;
    if args.live {
        return live::run(ctx, &settings, &services, &tag, &args).await;
    }
    let files = services
        .iter()
        .map(|s| rollout::patch_service_file(s, &tag))
        .collect::<Result<Vec<_>, _>>()?;
    show_files(ctx, &files);
    if args.no_submit {
        return write_only(ctx, &settings, files, &tag).await;
    }
    let timeout = args.timeout.unwrap_or(settings.nomad.deploy_timeout);
    let client = NomadClient::new(
        &settings.nomad,
        timeout + std::time::Duration::from_secs(30),
    )?;
    if ctx.global.dry_run {
        let plans = rollout::plan_all(&client, &settings.nomad, files).await?;
        if ctx.printer.is_json() {
            let services: Vec<_> = plans
                .iter()
                .map(|p| {
                    json!({
                        "service": p.file.service.name,
                        "from": p.file.old_tag,
                        "to": p.file.new_tag,
                        "file_changes": p.file.changed(),
                        "nomad_changes": p.planned.changes(),
                    })
                })
                .collect();
            ctx.printer
                .json(&json!({"tag": tag, "dry_run": true, "services": services}));
        } else {
            rollout::show_plans(&ctx.printer, &plans);
        }
        ctx.printer
            .info("dry run: nothing written, nothing submitted");
        return Ok(());
    }
    let options = RolloutOptions::new(&settings.nomad, timeout, !args.no_revert);
    let params = json!({"tag": tag, "services": services.iter().map(|s| &s.name).collect::<Vec<_>>(), "revert": options.revert});
    let settings = &settings;
    operation::run_locked(settings, "patch-image", params, |op| async move {
        let plans = rollout::plan_all(&client, &settings.nomad, files).await?;
        if !ctx.printer.is_json() {
            rollout::show_plans(&ctx.printer, &plans);
        }
        let changing = plans
            .iter()
            .filter(|p| p.planned.changes() || p.file.changed())
            .count();
        if changing == 0 {
            if ctx.printer.is_json() {
                ctx.printer.json(&json!({"tag": tag, "services": []}));
            }
            return Ok(((), "nothing to change".to_owned()));
        }
        let question = format!(
            "Roll out {tag} to {changing} service(s) in `{}`?",
            settings.env_name
        );
        ctx.prompter
            .confirm(&question, &settings.env_name, settings.protected)?;
        for plan in &plans {
            plan.file.write()?;
        }
        op.step("files_written", json!({"tag": tag}))?;
        let rollouts = rollout::roll_out_all(&ctx.printer, &client, plans, options, &op).await;
        summarise(ctx, &op, &tag, rollouts)
    })
    .await
}

/// `[services..., tag]` (or just `[tag]` with --all).
fn split_words(words: &[String]) -> Result<(Vec<String>, String), CsiError> {
    let (tag, names) = words
        .split_last()
        .ok_or_else(|| usage("give the services and the new tag"))?;
    Ok((names.to_vec(), tag.clone()))
}

fn show_files(ctx: &Context, files: &[PatchedFile]) {
    if ctx.printer.is_json() {
        return;
    }
    for file in files {
        if file.changed() {
            ctx.printer.diff(&file.diff());
        } else {
            ctx.printer.info(&format!(
                "{}: already at {}",
                file.service.name, file.new_tag
            ));
        }
    }
}

async fn write_only(
    ctx: &Context,
    settings: &Settings,
    files: Vec<PatchedFile>,
    tag: &str,
) -> anyhow::Result<()> {
    if ctx.global.dry_run {
        ctx.printer.info("dry run: nothing written");
        return Ok(());
    }
    let params = json!({"tag": tag, "submit": false});
    operation::run_locked(settings, "patch-image", params, |op| async move {
        let question = format!(
            "Write {} job file(s)?",
            files.iter().filter(|f| f.changed()).count()
        );
        ctx.prompter
            .confirm(&question, &settings.env_name, settings.protected)?;
        for file in files.iter().filter(|f| f.changed()) {
            file.write()?;
            op.step(
                "file_written",
                json!({"service": file.service.name, "from": file.old_tag, "to": file.new_tag}),
            )?;
        }
        ctx.printer
            .info("job files rewritten; nothing submitted to Nomad (--no-submit)");
        Ok(((), "files rewritten, not submitted".to_owned()))
    })
    .await
}

/// Puts back the files of services that did not end on the new version, journals and
/// prints the outcome (`--output json`: one document), and picks the exit code.
fn summarise(
    ctx: &Context,
    op: &Operation,
    tag: &str,
    rollouts: Rollouts,
) -> anyhow::Result<((), String)> {
    let mut worst: Option<Kind> = None;
    let mut lines = Vec::new();
    let mut results = Vec::new();
    for (file, result) in rollouts.results {
        let name = file.service.name.clone();
        let (outcome, kind) = match result {
            Ok(outcome @ (Outcome::Succeeded { .. } | Outcome::Unchanged)) => (outcome, None),
            Ok(outcome @ (Outcome::Reverted { .. } | Outcome::RevertedByNomad { .. })) => {
                (outcome, Some(Kind::RolledBack))
            }
            Ok(outcome @ Outcome::Failed { .. }) => (outcome, Some(Kind::Failed)),
            Err(error) => {
                let kind = match error {
                    NomadError::Conflict { .. } => Kind::Precondition,
                    _ => Kind::Failed,
                };
                (
                    Outcome::Failed {
                        version: 0,
                        reason: error.to_string(),
                    },
                    Some(kind),
                )
            }
        };
        let restore = matches!(
            outcome,
            Outcome::Reverted { .. } | Outcome::RevertedByNomad { .. }
        ) || matches!(&outcome, Outcome::Failed { version: 0, .. });
        let file_restored = restore && file.changed() && file.restore().is_ok();
        let result = ServiceResult {
            service: name.clone(),
            outcome,
            file_restored,
        };
        op.step("result", serde_json::to_value(&result)?)?;
        lines.push(describe(&result));
        results.push(result);
        worst = worst.max_by_severity(kind);
    }
    if ctx.printer.is_json() {
        ctx.printer.json(&json!({"tag": tag, "services": results}));
    } else {
        for line in &lines {
            ctx.printer.data(line);
        }
    }
    if let Some(error) = rollouts.journal_error {
        return Err(CsiError::new(
            Kind::Failed,
            format!(
                "{error:#}; the rollouts ran to their end: {}",
                lines.join("; ")
            ),
        )
        .with_hint(
            "the journal (state directory) must be writable; `csi env drift` shows what runs now",
        )
        .into());
    }
    match worst {
        None => Ok(((), format!("rolled out: {}", lines.join("; ")))),
        Some(kind) => Err(CsiError::new(kind, lines.join("; "))
            .with_hint("see `csi env drift` for what runs now, and `csi env history --steps` for every step")
            .into()),
    }
}

fn describe(result: &ServiceResult) -> String {
    let restored = if result.file_restored {
        " (job file restored)"
    } else {
        ""
    };
    match &result.outcome {
        Outcome::Succeeded { version } => {
            format!("{}: version {version} rolled out", result.service)
        }
        Outcome::Unchanged => format!("{}: unchanged", result.service),
        Outcome::Reverted {
            version,
            reverted_to,
            reason,
        } => format!(
            "{}: version {version} failed ({reason}); reverted to version {reverted_to}{restored}",
            result.service
        ),
        Outcome::RevertedByNomad {
            version,
            reverted_to,
            reason,
        } => format!(
            "{}: version {version} failed ({reason}), reverted by Nomad to version {reverted_to}{restored}",
            result.service
        ),
        Outcome::Failed { version: 0, reason } => {
            format!("{}: not rolled out: {reason}{restored}", result.service)
        }
        Outcome::Failed { version, reason } => {
            format!(
                "{}: version {version} failed ({reason}); left in place (--no-revert)",
                result.service
            )
        }
    }
}

/// Keeps the most serious outcome: a failure outranks a conflict, which outranks a
/// clean revert.
trait Severity {
    fn max_by_severity(self, other: Option<Kind>) -> Option<Kind>;
}

impl Severity for Option<Kind> {
    fn max_by_severity(self, other: Option<Kind>) -> Option<Kind> {
        let rank = |k: &Option<Kind>| match k {
            None => 0,
            Some(Kind::RolledBack) => 1,
            Some(Kind::Precondition) => 2,
            Some(_) => 3,
        };
        if rank(&other) > rank(&self) {
            other
        } else {
            self
        }
    }
}
