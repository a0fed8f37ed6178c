//! `csi env deploy-dashboard`: the runbook's manual dashboard deploy (tar, copy to the
//! web host's temporary folder, unpack, keep the old `html/`, move the new one in)
//! as one verified operation, with a rollback.
//!
//! `source` inspects the build, `ssh` reaches the web host, `script` writes the
//! remote shell, `layout` plans the folder renames, `verify` checks what is served;
//! `deploy` and `rollback` put them together.

pub mod deploy;
pub mod layout;
pub mod rollback;
pub mod script;
pub mod settings;
pub mod source;
pub mod ssh;
pub mod verify;

pub use settings::DashboardSettings;
pub use ssh::WebHost;

use crate::error::{precondition, CsiError};
use layout::{Live, RemoteState};

/// What is beside the live folder now.
pub async fn probe(host: &WebHost, settings: &DashboardSettings) -> anyhow::Result<RemoteState> {
    let script = script::probe(
        settings.live_dir.as_str(),
        settings.live_dir.parent(),
        settings.temp_dir.as_str(),
        &settings.index,
    );
    let output = host.run(&script, "looking at the web host").await?;
    Ok(RemoteState::parse(&String::from_utf8_lossy(&output)))
}

/// The web host can take a deploy: the live folder is a folder (or absent) and both
/// folders csi writes in are writable.
pub fn check_writable(state: &RemoteState, settings: &DashboardSettings) -> Result<(), CsiError> {
    if state.live == Live::Other {
        return Err(precondition(format!(
            "{} exists on the web host but is not a folder",
            settings.live_dir
        ))
        .with_hint("look at it on the web host; csi only replaces folders"));
    }
    if !state.parent_writable {
        return Err(precondition(format!(
            "{} is not a writable folder for {} on the web host",
            settings.live_dir.parent(),
            settings.user
        ))
        .with_hint(
            "new versions are unpacked beside the live folder: its parent must be writable",
        ));
    }
    Ok(())
}

/// `20261122T054122`: names the folders of one operation.
pub fn stamp() -> String {
    chrono::Local::now().format("%Y%m%dT%H%M%S").to_string()
}

/// Base name of a remote path, for compact display.
pub fn short(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
