//! What a running restart shows to `--status`: who runs it (an `flock`ed
//! `restart-waves.lock` naming the process, released by the kernel if it dies) and
//! its latest gate values (`restart-waves.json`, rewritten at every check). The
//! journal stays the record of what was done; these only say what is going on.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::gate::Reading;
use crate::error::{failed, precondition, CsiError};

const LOCK_FILE: &str = "restart-waves.lock";
const STATE_FILE: &str = "restart-waves.json";
pub const LOG_FILE: &str = "restart-waves.log";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WavesRunner {
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub since: DateTime<Utc>,
    /// Where a detached run writes its output.
    pub log: Option<PathBuf>,
}

impl WavesRunner {
    pub fn this_process(log: Option<PathBuf>) -> Self {
        let info = crate::lock::LockInfo::for_this_process("csi env restart-waves");
        WavesRunner {
            pid: info.pid,
            host: info.host,
            user: info.user,
            since: info.since,
            log,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "pid {} on {} (by {}, since {}){}",
            self.pid,
            self.host,
            self.user,
            self.since.format("%Y-%m-%d %H:%M UTC"),
            self.log
                .as_ref()
                .map(|l| format!(", log {}", l.display()))
                .unwrap_or_default()
        )
    }
}

/// Held while a run executes; the kernel releases it if the process dies.
pub struct RunnerLock {
    _file: Flock<std::fs::File>,
}

pub fn acquire(state_dir: &Path, runner: &WavesRunner) -> Result<RunnerLock, CsiError> {
    let path = state_dir.join(LOCK_FILE);
    let Some(mut file) = try_flock(&path)? else {
        let holder = read_runner(&path)
            .map(|r| r.describe())
            .unwrap_or_else(|| "another csi process".into());
        return Err(
            precondition(format!("a wave restart is already running: {holder}"))
                .with_hint("`--status` shows where it stands; `--abort` stops it"),
        );
    };
    let text = serde_json::to_string(runner)
        .map_err(|e| failed(format!("cannot encode the wave runner's record: {e}")))?;
    file.set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(text.as_bytes()))
        .and_then(|_| file.sync_data())
        .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(RunnerLock { _file: file })
}

/// The process running a restart right now, if any.
pub fn running(state_dir: &Path) -> Result<Option<WavesRunner>, CsiError> {
    let path = state_dir.join(LOCK_FILE);
    if !path.exists() {
        return Ok(None);
    }
    match try_flock(&path)? {
        Some(_free) => Ok(None),
        None => Ok(Some(read_runner(&path).unwrap_or(WavesRunner {
            pid: 0,
            host: "?".into(),
            user: "?".into(),
            since: Utc::now(),
            log: None,
        }))),
    }
}

/// The last process that ran a restart (alive or not).
pub fn last_runner(state_dir: &Path) -> Option<WavesRunner> {
    read_runner(&state_dir.join(LOCK_FILE))
}

fn try_flock(path: &Path) -> Result<Option<Flock<std::fs::File>>, CsiError> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)
            .map_err(|e| failed(format!("cannot create the state directory: {e}")))?;
    }
    let file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| failed(format!("cannot open the runner lock: {e}")))?
        .into_parts()
        .0;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => Ok(Some(locked)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(failed(format!("cannot lock {}: {e}", path.display()))),
    }
}

fn read_runner(path: &Path) -> Option<WavesRunner> {
    let text = fs_err::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// The latest gate values of a running restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveState {
    pub restart: String,
    /// 1-based.
    pub wave: Option<usize>,
    /// What the run is doing, in words.
    pub doing: String,
    pub readings: Vec<Reading>,
    pub checked_at: Option<DateTime<Utc>>,
    /// The last error of a gate evaluation, until one succeeds again.
    pub gate_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub fn write_state(state_dir: &Path, state: &LiveState) -> Result<(), CsiError> {
    let path = state_dir.join(STATE_FILE);
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| failed(format!("cannot encode the restart state: {e}")))?;
    crate::atomic_file::write_atomically(&path, &crate::secret::redact(&text))
        .map_err(|e| failed(format!("cannot write the restart state: {e}")))
}

pub fn read_state(state_dir: &Path) -> Option<LiveState> {
    let text = fs_err::read_to_string(state_dir.join(STATE_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_runner_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let me = WavesRunner::this_process(None);
        let held = acquire(dir.path(), &me).unwrap();
        assert!(acquire(dir.path(), &me).is_err());
        assert_eq!(running(dir.path()).unwrap().unwrap().pid, me.pid);
        drop(held);
        assert!(running(dir.path()).unwrap().is_none());
        assert_eq!(last_runner(dir.path()).unwrap().pid, me.pid);
    }
}
