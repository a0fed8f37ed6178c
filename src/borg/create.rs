//! Making a dump archive the way the nightly job does, but safely: borg runs the
//! dump command itself (`--content-from-command`), so a dump that fails leaves no
//! archive behind. When borg runs as another user (`sudo borg` on the repository's
//! host), the dump runs as csi's user instead (peer authentication names that user)
//! and is piped into `borg create -`; a dump that fails is then stopped short of the
//! archive: borg is terminated before it sees the end of its input, which commits
//! nothing.

use serde::Deserialize;

use super::extract::{DUMP_ITEM, LOCK_WAIT_SECONDS};
use super::Borg;
use crate::process::Cmd;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Created {
    pub name: String,
    pub duration_seconds: f64,
}

#[derive(Deserialize)]
struct CreateJson {
    archive: ArchiveJson,
}

#[derive(Deserialize)]
struct ArchiveJson {
    name: String,
    duration: f64,
}

impl Borg {
    /// `borg create --content-from-command --stdin-name database-all.sql --compression
    /// zstd REPO::NAME -- <command>`. `with_env` adds what the command needs (database
    /// connection, password) to borg's environment, which the command inherits.
    pub async fn create_dump_archive(
        &self,
        name: &str,
        command: &[String],
        with_env: impl FnOnce(Cmd) -> Cmd,
        mut on_stderr: impl FnMut(&str),
    ) -> anyhow::Result<Created> {
        if self.switches_user() {
            return self
                .create_from_pipe(name, command, with_env, on_stderr)
                .await;
        }
        let cmd = self
            .command()
            .args(["create", "--json", "--content-from-command"])
            .args(["--stdin-name", DUMP_ITEM, "--compression", "zstd"])
            .arg(format!("--lock-wait={LOCK_WAIT_SECONDS}"))
            .arg(self.archive_ref(name))
            .arg("--")
            .args(command);
        let cmd = with_env(cmd);
        let mut stdout = String::new();
        cmd.stream(
            |line| {
                stdout.push_str(line);
                stdout.push('\n');
            },
            |line| on_stderr(line),
        )
        .await?;
        let parsed: CreateJson = serde_json::from_str(&stdout)
            .map_err(|e| anyhow::anyhow!("unexpected output from borg create: {e}"))?;
        Ok(Created {
            name: parsed.archive.name,
            duration_seconds: parsed.archive.duration,
        })
    }

    /// `dump | borg create ... REPO::NAME -`, the pipe copied by csi so that borg's
    /// input ends only when the dump succeeded.
    async fn create_from_pipe(
        &self,
        name: &str,
        command: &[String],
        with_env: impl FnOnce(Cmd) -> Cmd,
        mut on_stderr: impl FnMut(&str),
    ) -> anyhow::Result<Created> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("no dump command"))?;
        let dump_cmd = with_env(Cmd::new(program).args(args));
        let borg_cmd = self
            .command()
            .args(["create", "--json", "--stdin-name", DUMP_ITEM])
            .args(["--compression", "zstd"])
            .arg(format!("--lock-wait={LOCK_WAIT_SECONDS}"))
            .arg(self.archive_ref(name))
            .arg("-");
        let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
        let dump_tx = tx.clone();
        let label = program.clone();
        let mut dump = dump_cmd.spawn_piped(false, true, move |line| {
            let _ = dump_tx.send(format!("{label}: {line}"));
        })?;
        let mut borg = borg_cmd.spawn_piped(true, true, move |line| {
            let _ = tx.send(line.to_owned());
        })?;
        let mut input = dump.stdout_pipe()?;
        let mut output = borg.stdin_pipe()?;
        let mut borg_out = borg.stdout_pipe()?;
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut borg_out, &mut text);
            text
        });
        // Copies until the dump's end; borg's stdin stays open (not yet the end of
        // its input) until the dump's exit status is known.
        let mut copy = tokio::task::spawn_blocking(move || {
            let copied = std::io::copy(&mut input, &mut output);
            (copied, output)
        });
        let (dump_killer, borg_killer) = (dump.killer(), borg.killer());
        let mut signals = crate::interrupt::subscribe();
        let mut interrupted = crate::interrupt::received();
        let stop = |signal| {
            dump_killer.signal(signal);
            borg_killer.signal(signal);
        };
        if let Some(signal) = interrupted {
            stop(signal);
        }
        let copied = loop {
            tokio::select! {
                done = &mut copy => break done,
                Some(line) = lines.recv() => on_stderr(&line),
                Ok(()) = signals.changed(), if interrupted.is_none() => {
                    interrupted = *signals.borrow();
                    stop(nix::sys::signal::Signal::SIGTERM);
                }
            }
        };
        let dumped = dump.wait().await?;
        let complete = dumped.success() && interrupted.is_none();
        let copy_error = match &copied {
            Ok((Err(e), _)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
            Ok((Ok(_), _)) => None,
        };
        // borg ended first (its own error; the dump then died writing to it)?
        let borg_ended_first = borg.has_exited();
        // On failure borg's input stays open until borg is gone: an end of input
        // would let it commit the partial dump.
        let held_open = if !complete || copy_error.is_some() {
            borg_killer.signal(nix::sys::signal::Signal::SIGTERM);
            Some(copied)
        } else {
            drop(copied);
            None
        };
        let finished = borg.wait().await?;
        drop(held_open);
        while let Ok(line) = lines.try_recv() {
            on_stderr(&line);
        }
        let stdout = reader.join().unwrap_or_default();
        if let Some(signal) = interrupted {
            return Err(crate::process::ProcessError::Interrupted {
                command: dumped.command.clone(),
                signal: signal.as_str().to_owned(),
                status: crate::process::describe_status(dumped.status),
                stderr_tail: dumped.stderr_tail.clone(),
            }
            .into());
        }
        if borg_ended_first {
            finished.check()?;
        }
        dumped.check()?;
        if let Some(e) = copy_error {
            anyhow::bail!("copying the dump into borg failed: {e}");
        }
        finished.check()?;
        let parsed: CreateJson = serde_json::from_str(&stdout)
            .map_err(|e| anyhow::anyhow!("unexpected output from borg create: {e}"))?;
        Ok(Created {
            name: parsed.archive.name,
            duration_seconds: parsed.archive.duration,
        })
    }

    /// `borg delete REPO::NAME` (for an archive that turned out incomplete).
    pub async fn delete_archive(&self, name: &str) -> anyhow::Result<()> {
        self.command()
            .arg("delete")
            .arg(format!("--lock-wait={LOCK_WAIT_SECONDS}"))
            .arg(self.archive_ref(name))
            .output()
            .await?;
        Ok(())
    }
}
