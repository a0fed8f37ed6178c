//! One ssh master connection for one operation. Its options live in a private
//! ssh_config (so that a jump host's ssh, which ProxyJump starts with `-F` only, gets
//! them too), followed by `Include ~/.ssh/config` for the operator's own aliases. Key
//! authentication only (BatchMode), host keys checked strictly unless the environment
//! says otherwise, ControlMaster so that everything csi runs over ssh during the
//! operation shares this one connection.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::diagnose;
use crate::error::{precondition, CsiError, Kind};
use crate::process::{shell_word, Background, Cmd, ProcessError};
use crate::settings::SshSettings;

const READY_TIMEOUT: Duration = Duration::from_secs(40);
const CONNECT_TIMEOUT_SECONDS: u32 = 15;

/// What the master forwards.
#[derive(Debug, Clone)]
pub enum Forward {
    /// A local unix socket (in the private folder) to a remote one.
    Socket { local: PathBuf, remote: String },
    /// A local loopback port to `host:port` as the ssh host sees it.
    Port { local: u16, host: String, port: u16 },
}

/// Where the environment's data lives on the ssh host, as csi.hcl names it there
/// (the settings themselves are rewritten to reach it through the master).
#[derive(Debug, Clone, Default)]
pub struct HostSide {
    /// The PostgreSQL socket folder on the host, when the database is reached over ssh.
    pub socket_dir: Option<String>,
    /// The repository's path on the host, when borg is reached over ssh.
    pub repository: Option<String>,
    /// `--through-client`: large data goes through this machine even so.
    pub through_client: bool,
}

#[derive(Debug)]
pub struct Session {
    settings: SshSettings,
    dir: tempfile::TempDir,
    master: Option<Background>,
    host_side: HostSide,
    /// csi's own binary on the host, once shipped (see crate::remote).
    pub agent: tokio::sync::OnceCell<String>,
}

