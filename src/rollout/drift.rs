//! Is a service's job file what runs in Nomad? The tag in the file, the tag running,
//! the job's status.

use serde::Serialize;

use crate::nomad::{jobfile, NomadClient, NomadError};
use crate::settings::Service;

#[derive(Debug, Clone, Serialize)]
pub struct DriftRow {
    pub service: String,
    pub file_tag: Option<String>,
    pub running_tag: Option<String>,
    pub status: String,
    pub drift: bool,
}

/// The image tag written in a job file (its first image).
pub fn file_tag(service: &Service) -> Option<String> {
    fs_err::read_to_string(&service.job_file)
        .ok()
        .and_then(|text| jobfile::find_images(&text).ok())
        .and_then(|images| images.into_iter().next())
        .and_then(|image| image.reference.and_then(|r| r.tag))
}

pub async fn drift_row(client: &NomadClient, service: &Service) -> Result<DriftRow, NomadError> {
    let file_tag = file_tag(service);
    let job = client.job(&service.job_id).await?;
    let (running_tag, status) = match &job {
        Some((header, _)) => {
            // "running" only with healthy allocations of the current version.
            let status = if header.stop {
                "stopped".to_owned()
            } else {
                client.service_status(header).await?
            };
            (running_tag(header), status)
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

/// The tag of the job's first image.
pub fn running_tag(header: &crate::nomad::api::JobHeader) -> Option<String> {
    header
        .images()
        .first()
        .and_then(|(_, _, image)| jobfile::ImageReference::parse(image).tag)
}
