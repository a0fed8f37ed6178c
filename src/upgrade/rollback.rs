//! Taking every service back to the tag it ran before the upgrade: in Nomad, a revert
//! to the newest earlier version that runs that tag (stable ones first), watched; in
//! the job file, the tag put back (byte for byte what it was). Services already on
//! their previous tag (the failed one, reverted by its rollout) are left as they are.

use serde::Serialize;

use super::execute::UpgradeRunner;
use super::progress::UpgradeRecord;
use crate::nomad::{deployment, NomadClient, NomadError};
use crate::rollout::{self, RolloutDisplay};
use crate::settings::Service;

#[derive(Debug, Clone, Serialize)]
pub struct RolledBack {
    pub service: String,
    pub tag: String,
    /// What happened in Nomad (`already on ...`, `reverted to version N`).
    pub nomad: String,
    pub file_restored: bool,
    /// Why the service is not back, when it is not.
    pub error: Option<String>,
}

pub async fn roll_back_all(
    runner: &UpgradeRunner<'_>,
    progress: &UpgradeRecord,
) -> Vec<RolledBack> {
    let services: Vec<(Service, String)> = runner
        .settings
        .services
        .iter()
        .filter_map(|s| {
            let tag = progress.previous_tags.get(&s.name)?;
            Some((s.clone(), tag.clone()))
        })
        .collect();
    let names: Vec<String> = services.iter().map(|(s, _)| s.name.clone()).collect();
    let display = RolloutDisplay::new(runner.printer, &names);
    let rollbacks = services.into_iter().map(|(service, tag)| {
        let display = &display;
        async move {
            let options = deployment::WatchOptions {
                timeout: runner.timeout,
                restart_budget: runner.settings.nomad.restart_budget,
            };
            let nomad = in_nomad(runner.nomad, &service, &tag, options, display).await;
            let file = in_file(&service, &tag);
            let (nomad, mut error) = match nomad {
                Ok(what) => (what, None),
                Err(e) => ("not rolled back".to_owned(), Some(e)),
            };
            if let Err(e) = &file {
                error.get_or_insert_with(|| e.clone());
            }
            RolledBack {
                service: service.name.clone(),
                tag,
                nomad,
                file_restored: file.unwrap_or(false),
                error,
            }
        }
    });
    let mut back = futures::future::join_all(rollbacks).await;
    display.finish();
    back.sort_by(|a, b| a.service.cmp(&b.service));
    for b in &back {
        runner.printer.data(&format!(
            "{}: {}{}",
            b.service,
            b.nomad,
            if b.file_restored {
                " (job file restored)"
            } else {
                ""
            }
        ));
    }
    back
}

async fn in_nomad(
    client: &NomadClient,
    service: &Service,
    tag: &str,
    options: deployment::WatchOptions,
    display: &RolloutDisplay,
) -> Result<String, String> {
    let name = &service.name;
    let failed = |e: NomadError| e.to_string();
    let Some((header, _)) = client.job(&service.job_id).await.map_err(failed)? else {
        return Err("the job is not in Nomad".into());
    };
    if rollout::running_tag(&header).as_deref() == Some(tag) {
        display.update(name, &format!("already on {tag}"));
        return Ok(format!("already on {tag} (version {})", header.version));
    }
    let versions = client.job_versions(&service.job_id).await.map_err(failed)?;
    let Some(earlier) = versions
        .iter()
        .filter(|v| v.version < header.version && rollout::running_tag(v).as_deref() == Some(tag))
        .max_by_key(|v| (v.stable, v.version))
    else {
        return Err(format!("no earlier version of the job runs {tag}"));
    };
    display.update(name, &format!("reverting to version {}", earlier.version));
    client
        .revert_job(&service.job_id, earlier.version, header.version)
        .await
        .map_err(failed)?;
    let now = deployment::current_version(client, &service.job_id)
        .await
        .map_err(failed)?;
    let watched = deployment::watch(client, &service.job_id, now, "", options, |p| {
        display.progress(name, p)
    })
    .await
    .map_err(failed)?;
    match watched {
        deployment::Watched::Healthy => {
            display.update(name, &format!("back on {tag}"));
            Ok(format!("reverted to version {} ({tag})", earlier.version))
        }
        deployment::Watched::Failed(reason)
        | deployment::Watched::RevertedByNomad { reason, .. } => Err(format!(
            "reverted to version {} but it did not come up: {reason}",
            earlier.version
        )),
    }
}

/// Puts the previous tag back in the job file; true when the file changed.
fn in_file(service: &Service, tag: &str) -> Result<bool, String> {
    let file = rollout::patch_service_file(service, tag).map_err(|e| e.message)?;
    if !file.changed() {
        return Ok(false);
    }
    file.write().map_err(|e| e.message)?;
    Ok(true)
}
