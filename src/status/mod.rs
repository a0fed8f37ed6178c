//! The operator's overview of one environment: every source queried concurrently,
//! each with its own timeout; a source that fails is shown as unavailable with the
//! reason and never fails the whole overview.

mod sources;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use crate::settings::Settings;

pub use sources::{
    BackupSection, DatabaseSection, JobTypeHealth, LastOperation, NomadSection, ServiceHealth,
    TerraformSection,
};

/// One source's answer, or why there is none: `{"state": "available", "value": ...}`
/// or `{"state": "unavailable", "value": {"reason": ...}}`.
#[derive(Debug, Serialize)]
#[serde(tag = "state", content = "value", rename_all = "snake_case")]
pub enum Section<T> {
    Available(T),
    Unavailable { reason: String },
}

#[derive(Debug, Serialize)]
pub struct Overview {
    pub environment: String,
    pub terraform: Section<TerraformSection>,
    pub nomad: Section<NomadSection>,
    pub database: Section<DatabaseSection>,
    pub backup: Section<BackupSection>,
    pub lock: Section<crate::lock::LockState>,
    pub last_operation: Section<Option<LastOperation>>,
    pub waves: Section<Option<serde_json::Value>>,
}

/// Queries every source at once, each bounded by `timeout`.
pub async fn collect(settings: &Settings, timeout: Duration) -> Overview {
    let (terraform, nomad, database, backup) = tokio::join!(
        bounded(timeout, sources::terraform(settings)),
        bounded(timeout, sources::nomad(settings)),
        bounded(timeout, sources::database(settings)),
        bounded(timeout, sources::backup(settings)),
    );
    Overview {
        environment: settings.env_name.clone(),
        terraform,
        nomad,
        database,
        backup,
        lock: section(crate::lock::inspect(&settings.state_dir).map_err(anyhow::Error::from)),
        last_operation: section(sources::last_operation(settings)),
        waves: section(sources::waves(settings)),
    }
}

async fn bounded<T>(
    timeout: Duration,
    source: impl Future<Output = anyhow::Result<T>>,
) -> Section<T> {
    match tokio::time::timeout(timeout, source).await {
        Ok(result) => section(result),
        Err(_) => Section::Unavailable {
            reason: format!("no answer within {}", humantime::format_duration(timeout)),
        },
    }
}

fn section<T>(result: anyhow::Result<T>) -> Section<T> {
    match result {
        Ok(value) => Section::Available(value),
        Err(e) => Section::Unavailable {
            reason: format!("{e:#}")
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        },
    }
}
