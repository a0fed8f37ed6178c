//! Listing the repository's archives.

use chrono::{DateTime, Local, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;

use crate::error::{usage, CsiError};
use crate::process::Cmd;
use crate::settings::BorgSettings;

#[derive(Debug, Clone)]
pub struct Borg {
    /// `borg`, or the command that runs it as the repository's owner on its own host
    /// (`sudo borg`: the environment's remote_path, when csi itself runs there).
    program: Vec<String>,
    repository: String,
    settings_env: Vec<(&'static str, String)>,
    passphrase: Option<crate::secret::Secret>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Archive {
    pub name: String,
    pub start: DateTime<Utc>,
}

#[derive(Deserialize)]
struct ListJson {
    archives: Vec<ArchiveJson>,
}

#[derive(Deserialize)]
struct ArchiveJson {
    name: String,
    start: String,
}

impl Borg {
    pub fn new(settings: &BorgSettings) -> Result<Self, CsiError> {
        crate::ssh::require_attached(settings.over_ssh, "the borg repository")?;
        let repository = settings.repository.clone().ok_or_else(|| {
            usage("no borg repository for this environment")
                .with_hint("set borg.repository in csi.hcl or BORG_REPO")
        })?;
        let mut settings_env = Vec::new();
        if let Some(rsh) = &settings.rsh {
            settings_env.push((crate::env_vars::BORG_RSH, rsh.clone()));
        }
        if let Some(path) = &settings.remote_path {
            settings_env.push((crate::env_vars::BORG_REMOTE_PATH, path.clone()));
        }
        if let Some(cmd) = &settings.passcommand {
            settings_env.push((crate::env_vars::BORG_PASSCOMMAND, cmd.clone()));
        }
        Ok(Borg {
            program: vec!["borg".to_owned()],
            repository,
            settings_env,
            passphrase: settings.passphrase.clone(),
        })
    }

    /// The repository as csi sees it on its own host (csi shipped there): a local
    /// path, borg run through `remote_path` (`sudo borg`), the passphrase as the client
    /// would pass it.
    pub fn on_host(
        repository: &str,
        remote_path: Option<&str>,
        passcommand: Option<&str>,
        passphrase: Option<crate::secret::Secret>,
    ) -> Result<Self, CsiError> {
        let program = match remote_path {
            Some(words) => shlex::split(words)
                .filter(|w| !w.is_empty())
                .ok_or_else(|| usage(format!("borg.remote_path `{words}` is not a command")))?,
            None => vec!["borg".to_owned()],
        };
        let mut settings_env = Vec::new();
        if let Some(cmd) = passcommand {
            settings_env.push((crate::env_vars::BORG_PASSCOMMAND, cmd.to_owned()));
        }
        Ok(Borg {
            program,
            repository: repository.to_owned(),
            settings_env,
            passphrase,
        })
    }

    /// borg runs as another user than csi (`sudo borg`): a command it runs
    /// (`--content-from-command`) would run as that user too.
    pub fn switches_user(&self) -> bool {
        self.program.len() > 1
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// A borg command with the repository's environment. The repository is named
    /// explicitly in csi.hcl, so borg's "previously unknown unencrypted repository" and
    /// "previously located at" questions (which cannot be answered without a terminal)
    /// are answered yes, as the real backup scripts do: the same repository is reached
    /// by path on its host and by an ssh URL from the admin VM.
    pub fn command(&self) -> Cmd {
        let mut cmd = Cmd::new(&self.program[0])
            .args(&self.program[1..])
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8")
            .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
            .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
            .env_remove(crate::env_vars::BORG_REPO);
        if self.switches_user() {
            // borg as the repository's owner keeps its own cache and configuration
            // (as `sudo` would reset them), not csi's user's.
            for key in [
                "XDG_CACHE_HOME",
                "XDG_CONFIG_HOME",
                "BORG_CACHE_DIR",
                "BORG_CONFIG_DIR",
            ] {
                cmd = cmd.env_remove(key);
            }
        }
        for (key, value) in &self.settings_env {
            cmd = cmd.env(key, value);
        }
        if let Some(passphrase) = &self.passphrase {
            cmd = cmd.secret_env(crate::env_vars::BORG_PASSPHRASE, passphrase);
        }
        cmd
    }

    /// Archives whose name matches the glob, oldest first.
    pub async fn list(&self, glob: &str, last: Option<usize>) -> anyhow::Result<Vec<Archive>> {
        let mut cmd = self
            .command()
            .args(["list", "--json", "--glob-archives", glob]);
        if let Some(n) = last {
            cmd = cmd.arg(format!("--last={n}"));
        }
        let output = cmd.arg(&self.repository).output().await?;
        let parsed: ListJson = serde_json::from_slice(&output.stdout)?;
        parsed
            .archives
            .into_iter()
            .map(|a| {
                Ok(Archive {
                    start: parse_local_time(&a.start)?,
                    name: a.name,
                })
            })
            .collect()
    }

    /// The newest archive under the nightly prefix, if any.
    pub async fn newest(&self, prefix: &str) -> anyhow::Result<Option<Archive>> {
        Ok(self.list(&format!("{prefix}*"), Some(1)).await?.pop())
    }
}

/// borg prints naive local times of the machine running it.
pub(super) fn parse_local_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|e| anyhow::anyhow!("unexpected borg timestamp `{text}`: {e}"))?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| anyhow::anyhow!("borg timestamp `{text}` does not exist in local time"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn borg_timestamps_parse_with_and_without_fraction() {
        assert!(super::parse_local_time("2026-11-19T04:00:00.000000").is_ok());
        assert!(super::parse_local_time("2026-11-19T04:00:00").is_ok());
        assert!(super::parse_local_time("yesterday").is_err());
    }
}
