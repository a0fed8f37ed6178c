//! A long-lived helper child that lives as long as a value in csi (an ssh master
//! connection): its own process group, not counted as a running child by `interrupt`
//! (a Ctrl-C goes to the command csi is running, not to the helper, which must outlive
//! that command's graceful stop), stopped when the value is dropped or when csi exits
//! on a signal.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncBufReadExt;

use super::{describe_status, push_tail, Cmd, ProcessError};
use crate::interrupt;
use crate::secret::redact;

pub struct Background {
    display: String,
    child: tokio::process::Child,
    pgid: Option<Pid>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    _cleanup: interrupt::CleanupGuard,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("command", &self.display)
            .finish()
    }
}

impl Cmd {
    /// Starts the child with no stdin or stdout, stderr kept (redacted) for errors and
    /// handed to `on_stderr` line by line.
    pub fn spawn_background(
        &self,
        mut on_stderr: impl FnMut(&str) + Send + 'static,
    ) -> Result<Background, ProcessError> {
        tracing::debug!(command = %self.display(), "running (background)");
        let mut command = self.command();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|source| ProcessError::Spawn {
            command: self.display(),
            source,
        })?;
        let pgid = child.id().map(|id| Pid::from_raw(id as i32));
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(pipe) = child.stderr.take() {
            let tail = stderr_tail.clone();
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let line = redact(&line);
                    on_stderr(&line);
                    push_tail(&mut tail.lock().unwrap_or_else(|e| e.into_inner()), line);
                }
            });
        }
        let cleanup = interrupt::on_interrupt(move || {
            if let Some(pgid) = pgid {
                let _ = killpg(pgid, Signal::SIGTERM);
            }
        });
        Ok(Background {
            display: self.display(),
            child,
            pgid,
            stderr_tail,
            _cleanup: cleanup,
        })
    }
}

impl Background {
    pub fn display(&self) -> &str {
        &self.display
    }

    /// What it said on stderr so far (its last lines).
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter()
            .filter(|l| !l.trim().is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The error for a helper that exited, if it has: command, status, stderr's tail.
    pub fn exited(&mut self) -> Option<ProcessError> {
        let status = self.child.try_wait().ok()??;
        Some(ProcessError::Failed {
            command: self.display.clone(),
            status: describe_status(status),
            code: status.code(),
            stderr_tail: self.stderr_tail(),
        })
    }

    /// Stops it (SIGTERM to its group) and waits for it.
    pub async fn stop(mut self) {
        self.signal(Signal::SIGTERM);
        let _ = self.child.wait().await;
    }

    fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, signal);
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal(Signal::SIGTERM);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_exited_helper_reports_its_stderr_and_a_dropped_one_is_stopped() {
        let mut failing = Cmd::new("sh")
            .args(["-c", "echo cannot connect >&2; exit 255"])
            .spawn_background(|_| {})
            .unwrap();
        let started = std::time::Instant::now();
        let err = loop {
            if let Some(err) = failing.exited() {
                break err;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(10));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let text = format!("{err}: {}", failing.stderr_tail());
        assert!(text.contains("exit status 255"), "{text}");
        assert!(text.contains("cannot connect"), "{text}");

        let sleeper = Cmd::new("sleep")
            .arg("30")
            .spawn_background(|_| {})
            .unwrap();
        let pid = sleeper.pgid.unwrap();
        drop(sleeper);
        let started = std::time::Instant::now();
        let gone = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat.contains(") Z "),
        };
        while !gone() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "still running"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
