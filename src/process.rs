//! The one wrapper for child processes: explicit argv (never a shell string), the
//! exact command logged with secrets redacted, secrets passed only through the
//! environment, stdout and stderr drained together line by line, and failures that
//! carry the command, the exit status (with the signal name) and stderr's tail.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::interrupt;
use crate::secret::{redact, Secret};

mod background;
mod detached;
mod piped;

pub use background::Background;
pub use detached::spawn_detached;
pub use piped::{enlarge_pipe, Finished, Killer, Running};

const STDERR_TAIL_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}){}", tail_suffix(.stderr_tail))]
    Failed {
        command: String,
        status: String,
        code: Option<i32>,
        stderr_tail: String,
    },
    #[error("`{command}` was interrupted by {signal} ({status}){}", tail_suffix(.stderr_tail))]
    Interrupted {
        command: String,
        signal: String,
        status: String,
        stderr_tail: String,
    },
    #[error("reading the output of `{command}`: {source}")]
    Io {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

fn tail_suffix(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {}", tail.trim_end().replace('\n', "\n  "))
    }
}

/// What a finished child said and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// PostgreSQL's programs, whose messages must be in English (`LC_ALL=C`).
const POSTGRES_TOOLS: &[&str] = &[
    "psql",
    "pg_dump",
    "pg_dumpall",
    "pg_restore",
    "initdb",
    "pg_ctl",
    "pg_config",
];

#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(String, EnvValue)>,
    removed_envs: Vec<String>,
    cwd: Option<PathBuf>,
}

#[derive(Debug, Clone)]
enum EnvValue {
    Plain(OsString),
    Secret(Secret),
}

impl Cmd {
    pub fn new(program: impl Into<OsString>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
            removed_envs: Vec::new(),
            cwd: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.envs
            .push((key.to_owned(), EnvValue::Plain(value.into())));
        self
    }

    /// A secret reaches the child only through its environment, never its argv.
    pub fn secret_env(mut self, key: &str, value: &Secret) -> Self {
        self.envs
            .push((key.to_owned(), EnvValue::Secret(value.clone())));
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.removed_envs.push(key.to_owned());
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn program(&self) -> &OsString {
        &self.program
    }

    /// The command as it would be typed, secrets redacted: for logs and errors.
    pub fn display(&self) -> String {
        let words = std::iter::once(&self.program)
            .chain(&self.args)
            .map(|w| shell_word(&w.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ");
        redact(&words)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args).stdin(Stdio::null());
        for key in &self.removed_envs {
            command.env_remove(key);
        }
        for (key, value) in &self.envs {
            match value {
                EnvValue::Plain(v) => command.env(key, v),
                EnvValue::Secret(s) => command.env(key, s.expose()),
            };
        }
        if self.runs_postgres_tool() {
            // PostgreSQL's messages are parsed and shown as they are: English ones,
            // whatever the operator's locale.
            for key in ["LC_ALL", "LC_MESSAGES", "LANG"] {
                if !self.envs.iter().any(|(k, _)| k == key) {
                    command.env(key, "C");
                }
            }
            command.env_remove("LANGUAGE");
        }
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        command
    }

    /// The program (or the program `runuser`/`sudo` starts) is one of PostgreSQL's.
    fn runs_postgres_tool(&self) -> bool {
        std::iter::once(&self.program)
            .chain(&self.args)
            .take(8)
            .any(|word| {
                Path::new(word)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| POSTGRES_TOOLS.contains(&n))
            })
    }

    /// Runs to completion, capturing stdout; a non-zero exit is an error.
    pub async fn output(&self) -> Result<Output, ProcessError> {
        let output = self.output_any_status().await?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(self.failure(output.status, &output.stderr))
        }
    }

    /// Runs to completion, capturing stdout and stderr, whatever the exit status.
    pub async fn output_any_status(&self) -> Result<Output, ProcessError> {
        tracing::debug!(command = %self.display(), "running");
        let mut command = self.command();
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let output = command
            .output()
            .await
            .map_err(|source| ProcessError::Spawn {
                command: self.display(),
                source,
            })?;
        Ok(Output {
            status: output.status,
            stdout: output.stdout,
            stderr: redact(&String::from_utf8_lossy(&output.stderr)),
        })
    }

