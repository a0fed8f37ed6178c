//! The web host, reached with ssh through the process wrapper: key authentication
//! only (`BatchMode`, `IdentitiesOnly`), host keys always checked strictly against the
//! configured known_hosts file, remote scripts quoted (see `script`), and the upload
//! streamed from the tarball or from `tar -c` without holding it in memory.

use std::io::Read;
use std::path::Path;

use anyhow::Context as _;
use nix::sys::signal::Signal;

use super::script;
use super::settings::DashboardSettings;
use super::source::{Source, SourceKind};
use crate::error::{precondition, CsiError, Kind};
use crate::interrupt;
use crate::process::{Cmd, ProcessError, Running};

pub struct WebHost {
    settings: DashboardSettings,
}

impl WebHost {
    pub fn new(settings: DashboardSettings) -> Self {
        WebHost { settings }
    }

    /// `user@host:port`, for the operator's eyes.
    pub fn destination(&self) -> String {
        let s = &self.settings;
        format!("{}@{}:{}", s.user, s.host, s.port)
    }

    /// Refuses early what ssh would only warn about: a key file that is not there.
    pub fn check_local_files(&self) -> Result<(), CsiError> {
        let s = &self.settings;
        let mut files = vec![("dashboard.identity_file", &s.identity_file)];
        if let Some(known_hosts) = &s.known_hosts_file {
            files.push(("dashboard.known_hosts_file", known_hosts));
        }
        for (key, path) in files {
            if !path.is_file() {
                return Err(
                    precondition(format!("{key} {} is not a file", path.display())).with_hint(
                        "fix the path in csi.hcl (relative paths are relative to csi.hcl)",
                    ),
                );
            }
        }
        Ok(())
    }

    fn ssh(&self, script: &str) -> Cmd {
        let s = &self.settings;
        let mut cmd = Cmd::new("ssh")
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .args(["-o", "StrictHostKeyChecking=yes"])
            .args(["-o", "ConnectTimeout=15", "-o", "ServerAliveInterval=15"])
            .arg("-i")
            .arg(&s.identity_file);
        if let Some(known_hosts) = &s.known_hosts_file {
            // Only this file decides which key the web host may present.
            cmd = cmd
                .arg("-o")
                .arg(option_with_path("UserKnownHostsFile", known_hosts))
                .args(["-o", "GlobalKnownHostsFile=/dev/null"]);
        }
        cmd.arg("-p")
            .arg(s.port.to_string())
            .arg("-l")
            .arg(&s.user)
            .arg("--")
            .arg(&s.host)
            .arg(script::remote_command(script))
    }

    /// Runs a script on the web host and returns what it printed.
    pub async fn run(&self, script: &str, what: &str) -> anyhow::Result<Vec<u8>> {
        let output = self
            .ssh(script)
            .output()
            .await
            .map_err(|e| self.failure(e, what))?;
        Ok(output.stdout)
    }

    /// Streams the dashboard into `partial` on the web host; returns the bytes sent.
    pub async fn upload(&self, source: &Source, partial: &str) -> anyhow::Result<u64> {
        // The producer first: if it cannot start, no ssh is left waiting for input.
        let mut producer = match source.kind {
            SourceKind::Directory => Some(tar_directory(&source.path)?),
            SourceKind::Tarball => None,
        };
        let mut ssh = self
            .ssh(&script::receive(partial))
            .spawn_piped(true, false, |line| tracing::warn!("ssh: {line}"))
            .map_err(|e| self.failure(e, "uploading the dashboard"))?;
        let stdin = ssh.stdin_pipe()?;
        let reader: Box<dyn Read + Send> = match producer.as_mut() {
            Some(tar) => Box::new(tar.stdout_pipe()?),
            None => Box::new(
                fs_err::File::open(&source.path)
                    .with_context(|| format!("opening {}", source.path.display()))?,
            ),
        };
        let copied = stream(reader, stdin, &ssh, producer.as_ref()).await;
        let sent = finish_upload(copied, &mut ssh, producer.as_mut()).await;
        sent.map_err(|e| match crate::error::kind_of(&e) {
            Kind::Interrupted => e,
            _ => self.failure_any(e, "uploading the dashboard"),
        })
    }

    fn failure(&self, err: ProcessError, what: &str) -> anyhow::Error {
        self.failure_any(err.into(), what)
    }

    fn failure_any(&self, err: anyhow::Error, what: &str) -> anyhow::Error {
        let text = format!("{err:#}");
        let mut error = CsiError::new(
            crate::ssh::failure_kind(&text),
            format!(
                "{what} on {} failed: {}",
                self.destination(),
                crate::ssh::one_line(&text)
            ),
        );
        if let Some(hint) = hint_for(&text, &self.settings) {
            error = error.with_hint(hint);
        }
        error.into()
    }
}

fn hint_for(text: &str, s: &DashboardSettings) -> Option<String> {
    let known_hosts = s
        .known_hosts_file
        .as_ref()
        .map_or("~/.ssh/known_hosts".to_owned(), |p| p.display().to_string());
    if text.contains("Host key verification failed") || text.contains("REMOTE HOST IDENTIFICATION")
    {
        return Some(format!(
            "the web host's key is not the one in {known_hosts}: check its fingerprint with the host's administrators, then add it (ssh-keyscan -p {} {})",
            s.port, s.host
        ));
    }
    if text.contains("Permission denied") {
        return Some(format!(
            "{}@{} does not accept the key {}",
            s.user,
            s.host,
            s.identity_file.display()
        ));
    }
    None
}

/// `Key="path"`: ssh splits option values on whitespace unless quoted.
fn option_with_path(key: &str, path: &Path) -> String {
    format!("{key}=\"{}\"", path.display())
}

fn tar_directory(dir: &Path) -> anyhow::Result<Running> {
    Cmd::new("tar")
        .arg("-C")
        .arg(dir)
        .args(["-cf", "-", "."])
        .spawn_piped(false, true, |line| tracing::warn!("tar: {line}"))
        .map_err(Into::into)
}

/// Copies on a blocking thread while watching for Ctrl-C/SIGTERM: on a signal the
/// children are stopped and the upload ends as interrupted.
async fn stream(
    mut reader: Box<dyn Read + Send>,
    mut stdin: std::fs::File,
    ssh: &Running,
    producer: Option<&Running>,
) -> anyhow::Result<u64> {
    let mut copy = tokio::task::spawn_blocking(move || std::io::copy(&mut reader, &mut stdin));
    let mut signals = interrupt::subscribe();
    if interrupt::received().is_none() {
        tokio::select! {
            copied = &mut copy => return Ok(copied??),
            _ = signals.changed() => {}
        }
    }
    ssh.killer().signal(Signal::SIGTERM);
    if let Some(tar) = producer {
        tar.killer().signal(Signal::SIGTERM);
    }
    let _ = copy.await;
    Err(CsiError::new(Kind::Interrupted, "the upload was interrupted by a signal").into())
}

async fn finish_upload(
    copied: anyhow::Result<u64>,
    ssh: &mut Running,
    producer: Option<&mut Running>,
) -> anyhow::Result<u64> {
    let ssh_done = ssh.wait().await?;
    let tar_done = match producer {
        Some(tar) => Some(tar.wait().await?),
        None => None,
    };
    if let Err(e) = &copied {
        if crate::error::kind_of(e) == Kind::Interrupted {
            return copied;
        }
    }
    // ssh's own error says more than the broken pipe the copy saw.
    ssh_done.check()?;
    if let Some(tar) = tar_done {
        tar.check()?;
    }
    copied
}
