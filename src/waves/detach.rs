//! `--detach`: the run goes on after the terminal closes. csi starts itself again
//! with the same arguments (without `--detach`, with `--yes`: the operator has
//! confirmed already), its input from /dev/null and its output appended to a log
//! file in the state directory; the new process leaves the terminal's session first
//! thing, so a hang-up or Ctrl-C there does not reach it.

use anyhow::Context as _;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::live::LOG_FILE;

/// The hidden flag that tells the new process it is the detached one.
pub const CHILD_FLAG: &str = "--detached-child";

/// Starts the detached run; returns its pid and log file.
pub fn spawn(state_dir: &Path) -> anyhow::Result<(u32, PathBuf)> {
    let exe = std::env::current_exe().context("finding csi's own executable")?;
    let args = child_args(std::env::args_os().skip(1));
    fs_err::create_dir_all(state_dir)?;
    let log = state_dir.join(LOG_FILE);
    let log_file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)?;
    let out = log_file.into_parts().0;
    let pid = crate::process::spawn_detached(&exe, &args, out)
        .with_context(|| format!("starting {} detached", exe.display()))?;
    Ok((pid, log))
}

/// The same arguments without `--detach`, with `--yes` and the child flag.
fn child_args(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut out: Vec<OsString> = args.filter(|a| a != "--detach").collect();
    if !out.iter().any(|a| a == "--yes") {
        out.push("--yes".into());
    }
    out.push(CHILD_FLAG.into());
    out
}

/// Called first thing by the detached process: a new session, no controlling terminal.
pub fn leave_the_terminal() {
    if let Err(e) = nix::unistd::setsid() {
        tracing::debug!("setsid: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_runs_the_same_command_confirmed() {
        let args = ["env", "restart-waves", "prod", "--detach", "--poll", "1s"]
            .into_iter()
            .map(OsString::from);
        let got: Vec<String> = child_args(args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "env",
                "restart-waves",
                "prod",
                "--poll",
                "1s",
                "--yes",
                CHILD_FLAG
            ]
        );
    }
}
