//! Preflight checks: each says OK, FAIL or SKIP with its reason. `env check` runs them
//! all; changing commands run the ones they depend on.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
// Kept here for the callers that predate its move to the printer (restore-db).
pub use crate::output::human_age;

use chrono::Utc;
use serde::Serialize;

use crate::borg::Borg;
use crate::nomad::NomadClient;
use crate::process::Cmd;
use crate::settings::Settings;
use crate::{database, terraform};

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
    let (tools, state, nomad, db, borg) = tokio::join!(
        tools(settings),
        terraform_state(settings),
        nomad(settings),
        database_reachable(settings),
        borg_readable(settings)
    );
    let mut checks = tools;
    checks.extend(var_files(settings));
    checks.extend(state);
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
    let mut checks = vec![
        Check::from_result(
            "configuration var file",
            present(&tf.configuration_var_file),
        ),
        Check::from_result("secrets var file", private_file(&tf.secrets_var_file)),
    ];
    if let crate::settings::StateLocation::BackendConfig(file) = &tf.state {
        checks.push(Check::from_result("backend config file", present(file)));
    }
    checks
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

/// The state's record of its environment and OpenStack project (module.cold's
/// `terraform_data.csi_environment`), against this environment: the same check a plan
/// makes before it starts. The project is the one the credentials acted in when the
/// record was written, not `OS_PROJECT_ID` (csi's tree authenticates with the var
/// files' application credential).
pub async fn terraform_state(settings: &Settings) -> [Check; 2] {
    use terraform::identity::{self, Expected, StateIdentity};
    let found = async {
        let tf = terraform::locate(settings.terraform.binary.as_deref())?;
        let tree = terraform::Tree::new(tf, settings);
        if !tree.is_initialised() {
            tree.init().await?;
        }
        let found = identity::of_state(&tree.pull_state().await?)?;
        anyhow::Ok((tree.state_description(), found))
    };
    let (state_name, project_name) = ("terraform state", "OpenStack project");
    let (where_, found) = match found.await {
        Ok(found) => found,
        Err(e) => {
            return [
                Check::new(state_name, Status::Fail, one_line(&e)),
                Check::new(project_name, Status::Skip, "the state cannot be read"),
            ]
        }
    };
    let environment_only = Expected {
        environment: &settings.env_name,
        openstack_project_id: None,
        state: &where_,
    };
    let state = match identity::check_state(&found, &environment_only) {
        Err(e) => Check::new(state_name, Status::Fail, e.message),
        Ok(()) if found == StateIdentity::Empty => {
            Check::new(state_name, Status::Ok, format!("{where_}: no state yet"))
        }
        Ok(()) => Check::new(
            state_name,
            Status::Ok,
            format!("{where_}: `{}`'s", settings.env_name),
        ),
    };
    let Some(expected) = &settings.terraform.openstack_project_id else {
        return [
            state,
            Check::new(
                project_name,
                Status::Skip,
                "no project id configured for this environment",
            ),
        ];
    };
    let project = match &found {
        StateIdentity::Recorded(recorded) => match &recorded.openstack_project_id {
            Some(actual) if actual == expected => Check::new(
                project_name,
                Status::Ok,
                format!("the state records project {actual}"),
            ),
            actual => Check::new(
                project_name,
                Status::Fail,
                format!(
                    "the state records project {}, expected {expected}: use this environment's credentials (its secrets var file)",
                    actual.as_deref().unwrap_or("(none)")
                ),
            ),
        },
        _ => Check::new(
            project_name,
            Status::Skip,
            "no project recorded in the state yet: a start checks the one the credentials act in",
        ),
    };
    [state, project]
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
