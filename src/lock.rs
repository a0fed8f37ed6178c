//! One operation at a time per environment: an exclusive lock file in the
//! environment's state directory, naming who holds it and since when.
//!
//! The lock is an `flock` on `<state>/lock`, which the kernel releases when the holder
//! dies; the file's content names the holder. Content with no live flock behind it is
//! a lock left by a process that died: reported, and cleared only on request. The file
//! is emptied on release, never deleted, so two processes never lock different inodes.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use fs_err::File;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::{failed, precondition, CsiError};

const LOCK_FILE: &str = "lock";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub command: String,
    pub since: DateTime<Utc>,
}

impl LockInfo {
    pub fn for_this_process(command: &str) -> Self {
        LockInfo {
            user: current_user(),
            host: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown-host".into()),
            pid: std::process::id(),
            command: command.to_owned(),
            since: Utc::now(),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{}@{} (pid {}, `{}`) since {}",
            self.user,
            self.host,
            self.pid,
            self.command,
            self.since.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LockState {
    Free,
    Held {
        holder: LockInfo,
    },
    /// Left behind by a process that died without releasing it.
    Stale {
        holder: LockInfo,
    },
}

/// A held lock; released (emptied and unlocked) when dropped, or by the interrupt
/// handler when csi exits on a signal.
pub struct EnvLock {
    file: Option<Flock<std::fs::File>>,
    path: PathBuf,
    _on_interrupt: crate::interrupt::CleanupGuard,
}

impl std::fmt::Debug for EnvLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvLock").field("path", &self.path).finish()
    }
}

impl Drop for EnvLock {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let _ = file.set_len(0);
            let _ = file.sync_all();
        }
    }
}

/// Takes the environment's lock or says who has it.
pub fn acquire(state_dir: &Path, env: &str, command: &str) -> Result<EnvLock, CsiError> {
    let path = lock_path(state_dir)?;
    let mut file = match try_flock(&path)? {
        Some(file) => file,
        None => {
            let holder = read_info(&path)
                .map(|h| h.describe())
                .unwrap_or_else(|| "another csi process".into());
            return Err(
                precondition(format!("environment `{env}` is locked by {holder}")).with_hint(
                    "wait for that operation to finish; `csi env history` shows what it is doing",
                ),
            );
        }
    };
    if let Some(holder) = read_from(&mut file) {
        return Err(stale_error(env, &holder));
    }
    write_info(&mut file, &LockInfo::for_this_process(command), &path)?;
    let release_path = path.clone();
    Ok(EnvLock {
        file: Some(file),
        path,
        // The flock dies with the process; the holder's name must go too.
        _on_interrupt: crate::interrupt::on_interrupt(move || {
            let _ = fs_err::write(&release_path, "");
        }),
    })
}

pub fn inspect(state_dir: &Path) -> Result<LockState, CsiError> {
    let path = state_dir.join(LOCK_FILE);
    if !path.exists() {
        return Ok(LockState::Free);
    }
    match try_flock(&path)? {
        None => Ok(read_info(&path).map_or(LockState::Free, |holder| LockState::Held { holder })),
        Some(mut file) => {
            Ok(read_from(&mut file).map_or(LockState::Free, |holder| LockState::Stale { holder }))
        }
    }
}

/// Clears a lock left by a dead process. A live holder's lock is never cleared.
pub fn clear_stale(state_dir: &Path, env: &str) -> Result<Option<LockInfo>, CsiError> {
    let path = lock_path(state_dir)?;
    let Some(mut file) = try_flock(&path)? else {
        let holder = read_info(&path).map(|h| h.describe()).unwrap_or_default();
        return Err(precondition(format!(
            "environment `{env}` is locked by a running process: {holder}"
        ))
        .with_hint("a live operation's lock is never cleared; wait for it to finish"));
    };
    let holder = read_from(&mut file);
    file.set_len(0)
        .and_then(|_| file.sync_all())
        .map_err(|e| failed(format!("cannot clear the lock {}: {e}", path.display())))?;
    Ok(holder)
}

pub fn stale_error(env: &str, holder: &LockInfo) -> CsiError {
    precondition(format!(
        "environment `{env}` has a lock left by an operation that did not finish: {}",
        holder.describe()
    ))
    .with_hint(format!(
        "check what it left with `csi env history {env}`, then clear it with `csi env unlock {env}`"
    ))
}

fn lock_path(state_dir: &Path) -> Result<PathBuf, CsiError> {
    fs_err::create_dir_all(state_dir)
        .map_err(|e| failed(format!("cannot create the state directory: {e}")))?;
    Ok(state_dir.join(LOCK_FILE))
}

/// The file with an exclusive flock, or None when another process holds it.
fn try_flock(path: &Path) -> Result<Option<Flock<std::fs::File>>, CsiError> {
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| failed(format!("cannot open the lock file: {e}")))?;
    match Flock::lock(file.into_parts().0, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => Ok(Some(locked)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(failed(format!("cannot lock {}: {errno}", path.display()))),
    }
}

fn read_info(path: &Path) -> Option<LockInfo> {
    let text = fs_err::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn read_from(file: &mut std::fs::File) -> Option<LockInfo> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    if text.trim().is_empty() {
        return None;
    }
    Some(serde_json::from_str(&text).unwrap_or_else(|_| LockInfo {
        user: "unknown".into(),
        host: "unknown".into(),
        pid: 0,
        command: format!("unreadable lock content: {}", text.trim()),
        since: Utc::now(),
    }))
}

fn write_info(file: &mut std::fs::File, info: &LockInfo, path: &Path) -> Result<(), CsiError> {
    let text = serde_json::to_string(info)
        .map_err(|e| failed(format!("cannot encode the lock's holder: {e}")))?;
    file.set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(text.as_bytes()))
        .and_then(|_| file.sync_all())
        .map_err(|e| {
            failed(format!(
                "cannot write the lock file {}: {e}",
                path.display()
            ))
        })
}

pub fn current_user() -> String {
    crate::env_vars::get(crate::env_vars::USER).unwrap_or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| "unknown".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _held = acquire(dir.path(), "prod", "csi env stop prod").unwrap();
        let err = acquire(dir.path(), "prod", "csi env start prod").unwrap_err();
        assert!(err.message.contains("is locked by"), "{}", err.message);
        assert!(err.message.contains("csi env stop prod"), "{}", err.message);
        assert!(matches!(
            inspect(dir.path()).unwrap(),
            LockState::Held { .. }
        ));
    }

    #[test]
    fn released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        drop(acquire(dir.path(), "prod", "a").unwrap());
        assert_eq!(inspect(dir.path()).unwrap(), LockState::Free);
        acquire(dir.path(), "prod", "b").unwrap();
    }

    #[test]
    fn content_without_flock_is_stale_and_clearable() {
        let dir = tempfile::tempdir().unwrap();
        let info = LockInfo::for_this_process("csi env stop prod");
        fs_err::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&info).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            inspect(dir.path()).unwrap(),
            LockState::Stale { .. }
        ));
        let err = acquire(dir.path(), "prod", "x").unwrap_err();
        assert!(err.message.contains("did not finish"), "{}", err.message);
        assert_eq!(clear_stale(dir.path(), "prod").unwrap(), Some(info));
        acquire(dir.path(), "prod", "x").unwrap();
    }

    #[test]
    fn a_live_lock_is_never_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let _held = acquire(dir.path(), "prod", "a").unwrap();
        assert!(clear_stale(dir.path(), "prod").is_err());
    }
}
