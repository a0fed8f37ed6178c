//! Children whose stdin or stdout the caller drives itself, as blocking pipes (for a
//! pipeline `producer | csi | consumer` whose middle runs on a thread), with stderr
//! drained in the background, each child in its own process group.

use std::fs::File;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncBufReadExt;
use tokio::task::JoinHandle;

use super::{describe_status, push_tail, Cmd, ProcessError};
use crate::interrupt;
use crate::secret::redact;

/// A running child started by [`Cmd::spawn_piped`].
pub struct Running {
    display: String,
    child: tokio::process::Child,
    killer: Killer,
    stdin: Option<File>,
    stdout: Option<File>,
    stderr: Option<JoinHandle<Vec<String>>>,
    _guard: interrupt::ChildGuard,
}

/// Sends signals to a running child's process group; harmless once it has exited.
#[derive(Debug, Clone)]
pub struct Killer {
    pgid: Option<Pid>,
    exited: Arc<AtomicBool>,
}

/// How a child ended, and the tail of what it said on stderr.
#[derive(Debug)]
pub struct Finished {
    pub command: String,
    pub status: ExitStatus,
    pub stderr_tail: String,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The usual error for a failed child: command, status and stderr's tail.
    pub fn check(&self) -> Result<ExitStatus, ProcessError> {
        if self.status.success() {
            Ok(self.status)
        } else {
            Err(ProcessError::Failed {
                command: self.command.clone(),
                status: describe_status(self.status),
                code: self.status.code(),
                stderr_tail: self.stderr_tail.clone(),
            })
        }
    }
}

impl Cmd {
    /// Starts the child with stdin and/or stdout as blocking pipes for the caller (the
    /// others are /dev/null), stderr drained line by line in the background (redacted,
    /// handed to `on_stderr`, its tail kept). The child gets its own process group, so a
    /// Ctrl-C at the terminal reaches csi only, which decides what the child gets.
    pub fn spawn_piped(
        &self,
        stdin: bool,
        stdout: bool,
        mut on_stderr: impl FnMut(&str) + Send + 'static,
    ) -> Result<Running, ProcessError> {
        tracing::debug!(command = %self.display(), "running (piped)");
        let mut command = self.command();
        command
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(if stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped())
            .process_group(0);
        let guard = interrupt::ChildGuard::enter();
        let spawn_error = |source| ProcessError::Spawn {
            command: self.display(),
            source,
        };
        let mut child = command.spawn().map_err(spawn_error)?;
        let io_error = |source| ProcessError::Io {
            command: self.display(),
            source,
        };
        let stdin = match child.stdin.take() {
            Some(pipe) => Some(File::from(pipe.into_owned_fd().map_err(io_error)?)),
            None => None,
        };
        let stdout = match child.stdout.take() {
            Some(pipe) => Some(File::from(pipe.into_owned_fd().map_err(io_error)?)),
            None => None,
        };
        let stderr = child.stderr.take().map(|pipe| {
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(pipe).lines();
                let mut tail = std::collections::VecDeque::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let line = redact(&line);
                    on_stderr(&line);
                    push_tail(&mut tail, line);
                }
                tail.into_iter().collect::<Vec<String>>()
            })
        });
        let pgid = child.id().map(|id| Pid::from_raw(id as i32));
        Ok(Running {
            display: self.display(),
            child,
            killer: Killer {
                pgid,
                exited: Arc::new(AtomicBool::new(false)),
            },
            stdin,
            stdout,
            stderr,
            _guard: guard,
        })
    }
}

impl Running {
    pub fn display(&self) -> &str {
        &self.display
    }

    pub fn take_stdin(&mut self) -> Option<File> {
        self.stdin.take()
    }

    pub fn take_stdout(&mut self) -> Option<File> {
        self.stdout.take()
    }

    /// The stdin pipe of a child spawned with one; an error (not a panic) when it was
    /// not asked for or was taken already.
    pub fn stdin_pipe(&mut self) -> anyhow::Result<File> {
        self.stdin
            .take()
            .ok_or_else(|| anyhow::anyhow!("internal: {}'s stdin is not piped", self.display))
    }

    /// The stdout pipe, as [`stdin_pipe`](Self::stdin_pipe).
    pub fn stdout_pipe(&mut self) -> anyhow::Result<File> {
        self.stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("internal: {}'s stdout is not piped", self.display))
    }

    pub fn killer(&self) -> Killer {
        self.killer.clone()
    }

    /// Whether the child has exited already (without waiting).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the child to exit (closing the caller's pipe ends is the caller's
    /// business) and collects the tail of its stderr.
    pub async fn wait(&mut self) -> Result<Finished, ProcessError> {
        let status = self.child.wait().await.map_err(|source| ProcessError::Io {
            command: self.display.clone(),
            source,
        })?;
        self.killer.exited.store(true, Ordering::SeqCst);
        let tail = match self.stderr.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => Vec::new(),
        };
        let lines: Vec<&str> = tail
            .iter()
            .map(String::as_str)
            .filter(|l| !l.trim().is_empty())
            .collect();
        Ok(Finished {
            command: self.display.clone(),
            status,
            stderr_tail: lines.join("\n"),
        })
    }
}

/// Asks the kernel for a larger pipe buffer (Linux `F_SETPIPE_SZ`), so that a fast
/// producer and consumer switch less often; best effort, the default (64 KiB) stays
/// otherwise. Returns the size in effect.
pub fn enlarge_pipe(pipe: &File, bytes: usize) -> Option<usize> {
    let bytes = i32::try_from(bytes).ok()?;
    use std::os::fd::AsRawFd as _;
    match nix::fcntl::fcntl(pipe.as_raw_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(bytes)) {
        Ok(size) => usize::try_from(size).ok(),
        Err(e) => {
            tracing::debug!("cannot enlarge a pipe to {bytes} bytes: {e}");
            None
        }
    }
}

impl Killer {
    /// Sends `signal` to the child's process group, unless it has already exited.
    pub fn signal(&self, signal: Signal) {
        if self.exited.load(Ordering::SeqCst) {
            return;
        }
        if let Some(pgid) = self.pgid {
            tracing::debug!("sending {signal} to process group {pgid}");
            let _ = killpg(pgid, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[tokio::test]
    async fn the_caller_drives_both_pipes() {
        let mut cat = Cmd::new("sh")
            .args(["-c", "cat; echo done >&2"])
            .spawn_piped(true, true, |_| {})
            .unwrap();
        let mut stdin = cat.take_stdin().unwrap();
        let mut stdout = cat.take_stdout().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(b"hello\n").unwrap());
        let mut out = String::new();
        let reader = std::thread::spawn(move || {
            stdout.read_to_string(&mut out).unwrap();
            out
        });
        writer.join().unwrap();
        assert_eq!(reader.join().unwrap(), "hello\n");
        let finished = cat.wait().await.unwrap();
        assert!(finished.success());
        assert_eq!(finished.stderr_tail, "done");
    }

    #[tokio::test]
    async fn a_signal_reaches_the_whole_group_and_is_reported() {
        let mut sleeper = Cmd::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn_piped(false, false, |_| {})
            .unwrap();
        sleeper.killer().signal(Signal::SIGTERM);
        let finished = sleeper.wait().await.unwrap();
        let err = finished.check().unwrap_err().to_string();
        assert!(err.contains("killed by SIGTERM"), "{err}");
        sleeper.killer().signal(Signal::SIGTERM); // after exit: nothing happens
    }
}
