//! Filling in the job files' allow-listed `$VARIABLES` before submission: from the
//! environment, else the configured files, else the configured values.

use crate::env_vars;
use crate::error::{usage, CsiError};
use crate::nomad::jobfile::render;
use crate::secret;
use crate::settings::{NomadSettings, Service};

pub fn render_for_nomad(
    service: &Service,
    text: &str,
    nomad: &NomadSettings,
) -> Result<String, CsiError> {
    let values = |name: &str| value_of(name, nomad);
    let allowed: Vec<&str> = nomad
        .template_variables
        .iter()
        .map(String::as_str)
        .collect();
    render(text, &allowed, &values).map_err(|e| {
        usage(format!("cannot render {} ({}): {e}", service.name, service.job_file.display()))
            .with_hint("set the variables in the environment, or nomad.template_files / template_values in csi.hcl")
    })
}

fn value_of(name: &str, nomad: &NomadSettings) -> Option<String> {
    let value = env_vars::get(name)
        .or_else(|| {
            nomad
                .template_files
                .get(name)
                .and_then(|path| fs_err::read_to_string(path).ok())
                .map(single_line_trimmed)
        })
        .or_else(|| nomad.template_values.get(name).cloned())?;
    if is_secret_name(name) {
        secret::register(&value);
    }
    Some(value)
}

/// Secret env files and registry tokens never reach the screen.
fn is_secret_name(name: &str) -> bool {
    name.contains("SECRET") || name.contains("TOKEN") || name.contains("PASSWORD")
}

/// A one-line file (a token) is its line; a multi-line file (an env file) is kept whole.
fn single_line_trimmed(content: String) -> String {
    match content.strip_suffix('\n') {
        Some(line) if !line.contains('\n') => line.to_owned(),
        _ => content,
    }
}
