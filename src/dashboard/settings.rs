//! The environment's `dashboard` block, resolved: local paths made absolute, defaults
//! applied. Remote paths were checked when the file was read (config::RemoteDir).

use std::path::PathBuf;

use serde::Serialize;

use crate::config::{LoadedConfig, RemoteDir};
use crate::error::{usage, CsiError};
use crate::settings::{environment, local_account, local_path};

#[derive(Debug, Clone, Serialize)]
pub struct DashboardSettings {
    pub host: String,
    pub user: String,
    pub port: u16,
    pub identity_file: PathBuf,
    pub known_hosts_file: Option<PathBuf>,
    #[serde(serialize_with = "as_str")]
    pub temp_dir: RemoteDir,
    #[serde(serialize_with = "as_str")]
    pub live_dir: RemoteDir,
    pub keep: u32,
    pub index: String,
    pub verify_url: Option<String>,
}

fn as_str<S: serde::Serializer>(dir: &RemoteDir, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(dir.as_str())
}

/// The most versions csi keeps besides `<live>.prev`: a typo like `keep = 300` would
/// otherwise fill the web host's disk.
const MAX_KEEP: u32 = 50;

pub fn resolve(config: &LoadedConfig, env_name: &str) -> Result<DashboardSettings, CsiError> {
    let env = environment(config, env_name)?;
    let Some(d) = &env.dashboard else {
        return Err(usage(format!(
            "environment `{env_name}` has no dashboard block in {}",
            config.path.display()
        ))
        .with_hint(
            "add `dashboard { host = ..., user = ..., identity_file = ..., known_hosts_file = ... }` \
             to the environment (README, \"Dashboard deploys\")",
        ));
    };
    if d.keep > MAX_KEEP {
        return Err(usage(format!(
            "environment.{env_name}.dashboard.keep = {} is more than {MAX_KEEP}",
            d.keep
        ))
        .with_hint("keep counts the versions kept besides <live>.prev, e.g. 3"));
    }
    let base = config.base_dir();
    Ok(DashboardSettings {
        host: d.host.as_str().to_owned(),
        user: match &d.user {
            Some(user) => user.as_str().to_owned(),
            None => local_account("dashboard.user")?,
        },
        port: d.port,
        identity_file: local_path(base, &d.identity_file),
        known_hosts_file: d.known_hosts_file.as_deref().map(|p| local_path(base, p)),
        temp_dir: d.temp_dir.clone(),
        live_dir: d.live_dir.clone(),
        keep: d.keep,
        index: d.index.as_str().to_owned(),
        verify_url: d.verify_url.as_ref().map(|u| u.0.to_string()),
    })
}