    /// Runs to completion, handing each line of stdout and stderr to the callbacks as
    /// it comes (both pipes drained at once); a non-zero exit is an error.
    ///
    /// The child runs in its own process group, so a Ctrl-C reaches it only through
    /// csi, exactly once (see `interrupt`); csi then waits for it to stop and reports
    /// `ProcessError::Interrupted`.
    pub async fn stream(
        &self,
        mut on_stdout: impl FnMut(&str),
        mut on_stderr: impl FnMut(&str),
    ) -> Result<ExitStatus, ProcessError> {
        tracing::debug!(command = %self.display(), "running (streaming)");
        let mut command = self.command();
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let _child_guard = interrupt::ChildGuard::enter();
        let mut child = command.spawn().map_err(|source| ProcessError::Spawn {
            command: self.display(),
            source,
        })?;
        let pid = child.id().map(|id| Pid::from_raw(id as i32));
        let mut signals = interrupt::subscribe();
        let mut forwarded = interrupt::received();
        if let (Some(sig), Some(pid)) = (forwarded, pid) {
            let _ = kill(pid, sig);
        }
        let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(ProcessError::Io {
                command: self.display(),
                source: std::io::Error::other("stdout and stderr were not piped"),
            });
        };
        let mut stdout = lines(out);
        let mut stderr = lines(err);
        let mut tail = VecDeque::new();
        let (mut out_open, mut err_open) = (true, true);
        while out_open || err_open {
            tokio::select! {
                line = stdout.next_line(), if out_open => match self.io(line)? {
                    Some(line) => on_stdout(&line),
                    None => out_open = false,
                },
                line = stderr.next_line(), if err_open => match self.io(line)? {
                    Some(line) => {
                        let line = redact(&line);
                        on_stderr(&line);
                        push_tail(&mut tail, line);
                    }
                    None => err_open = false,
                },
                Ok(()) = signals.changed(), if forwarded.is_none() => {
                    forwarded = *signals.borrow();
                    if let (Some(sig), Some(pid)) = (forwarded, pid) {
                        tracing::info!("forwarding {sig} to `{}`", self.display());
                        let _ = kill(pid, sig);
                    }
                }
            }
        }
        let status = child.wait().await.map_err(|source| ProcessError::Io {
            command: self.display(),
            source,
        })?;
        let tail: Vec<String> = tail.into_iter().collect();
        match (status.success(), forwarded) {
            (true, _) => Ok(status),
            (false, Some(sig)) => Err(ProcessError::Interrupted {
                command: self.display(),
                signal: sig.as_str().to_owned(),
                status: describe_status(status),
                stderr_tail: tail.join("\n"),
            }),
            (false, None) => Err(self.failure(status, &tail.join("\n"))),
        }
    }

    fn io<T>(&self, result: std::io::Result<T>) -> Result<T, ProcessError> {
        result.map_err(|source| ProcessError::Io {
            command: self.display(),
            source,
        })
    }

    fn failure(&self, status: ExitStatus, stderr: &str) -> ProcessError {
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let start = lines.len().saturating_sub(STDERR_TAIL_LINES);
        ProcessError::Failed {
            command: self.display(),
            status: describe_status(status),
            code: status.code(),
            stderr_tail: redact(&lines[start..].join("\n")),
        }
    }
}

fn lines<R: AsyncRead + Unpin>(reader: R) -> tokio::io::Lines<BufReader<R>> {
    BufReader::new(reader).lines()
}

fn push_tail(tail: &mut VecDeque<String>, line: String) {
    if tail.len() == STDERR_TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

/// `exit status 3`, or `killed by SIGTERM` for a signal death.
pub fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(signal) => {
            let name = nix::sys::signal::Signal::try_from(signal)
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| format!("signal {signal}"));
            format!("killed by {name}")
        }
        None => "unknown exit status".to_owned(),
    }
}

/// `word` as one POSIX shell word: for the logged command line, and for the scripts
/// csi runs on remote hosts through ssh.
pub fn shell_word(word: &str) -> String {
    match shlex::try_quote(word) {
        Ok(quoted) => quoted.into_owned(),
        // A NUL cannot be passed to a shell at all; show it escaped rather than fail.
        Err(_) => format!("'{}'", word.replace('\0', "\\0").replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_word_reaches_the_shell_as_it_was() {
        for word in [
            "plain",
            "",
            "with space",
            "it's",
            "/srv/it's here",
            "$(rm -rf /)",
            "$HOME `id` \\ \"q\"",
            "a\nb",
            "-n",
            "*",
        ] {
            let script = format!("printf %s {}", shell_word(word));
            let out = std::process::Command::new("sh")
                .args(["-c", &script])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), word, "{script}");
        }
    }

    #[tokio::test]
    async fn failure_names_command_status_and_stderr_tail() {
        let err = Cmd::new("sh")
            .args(["-c", "echo first >&2; echo last >&2; exit 3"])
            .output()
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "`sh -c 'echo first >&2; echo last >&2; exit 3'` failed (exit status 3)"
            ),
            "{text}"
        );
        assert!(text.contains("last"), "{text}");
    }

    #[tokio::test]
    async fn signal_death_is_named() {
        let err = Cmd::new("sh")
            .args(["-c", "kill -TERM $$"])
            .output()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("killed by SIGTERM"), "{err}");
    }

    #[tokio::test]
    async fn secrets_travel_by_environment_and_are_redacted_from_output() {
        let secret = Secret::new("s3cr3t-value-for-process-test");
        let cmd = Cmd::new("sh")
            .args(["-c", "echo \"token=$TOKEN\" >&2; exit 1"])
            .secret_env("TOKEN", &secret);
        assert!(!cmd.display().contains(secret.expose()));
        let err = cmd.output().await.unwrap_err().to_string();
        assert!(err.contains("token=********"), "{err}");
        assert!(!err.contains(secret.expose()), "{err}");
    }

    #[tokio::test]
    async fn stream_drains_both_pipes_without_deadlock() {
        // More than a pipe buffer on stderr while stdout is also written.
        let script = "i=0; while [ $i -lt 3000 ]; do echo out$i; echo errerrerrerrerrerrerrerr$i >&2; i=$((i+1)); done";
        let (mut out, mut err) = (0, 0);
        Cmd::new("sh")
            .args(["-c", script])
            .stream(|_| out += 1, |_| err += 1)
            .await
            .unwrap();
        assert_eq!((out, err), (3000, 3000));
    }
}
