//! Where the dump comes from: a stream read once, sequentially, and whoever produces
//! it (borg extract on this machine, or a stream that arrives from elsewhere). The load
//! commits only when the producer ended well, so the source says how it ended.

use std::future::Future;
use std::io::Read;
use std::pin::Pin;

use nix::sys::signal::Signal;

use crate::borg::{Borg, DUMP_ITEM};
use crate::error::failed;
use crate::process::{enlarge_pipe, Finished, Killer};

/// Pipe buffer between borg and csi (the kernel's default is 64 KiB).
const PIPE_BYTES: usize = 1 << 20;

type Ending = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A dump to restore: its bytes, its size as listed (every byte must arrive), its
/// name in messages, how to stop its producer, and how the producer ended.
pub struct DumpSource {
    reader: Option<Box<dyn Read + Send>>,
    pub size: u64,
    /// `archive NAME`, or whatever names the stream for the operator.
    pub name: String,
    stop: Option<Killer>,
    ending: Option<Ending>,
}

impl DumpSource {
    /// A plain stream with nothing behind it: it ended well when it reached its end
    /// with `size` bytes (the load checks the bytes and the dump's completeness).
    pub fn stream(reader: impl Read + Send + 'static, size: u64, name: &str) -> Self {
        DumpSource {
            reader: Some(Box::new(reader)),
            size,
            name: name.to_owned(),
            stop: None,
            ending: None,
        }
    }

    /// `borg extract --stdout ARCHIVE database-all.sql`, started now.
    pub fn borg(borg: &Borg, archive: &str, size: u64) -> anyhow::Result<Self> {
        let mut child =
            borg.extract_stdout(archive, DUMP_ITEM)
                .spawn_piped(false, true, |line| tracing::info!("borg: {line}"))?;
        let stdout = child.stdout_pipe()?;
        enlarge_pipe(&stdout, PIPE_BYTES);
        let killer = child.killer();
        let name = archive.to_owned();
        let ending = Box::pin(async move {
            let finished = child.wait().await?;
            if finished.success() {
                Ok(())
            } else {
                Err(borg_error(&finished, &name))
            }
        });
        Ok(DumpSource {
            reader: Some(Box::new(stdout)),
            size,
            name: archive.to_owned(),
            stop: Some(killer),
            ending: Some(ending),
        })
    }

    /// The bytes (once).
    pub(super) fn take_reader(&mut self) -> Box<dyn Read + Send> {
        self.reader
            .take()
            .unwrap_or_else(|| Box::new(std::io::empty()))
    }

    /// Stops the producer: the stream ends early (the load will not commit).
    pub(super) fn stop(&self) {
        if let Some(killer) = &self.stop {
            killer.signal(Signal::SIGTERM);
        }
    }

    /// How the producer ended (once; a plain stream always ended well).
    pub(super) fn ending(&mut self) -> Ending {
        self.ending
            .take()
            .unwrap_or_else(|| Box::pin(async { Ok(()) }))
    }
}

pub(super) fn borg_error(finished: &Finished, archive: &str) -> anyhow::Error {
    let detail = finished
        .check()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    failed(format!("borg could not read archive {archive}: {detail}")).into()
}
