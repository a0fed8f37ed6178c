//! A throwaway PostgreSQL cluster for a rehearsal: initdb and pg_ctl (as the
//! `postgres` OS user when csi runs as root) in a private temporary directory,
//! reachable only through a unix socket in that directory (no TCP port, so nothing
//! else on the machine can reach its trust authentication). Stopped and removed on
//! every exit path: `stop()`, drop, or a signal.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, Uid, User};

use crate::error::{failed, precondition};
use crate::interrupt::{self, CleanupGuard};
use crate::process::Cmd;

/// The superuser of the scratch cluster.
pub const SUPERUSER: &str = "postgres";
/// Names the socket file only: the server listens on no TCP port.
pub const PORT: u16 = 5432;
/// Longest unix socket path (sun_path) minus the socket file's name.
const MAX_SOCKET_DIR: usize = 100 - ".s.PGSQL.5432".len();

pub struct ScratchCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    run_as: Option<User>,
    running: bool,
    _cleanup: CleanupGuard,
}

impl ScratchCluster {
    /// initdb + start, with the server binaries of `major` when installed, else the
    /// newest found.
    pub async fn start(major: Option<u32>) -> anyhow::Result<Self> {
        let bindir = find_bindir(major).await?;
        let run_as = if Uid::effective().is_root() {
            let user = User::from_name(SUPERUSER)
                .ok()
                .flatten()
                .ok_or_else(|| {
                    precondition("csi runs as root and there is no `postgres` OS user to run a scratch cluster")
                        .with_hint("create it (the PostgreSQL server package does), or set database.scratch_database")
                })?;
            Some(user)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("csi-scratch-")
            .tempdir_in(base_dir(run_as.is_some()))
            .context("creating the scratch cluster's directory")?;
        let path = dir.path().to_path_buf();
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        if let Some(user) = &run_as {
            nix::unistd::chown(&path, Some(user.uid), Some(user.gid))
                .with_context(|| format!("giving {} to the postgres OS user", path.display()))?;
        }
        let cleanup_dir = path.clone();
        let cleanup = interrupt::on_interrupt(move || {
            stop_now(&cleanup_dir.join("data"));
            let _ = std::fs::remove_dir_all(&cleanup_dir);
        });
        let mut cluster = ScratchCluster {
            dir,
            bindir,
            run_as,
            running: false,
            _cleanup: cleanup,
        };
        cluster.init().await?;
        cluster.run_server().await?;
        Ok(cluster)
    }

    /// The directory holding the socket (what libpq calls the host).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server binaries used (for messages).
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The cluster's major version, as initdb wrote it (`PG_VERSION`).
    pub fn major(&self) -> Option<u32> {
        std::fs::read_to_string(self.data().join("PG_VERSION"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn command(&self, program: &str) -> Cmd {
        let binary = self.bindir.join(program);
        let cmd = match &self.run_as {
            Some(user) => Cmd::new("runuser")
                .args(["-u", user.name.as_str(), "--"])
                .arg(binary),
            None => Cmd::new(binary),
        };
        cmd.current_dir("/")
    }

    async fn init(&self) -> anyhow::Result<()> {
        let data = self.data();
        self.command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .await
            .context("initdb of the scratch cluster")?;
        let settings = format!(
            "# csi scratch cluster: unix socket only, nothing durable\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{}'\n\
             unix_socket_permissions = 0700\n\
             port = {PORT}\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 20\n\
             shared_buffers = 32MB\n\
             logging_collector = off\n\
             timezone = 'UTC'\n",
            self.dir.path().display()
        );
        let conf = data.join("csi-scratch.conf");
        fs_err::write(&conf, settings)?;
        fs_err::set_permissions(&conf, std::fs::Permissions::from_mode(0o644))?;
        let mut main = fs_err::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))?;
        std::io::Write::write_all(&mut main, b"\ninclude = 'csi-scratch.conf'\n")
            .with_context(|| format!("writing {}", data.join("postgresql.conf").display()))?;
        Ok(())
    }

    async fn run_server(&mut self) -> anyhow::Result<()> {
        let log = self.dir.path().join("log");
        let started = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(self.data())
            .arg("-l")
            .arg(&log)
            .output()
            .await;
        if let Err(e) = started {
            let tail = fs_err::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(10).collect();
            return Err(failed(format!(
                "the scratch cluster did not start: {e}; server log: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ))
            .into());
        }
        self.running = true;
        Ok(())
    }

    /// Fast shutdown; the directory is removed when the value is dropped.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if self.running {
            self.command("pg_ctl")
                .args(["stop", "-w", "-t", "30", "-m", "fast", "-D"])
                .arg(self.data())
                .output()
                .await
                .context("stopping the scratch cluster")?;
            self.running = false;
        }
        Ok(())
    }
}

impl Drop for ScratchCluster {
    fn drop(&mut self) {
        if self.running {
            stop_now(&self.data());
        }
        // The TempDir removes the directory after this.
    }
}

/// Immediate shutdown through the postmaster's pid file (no child process: this runs
/// in Drop and in the signal cleanup), waiting a little for it to exit.
fn stop_now(data: &Path) {
    let Some(pid) = std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|text| {
            text.lines()
                .next()
                .and_then(|l| l.trim().parse::<i32>().ok())
        })
        .filter(|pid| *pid > 1)
    else {
        return;
    };
    let pid = Pid::from_raw(pid);
    if kill(pid, Signal::SIGQUIT).is_err() {
        return;
    }
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until && kill(pid, None).is_ok() {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The temporary directory, when the postgres OS user can reach it and the socket path
/// fits; else /tmp.
fn base_dir(as_postgres: bool) -> PathBuf {
    let base = std::env::temp_dir();
    let too_long = base.as_os_str().len() + "/csi-scratch-XXXXXX".len() > MAX_SOCKET_DIR;
    let unreachable = as_postgres
        && base.ancestors().any(|dir| {
            std::fs::metadata(dir)
                .map(|m| m.permissions().mode() & 0o001 == 0)
                .unwrap_or(true)
        });
    if too_long || unreachable {
        PathBuf::from("/tmp")
    } else {
        base
    }
}

/// `/usr/lib/postgresql/<major>/bin` when present; else `pg_config --bindir`; else the
/// newest `/usr/lib/postgresql/*/bin`; else the directory of `initdb` on PATH.
async fn find_bindir(major: Option<u32>) -> anyhow::Result<PathBuf> {
    let usable = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os(crate::env_vars::CSI_PG_BINDIR).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if usable(&dir) {
            return Ok(dir);
        }
        return Err(precondition(format!(
            "{}={} has no initdb and pg_ctl",
            crate::env_vars::CSI_PG_BINDIR,
            dir.display()
        ))
        .with_hint("point it at a PostgreSQL server's bin directory, or unset it")
        .into());
    }
    if let Some(major) = major {
        let dir = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
        if usable(&dir) {
            return Ok(dir);
        }
    }
    if let Ok(output) = Cmd::new("pg_config").arg("--bindir").output().await {
        let dir = PathBuf::from(output.stdout_text().trim());
        if usable(&dir) {
            return Ok(dir);
        }
    }
    let mut installed: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let dir = e.path().join("bin");
            usable(&dir).then_some((version, dir))
        })
        .collect();
    installed.sort();
    if let Some((_, dir)) = installed.pop() {
        return Ok(dir);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|dir| usable(dir))
        .ok_or_else(|| {
            precondition("the PostgreSQL server binaries (initdb, pg_ctl) are not installed: no scratch cluster can be started")
                .with_hint("install the PostgreSQL server package, or set database.scratch_database to a scratch server")
                .into()
        })
}
