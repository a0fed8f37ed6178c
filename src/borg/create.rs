//! Making a dump archive the way the nightly job does, but safely: borg runs the
//! dump command itself (`--content-from-command`), so a dump that fails leaves no
//! archive behind.

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
