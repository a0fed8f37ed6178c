//! `csi env drift <env>`: per service, the tag in the job file, the tag running in
//! Nomad and the job's status; exit 7 on any difference or missing job.

use serde::Serialize;

use super::Context;
use crate::error::{CsiError, Kind};
use crate::nomad::{jobfile, NomadClient};
use crate::settings::Service;

#[derive(Debug, Serialize)]
pub struct DriftRow {
    pub service: String,
    pub file_tag: Option<String>,
    pub running_tag: Option<String>,
    pub status: String,
    pub drift: bool,
}

pub async fn run(ctx: &Context, env: &str) -> anyhow::Result<()> {
    let settings = ctx.settings(env)?;
    let client = NomadClient::new(&settings.nomad, std::time::Duration::from_secs(10))?;
    let mut rows = Vec::new();
    for service in &settings.services {
        rows.push(row(&client, service).await?);
    }
    if ctx.printer.is_json() {
        ctx.printer.json(&rows);
    } else {
        for r in &rows {
            let mark = if r.drift {
                ctx.printer.highlight("DRIFT")
            } else {
                "ok   ".to_owned()
            };
            ctx.printer.data(&format!(
                "{mark} {:<24} file {:<14} nomad {:<14} {}",
                r.service,
                r.file_tag.as_deref().unwrap_or("?"),
                r.running_tag.as_deref().unwrap_or("-"),
                r.status
            ));
        }
    }
    let drifting: Vec<&str> = rows
        .iter()
        .filter(|r| r.drift)
        .map(|r| r.service.as_str())
        .collect();
    if drifting.is_empty() {
        Ok(())
    } else {
        Err(
            CsiError::new(Kind::Drift, format!("drift in {}", drifting.join(", ")))
                .with_hint(
                    "patch-image rolls the files out; doctor --fix resubmits missing services",
                )
                .into(),
        )
    }
}

pub async fn row(client: &NomadClient, service: &Service) -> anyhow::Result<DriftRow> {
    let file_tag = fs_err::read_to_string(&service.job_file)
        .ok()
        .and_then(|text| jobfile::find_images(&text).ok())
        .and_then(|images| images.into_iter().next())
        .and_then(|image| image.reference.and_then(|r| r.tag));
    let job = client.job(&service.job_id).await?;
    let (running_tag, status) = match &job {
        Some((header, _)) => {
            let tag = header
                .images()
                .first()
                .and_then(|(_, _, image)| jobfile::ImageReference::parse(image).tag);
            let status = if header.stop {
                "stopped".to_owned()
            } else {
                header.status.clone()
            };
            (tag, status)
        }
        None => (None, "missing".to_owned()),
    };
    let drift = job.is_none() || running_tag != file_tag || status == "stopped";
    Ok(DriftRow {
        service: service.name.clone(),
        file_tag,
        running_tag,
        status,
        drift,
    })
}
