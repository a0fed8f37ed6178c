//! The job file side of a rollout: read, patch the tag, show the diff, write atomically,
//! put back.

use std::path::Path;

use crate::error::{failed, usage, CsiError};
use crate::nomad::jobfile::{self, Patched};
use crate::settings::Service;

/// A service's job file before and after the patch.
#[derive(Debug, Clone)]
pub struct PatchedFile {
    pub service: Service,
    pub original: String,
    pub patched: String,
    pub old_tag: String,
    pub new_tag: String,
    pub line: usize,
}

impl PatchedFile {
    pub fn changed(&self) -> bool {
        self.original != self.patched
    }

    pub fn diff(&self) -> String {
        jobfile::unified_diff(
            &self.service.job_file.display().to_string(),
            &self.original,
            &self.patched,
        )
    }

    pub fn write(&self) -> Result<(), CsiError> {
        write(&self.service.job_file, &self.patched)
    }

    /// Puts the file back as it was before the patch.
    pub fn restore(&self) -> Result<(), CsiError> {
        write(&self.service.job_file, &self.original)
    }
}

pub fn patch_service_file(service: &Service, tag: &str) -> Result<PatchedFile, CsiError> {
    let path = &service.job_file;
    let original = fs_err::read_to_string(path).map_err(|e| {
        usage(format!("cannot read the job file of {}: {e}", service.name))
            .with_hint("fix service.job_file in csi.hcl")
    })?;
    let Patched {
        text,
        old_tag,
        new_tag,
        line,
        ..
    } = jobfile::set_image_tag(&original, None, tag)
        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
    Ok(PatchedFile {
        service: service.clone(),
        original,
        patched: text,
        old_tag,
        new_tag,
        line,
    })
}

fn write(path: &Path, contents: &str) -> Result<(), CsiError> {
    jobfile::write_atomically(path, contents)
        .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))
}