impl Session {
    /// A private folder for the control socket, the config and forwarded sockets
    /// (short: unix socket paths are limited to 108 bytes).
    pub fn private_dir() -> Result<tempfile::TempDir, CsiError> {
        let base = std::env::temp_dir();
        let base = if base.as_os_str().len() > 40 {
            PathBuf::from("/tmp")
        } else {
            base
        };
        let dir = tempfile::Builder::new()
            .prefix("csi-ssh-")
            .tempdir_in(base)
            .map_err(|e| precondition(format!("cannot create a private folder for ssh: {e}")))?;
        let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700));
        Ok(dir)
    }

    /// Opens the master connection with its forwards, and waits until it is usable.
    pub async fn open(
        settings: &SshSettings,
        dir: tempfile::TempDir,
        forwards: &[Forward],
    ) -> Result<Session, CsiError> {
        let mut session = Session {
            settings: settings.clone(),
            dir,
            master: None,
            host_side: HostSide::default(),
            agent: tokio::sync::OnceCell::new(),
        };
        session.write_config()?;
        let mut cmd = session
            .ssh()
            .args(["-M", "-N", "-o", "ControlPersist=no"])
            .args(["-o", "ExitOnForwardFailure=yes", "-o", "Compression=yes"])
            .args([
                "-o",
                "StreamLocalBindUnlink=yes",
                "-o",
                "StreamLocalBindMask=0177",
            ]);
        for forward in forwards {
            cmd = cmd.arg("-L").arg(match forward {
                Forward::Socket { local, remote } => format!("{}:{remote}", local.display()),
                Forward::Port { local, host, port } => {
                    format!("127.0.0.1:{local}:{}:{port}", bracket(host))
                }
            });
        }
        let cmd = session.with_destination(cmd);
        let master = cmd
            .spawn_background(|line| tracing::debug!("ssh master: {line}"))
            .map_err(|e| session.failure(&e.to_string(), "connecting"))?;
        session.master = Some(master);
        session.wait_ready(forwards).await?;
        tracing::info!("ssh: connected to {}", session.destination());
        Ok(session)
    }

    /// `user@host:port` (and `via jump`), for the operator's eyes.
    pub fn destination(&self) -> String {
        let s = &self.settings;
        match &s.jump {
            Some(jump) => format!("{}@{}:{} (via {jump})", s.user, s.host, s.port),
            None => format!("{}@{}:{}", s.user, s.host, s.port),
        }
    }

    pub fn settings(&self) -> &SshSettings {
        &self.settings
    }

    pub fn host_side(&self) -> &HostSide {
        &self.host_side
    }

    pub fn set_host_side(&mut self, host_side: HostSide) {
        self.host_side = host_side;
    }

    /// `ssh ... host -- <remote command>` over the master (never a connection of its
    /// own); the remote command is a line for the login shell on the host.
    pub fn remote(&self, command: &str) -> Cmd {
        let cmd = self.ssh().args(["-o", "ControlMaster=no", "-T"]);
        self.with_destination(cmd).arg(command)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    fn control_path(&self) -> PathBuf {
        self.dir.path().join("ctl")
    }

    /// `ssh -F <private config> -o ControlPath=<private>/ctl [-o ProxyJump=...]`:
    /// every ssh csi runs.
    fn ssh(&self) -> Cmd {
        let cmd = Cmd::new("ssh")
            .arg("-F")
            .arg(self.config_path())
            .arg("-o")
            .arg(format!("ControlPath={}", quoted(&self.control_path())));
        match self.proxy_jump() {
            Some(jump) => cmd.arg("-o").arg(jump),
            None => cmd,
        }
    }

    /// On the command line, not in the private config: the jump host's own ssh reads
    /// that config too (`-F`), and a ProxyJump there would send it through itself
    /// ("jumphost loop").
    fn proxy_jump(&self) -> Option<String> {
        self.settings
            .jump
            .as_ref()
            .map(|j| format!("ProxyJump={j}"))
    }

    fn with_destination(&self, cmd: Cmd) -> Cmd {
        cmd.arg("-p")
            .arg(self.settings.port.to_string())
            .arg("-l")
            .arg(&self.settings.user)
            .arg("--")
            .arg(&self.settings.host)
    }

    /// The ssh command line borg uses (`BORG_RSH`, split by borg like a shell):
    /// multiplexed over this master, never opening a connection of its own.
    pub fn borg_rsh(&self) -> String {
        [
            "ssh".to_owned(),
            "-F".to_owned(),
            shell_word(&self.config_path().display().to_string()),
            "-o".to_owned(),
            shell_word(&format!("ControlPath={}", self.control_path().display())),
            "-o".to_owned(),
            "ControlMaster=no".to_owned(),
        ]
        .into_iter()
        .chain(
            self.proxy_jump()
                .into_iter()
                .flat_map(|j| ["-o".to_owned(), shell_word(&j)]),
        )
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// `ssh://user@host:port/path` for a repository path on the ssh host.
    pub fn borg_url(&self, path: &str) -> String {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/./{path}")
        };
        let s = &self.settings;
        format!("ssh://{}@{}:{}{path}", s.user, bracket(&s.host), s.port)
    }

    fn write_config(&self) -> Result<(), CsiError> {
        let s = &self.settings;
        let mut lines = vec![
            "# written by csi for one operation".to_owned(),
            "Host *".to_owned(),
            "  BatchMode yes".to_owned(),
            format!("  ConnectTimeout {CONNECT_TIMEOUT_SECONDS}"),
            "  ServerAliveInterval 15".to_owned(),
            "  ServerAliveCountMax 3".to_owned(),
            format!(
                "  StrictHostKeyChecking {}",
                if s.strict_host_keys {
                    "yes"
                } else {
                    "accept-new"
                }
            ),
        ];
        if let Some(identity) = &s.identity_file {
            lines.push(format!("  IdentityFile {}", quoted(identity)));
            lines.push("  IdentitiesOnly yes".to_owned());
        }
        if let Some(known_hosts) = &s.known_hosts_file {
            // Only this file decides which keys the hosts may present.
            lines.push(format!("  UserKnownHostsFile {}", quoted(known_hosts)));
            lines.push("  GlobalKnownHostsFile /dev/null".to_owned());
        }
        // The operator's own aliases (first value wins: ours above come first).
        lines.push("Include ~/.ssh/config".to_owned());
        lines.push(String::new());
        fs_err::write(self.config_path(), lines.join("\n"))
            .map_err(|e| precondition(format!("cannot write the private ssh config: {e}")))
    }

    async fn wait_ready(&mut self, forwards: &[Forward]) -> Result<(), CsiError> {
        let started = Instant::now();
        loop {
            let exited = self.master.as_mut().and_then(Background::exited);
            if let Some(err) = exited {
                // Let the stderr reader catch up with what ssh said last.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let status = match &err {
                    ProcessError::Failed { status, .. } => status.clone(),
                    other => other.to_string(),
                };
                let text = format!("{} (ssh ended: {status})", self.stderr_tail());
                return Err(self.failure(&text, "connecting"));
            }
            if self.control_path().exists() && forwards.iter().all(forward_ready) {
                let check = self
                    .with_destination(self.ssh().args(["-O", "check"]))
                    .output_any_status()
                    .await;
                if matches!(&check, Ok(out) if out.status.success()) {
                    return Ok(());
                }
            }
            if started.elapsed() > READY_TIMEOUT {
                let tail = self.stderr_tail();
                return Err(self.failure(
                    &format!("not ready after {}s: {tail}", READY_TIMEOUT.as_secs()),
                    "connecting",
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stderr_tail(&self) -> String {
        self.master
            .as_ref()
            .map(Background::stderr_tail)
            .unwrap_or_default()
    }

    /// An error naming the host, what ssh said and what to do.
    pub fn failure(&self, text: &str, what: &str) -> CsiError {
        let s = &self.settings;
        let reason = diagnose::reason(text)
            .map(|r| format!("{}: ", r))
            .unwrap_or_default();
        let mut error = CsiError::new(
            match diagnose::failure_kind(text) {
                Kind::Failed => Kind::Precondition,
                kind => kind,
            },
            format!(
                "ssh to {} failed ({what}): {reason}{}",
                self.destination(),
                diagnose::essential(text)
            ),
        );
        let known_hosts = s
            .known_hosts_file
            .as_ref()
            .map_or("~/.ssh/known_hosts".to_owned(), |p| p.display().to_string());
        let hint = if text.contains("Host key verification failed")
            || text.contains("REMOTE HOST IDENTIFICATION")
        {
            Some(format!(
                "check {}'s key fingerprint with its administrators, then add it to {known_hosts} (ssh-keyscan -p {} {})",
                s.host, s.port, s.host
            ))
        } else if text.contains("Permission denied") {
            Some(format!(
                "{}@{} does not accept the key {}; check ssh.user and ssh.identity_file in csi.hcl",
                s.user,
                s.host,
                s.identity_file
                    .as_ref()
                    .map_or("ssh offers by default".to_owned(), |p| p
                        .display()
                        .to_string())
            ))
        } else {
            None
        };
        if let Some(hint) = hint {
            error = error.with_hint(hint);
        }
        error
    }

    /// Ends the master connection (and its forwards); also done on drop.
    pub async fn close(mut self) {
        if let Some(master) = self.master.take() {
            master.stop().await;
        }
    }
}

fn forward_ready(forward: &Forward) -> bool {
    match forward {
        Forward::Socket { local, .. } => local.exists(),
        Forward::Port { local, .. } => std::net::TcpStream::connect(("127.0.0.1", *local)).is_ok(),
    }
}

/// `"path"` for ssh_config and `-o` values (ssh splits them on whitespace otherwise).
fn quoted(path: &Path) -> String {
    format!("\"{}\"", path.display())
}

/// An IPv6 address in brackets, as URLs and -L want it.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}
