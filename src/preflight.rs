//! Preflight checks: each says OK, FAIL or SKIP with its reason. `env check` runs them
//! all; changing commands run the ones they depend on.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use crate::borg::Borg;
use crate::nomad::NomadClient;
use crate::process::Cmd;
use crate::settings::Settings;
use crate::{database, env_vars, terraform};

const REMOTE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    Skip,
    /// Not a check: where a setting came from (`env check` lists them first).
    Info,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
}

impl Check {
    pub fn new(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
        }
    }

    fn from_result(name: &str, result: anyhow::Result<String>) -> Self {
        match result {
            Ok(detail) => Check::new(name, Status::Ok, detail),
            Err(e) => Check::new(name, Status::Fail, one_line(&e)),
        }
    }
}

fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// One line per resolved setting: its value and where it came from (flag, csi.hcl,
/// environment variable, default), secrets redacted.
pub fn sources(settings: &Settings) -> Vec<Check> {
    let resolved = serde_json::to_value(settings).unwrap_or_default();
    settings
        .origins
        .iter()
        .map(|(key, origin)| {
            let value = key
                .split('.')
                .try_fold(&resolved, |v, part| v.get(part))
                .filter(|v| !v.is_null())
                .map(|v| match v {
                    serde_json::Value::String(s) if s.contains('\n') => "(multi-line)".to_owned(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "(unset)".to_owned());
            Check::new(
                format!("setting {key}"),
                Status::Info,
                format!("{value} ({origin})"),
            )
        })
        .collect()
}

/// Every check for the environment, the slow remote ones concurrently.
pub async fn all(settings: &Settings) -> Vec<Check> {
    let (tools, nomad, db, borg) = tokio::join!(
        tools(settings),
        nomad(settings),
        database_reachable(settings),
        borg_readable(settings)
    );
    let mut checks = tools;
    checks.extend(var_files(settings));
    checks.push(openstack_project(settings));
    checks.extend([nomad, db, borg]);
    checks
}

pub async fn tools(settings: &Settings) -> Vec<Check> {
    let terraform = match terraform::locate(settings.terraform.binary.as_deref()) {
        Ok(tf) => Check::from_result("tool terraform", terraform::version(&tf).await),
        Err(e) => Check::new("tool terraform", Status::Fail, e.message),
    };
    let mut checks = vec![terraform];
    for tool in ["borg", "psql", "pg_dump", "pg_dumpall"] {
        checks.push(Check::from_result(
            &format!("tool {tool}"),
            tool_version(tool).await,
        ));
    }
    checks
}

async fn tool_version(tool: &str) -> anyhow::Result<String> {
    let output = Cmd::new(tool).arg("--version").output().await?;
    Ok(output
        .stdout_text()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned())
}

pub fn var_files(settings: &Settings) -> Vec<Check> {
    let tf = &settings.terraform;
    vec![
        Check::from_result(
            "configuration var file",
            present(&tf.configuration_var_file),
        ),
        Check::from_result("secrets var file", private_file(&tf.secrets_var_file)),
    ]
}

fn present(path: &Path) -> anyhow::Result<String> {
    if path.is_file() {
        Ok(path.display().to_string())
    } else {
        anyhow::bail!("{} is missing", path.display())
    }
}

/// Present, and readable by its owner only: it holds the environment's secret keys.
pub fn private_file(path: &Path) -> anyhow::Result<String> {
    let meta =
        fs_err::metadata(path).map_err(|_| anyhow::anyhow!("{} is missing", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "{} is readable by group or others (mode {mode:o}); run chmod 600 on it",
            path.display()
        );
    }
    Ok(format!("{} (mode {mode:o})", path.display()))
}

pub fn openstack_project(settings: &Settings) -> Check {
    let name = "OpenStack project";
    let Some(expected) = &settings.terraform.openstack_project_id else {
        return Check::new(
            name,
            Status::Skip,
            "no project id configured for this environment",
        );
    };
    match env_vars::get(env_vars::OS_PROJECT_ID) {
        Some(actual) if &actual == expected => Check::new(name, Status::Ok, format!("OS_PROJECT_ID = {actual}")),
        Some(actual) => Check::new(
            name,
            Status::Fail,
            format!("OS_PROJECT_ID is {actual}, expected {expected}: source this environment's OpenStack RC file"),
        ),
        None => Check::new(
            name,
            Status::Fail,
            format!("OS_PROJECT_ID is not set, expected {expected}: source this environment's OpenStack RC file"),
        ),
    }
}

pub async fn nomad(settings: &Settings) -> Check {
    let result = async {
        let client = NomadClient::new(&settings.nomad, REMOTE_TIMEOUT)?;
        let leader = client.leader().await?;
        Ok(format!("{} (leader {leader})", client.address()))
    };
    Check::from_result("nomad reachable", result.await)
}

pub async fn database_reachable(settings: &Settings) -> Check {
    let result = async {
        let info = database::ping(&settings.database, REMOTE_TIMEOUT).await?;
        let target = database::describe(&settings.database);
        if !info.schema_present {
            anyhow::bail!(
                "{target} is reachable but has no schema `{}`",
                settings.database.schema
            );
        }
        Ok(format!(
            "{target} (PostgreSQL {}, schema {})",
            info.version, settings.database.schema
        ))
    };
    Check::from_result("database reachable", result.await)
}

pub async fn borg_readable(settings: &Settings) -> Check {
    let result = async {
        let borg = Borg::new(&settings.borg)?;
        let newest = tokio::time::timeout(
            REMOTE_TIMEOUT * 6,
            borg.newest(&settings.borg.archive_prefix),
        )
        .await
        .map_err(|_| anyhow::anyhow!("borg did not answer in time"))??;
        Ok(match newest {
            Some(archive) => format!(
                "{} (newest {}, {} old)",
                borg.repository(),
                archive.name,
                human_age(Utc::now() - archive.start)
            ),
            None => format!(
                "{} (no `{}` archive yet)",
                borg.repository(),
                settings.borg.archive_prefix
            ),
        })
    };
    Check::from_result("borg repository readable", result.await)
}

/// `3d 4h`, `5h 12m`, `42s`: how long ago, for people.
pub fn human_age(age: chrono::TimeDelta) -> String {
    let secs = age.num_seconds().max(0);
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}
