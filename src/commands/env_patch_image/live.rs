//! `patch-image --live`: the running job only, as operators did in the Nomad UI. The
//! file is not touched, so the next full restart brings the file's tag back.

use serde_json::{json, Value};

use super::Context;
use super::Severity;
use crate::cli::PatchImageArgs;
use crate::error::{precondition, CsiError, Kind};
use crate::journal::Operation;
use crate::nomad::deployment::{self, Outcome};
use crate::nomad::{NomadClient, NomadError};
use crate::operation;
use crate::rollout::{self, RolloutDisplay, RolloutOptions};
use crate::settings::{Service, Settings};

pub async fn run(
    ctx: &Context,
    settings: &Settings,
    services: &[Service],
    tag: &str,
    args: &PatchImageArgs,
) -> anyhow::Result<()> {
    let timeout = args.timeout.unwrap_or(settings.nomad.deploy_timeout);
    let client = NomadClient::new(
        &settings.nomad,
        timeout + std::time::Duration::from_secs(30),
    )?;
    ctx.printer.warn(
        "--live patches only the running job: the next full restart brings back the job file's tag",
    );
    let mut live = Vec::new();
    for service in services {
        let (header, job) = client.job(&service.job_id).await?.ok_or_else(|| {
            precondition(format!(
                "{} is not in Nomad: nothing to patch live",
                service.name
            ))
            .with_hint("submit it from its file with `csi env patch-image` (without --live)")
        })?;
        let (patched, changes) = retag(job, tag);
        for (old, new) in &changes {
            ctx.printer
                .data(&format!("{}: {old} -> {new}", service.name));
        }
        live.push((
            service.clone(),
            header.job_modify_index,
            header.version,
            patched,
        ));
    }
    if ctx.global.dry_run {
        return Ok(());
    }
    let params = json!({"tag": tag, "live": true, "services": services.iter().map(|s| &s.name).collect::<Vec<_>>()});
    let options = RolloutOptions::new(&settings.nomad, timeout, true);
    operation::run_locked(settings, "patch-image", params, |op| async move {
        ctx.prompter.confirm(
            &format!("Patch {} running job(s) live?", live.len()),
            &settings.env_name,
            settings.protected,
        )?;
        let names: Vec<String> = live.iter().map(|l| l.0.name.clone()).collect();
        let display = RolloutDisplay::new(&ctx.printer, &names);
        let rollouts = live.iter().map(|(service, index, _, job)| {
            let (display, client, op) = (&display, &client, &op);
            async move {
                let result = patch_one(client, service, *index, job, options, display, op).await;
                (service.name.clone(), result)
            }
        });
        let results = futures::future::join_all(rollouts).await;
        display.finish();
        let mut failures = Vec::new();
        let mut worst = None;
        for (name, result) in results {
            let (line, kind) = match result {
                Ok(Outcome::Succeeded { version }) => (format!("{name}: version {version} rolled out live"), None),
                Ok(Outcome::Unchanged) => (format!("{name}: unchanged"), None),
                Ok(Outcome::Reverted { version, reverted_to, reason }) => (
                    format!("{name}: version {version} failed ({reason}); reverted to version {reverted_to}"),
                    Some(Kind::RolledBack),
                ),
                Ok(Outcome::RevertedByNomad { version, reverted_to, reason }) => (
                    format!("{name}: version {version} failed ({reason}), reverted by Nomad to version {reverted_to}"),
                    Some(Kind::RolledBack),
                ),
                Ok(Outcome::Failed { version, reason }) => {
                    (format!("{name}: version {version} failed ({reason})"), Some(Kind::Failed))
                }
                Err(e) => {
                    let kind = match e.downcast_ref::<NomadError>() {
                        Some(NomadError::Conflict { .. }) => Kind::Precondition,
                        _ => Kind::Failed,
                    };
                    (format!("{name}: {e:#}"), Some(kind))
                }
            };
            ctx.printer.data(&line);
            if let Some(kind) = kind {
                failures.push(line);
                worst = worst.max_by_severity(Some(kind));
            }
        }
        match worst {
            None => Ok((
                (),
                "patched live; the job files still hold the old tag".to_owned(),
            )),
            Some(kind) => Err(CsiError::new(kind, failures.join("; ")).into()),
        }
    })
    .await
}

/// Registers one patched running job (EnforceIndex at the index it was read at),
/// journals it, then watches it and reverts it on failure, as every rollout does.
async fn patch_one(
    client: &NomadClient,
    service: &Service,
    index: u64,
    job: &Value,
    options: RolloutOptions,
    display: &RolloutDisplay,
    op: &Operation,
) -> anyhow::Result<Outcome> {
    display.update(&service.name, "registering");
    let response = client
        .register_enforced(&service.job_id, job, index, None)
        .await?;
    let version = deployment::current_version(client, &service.job_id).await?;
    op.step(
        "submitted_live",
        json!({"service": service.name, "version": version}),
    )?;
    Ok(rollout::watch_and_revert(
        client,
        &service.job_id,
        &service.name,
        version,
        &response.eval_id,
        options,
        display,
    )
    .await?)
}

/// Every task image of the job with its tag replaced; returns the changes.
fn retag(mut job: Value, tag: &str) -> (Value, Vec<(String, String)>) {
    let mut changes = Vec::new();
    for group in job["TaskGroups"].as_array_mut().into_iter().flatten() {
        for task in group["Tasks"].as_array_mut().into_iter().flatten() {
            if let Some(image) = task["Config"]["image"].as_str() {
                let new = with_tag(image, tag);
                if new != image {
                    changes.push((image.to_owned(), new.clone()));
                    task["Config"]["image"] = Value::String(new);
                }
            }
        }
    }
    (job, changes)
}

fn with_tag(image: &str, tag: &str) -> String {
    let reference = crate::nomad::jobfile::ImageReference::parse(image);
    match reference.tag_range {
        Some(range) => format!("{}{tag}{}", &image[..range.start], &image[range.end..]),
        None => format!("{image}:{tag}"),
    }
}
