//! `patch-image --live`: the running job only, as operators did in the Nomad UI. The
//! file is not touched, so the next full restart brings the file's tag back.

use serde_json::{json, Value};

use super::Context;
use crate::cli::PatchImageArgs;
use crate::deploy::RolloutDisplay;
use crate::error::{precondition, CsiError, Kind};
use crate::nomad::{rollout, NomadClient};
use crate::operation;
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
    operation::run_locked(settings, "patch-image", params, |op| async move {
        ctx.prompter.confirm(
            &format!("Patch {} running job(s) live?", live.len()),
            &settings.env_name,
            settings.protected,
        )?;
        let names: Vec<String> = live.iter().map(|l| l.0.name.clone()).collect();
        let display = RolloutDisplay::new(&ctx.printer, &names);
        let mut failures = Vec::new();
        for (service, index, _, job) in &live {
            let response = client
                .register_enforced(&service.job_id, job, *index, None)
                .await?;
            let version = client
                .job(&service.job_id)
                .await?
                .map(|(h, _)| h.version)
                .unwrap_or_default();
            op.step(
                "submitted_live",
                json!({"service": service.name, "version": version}),
            )?;
            let watched = rollout::watch(
                &client,
                &service.job_id,
                version,
                &response.eval_id,
                timeout,
                |p| display.progress(&service.name, p),
            )
            .await?;
            if let Err(reason) = watched {
                failures.push(format!("{}: {reason}", service.name));
            }
        }
        display.finish();
        if failures.is_empty() {
            Ok((
                (),
                "patched live; the job files still hold the old tag".to_owned(),
            ))
        } else {
            Err(CsiError::new(Kind::Failed, failures.join("; ")).into())
        }
    })
    .await
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
