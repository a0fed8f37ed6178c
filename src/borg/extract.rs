//! Reading an archive's content: its items with their sizes, and the command that
//! streams one item to stdout.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::Borg;
use crate::process::Cmd;

/// The single item of a nightly dump archive.
pub const DUMP_ITEM: &str = "database-all.sql";

/// Seconds borg waits for the repository lock (the nightly create or prune may hold
/// it); borg's own default of 1 s fails at once.
pub const LOCK_WAIT_SECONDS: u32 = 600;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub size: u64,
}

impl Borg {
    /// `REPO::ARCHIVE`
    pub fn archive_ref(&self, archive: &str) -> String {
        format!("{}::{archive}", self.repository())
    }

    /// The archive's items (`borg list --json-lines REPO::ARCHIVE`).
    pub async fn items(&self, archive: &str) -> anyhow::Result<Vec<Item>> {
        let output = self
            .command()
            .args(["list", "--json-lines"])
            .arg(format!("--lock-wait={LOCK_WAIT_SECONDS}"))
            .arg(self.archive_ref(archive))
            .output()
            .await?;
        output
            .stdout_text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .with_context(|| format!("unexpected line from borg list: {l}"))
            })
            .collect()
    }

    /// The size of the archive's dump (its items listed); an archive without one is a
    /// precondition failure.
    pub async fn dump_size(&self, archive: &str) -> anyhow::Result<u64> {
        let items = self.items(archive).await?;
        match items.iter().find(|i| i.path == DUMP_ITEM && i.kind == "-") {
            Some(item) => Ok(item.size),
            None => {
                let held: Vec<&str> = items.iter().map(|i| i.path.as_str()).collect();
                Err(crate::error::precondition(format!(
                    "archive {archive} has no {DUMP_ITEM} (it holds: {})",
                    if held.is_empty() {
                        "nothing".to_owned()
                    } else {
                        held.join(", ")
                    }
                ))
                .with_hint("only archives made by the nightly backup (or by csi) can be restored")
                .into())
            }
        }
    }

    /// `borg extract --stdout REPO::ARCHIVE ITEM`: the item's bytes on stdout. (A
    /// path that matches nothing makes borg exit 1 with nothing on stdout: callers
    /// must treat any non-zero exit as a failure.)
    pub fn extract_stdout(&self, archive: &str, item: &str) -> Cmd {
        self.command()
            .args(["extract", "--stdout"])
            .arg(format!("--lock-wait={LOCK_WAIT_SECONDS}"))
            .arg(self.archive_ref(archive))
            .arg(item)
    }
}
