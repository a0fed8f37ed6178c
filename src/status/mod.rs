//! The operator's overview of one environment: every source queried concurrently,
//! each with its own timeout; a source that fails is shown as unavailable with the
//! reason and never fails the whole overview. The overview takes as long as its
//! slowest source, not the sum of them; each source's own time is reported too.

mod sources;
mod terraform;

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::settings::Settings;

pub use sources::{
    BackupSection, DatabaseSection, JobTypeHealth, LastOperation, NomadSection, ServiceHealth,
};
pub use terraform::TerraformSection;

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
    pub elapsed_ms: Elapsed,
}

/// How long each remote source took to answer (or to fail, or to time out), and the
/// whole overview, in milliseconds.
#[derive(Debug, Serialize)]
pub struct Elapsed {
    pub terraform: u64,
    pub nomad: u64,
    pub database: u64,
    pub backup: u64,
    pub total: u64,
}

/// Queries every source at once, each bounded by `timeout`.
pub async fn collect(settings: &Settings, timeout: Duration) -> Overview {
    let started = Instant::now();
    let lock = section(crate::lock::inspect(&settings.state_dir).map_err(anyhow::Error::from));
    let last_operation = section(sources::last_operation(settings));
    let waves = section(sources::waves(settings));
    let (terraform, nomad, database, backup) = tokio::join!(
        timed(bounded(timeout, terraform::section(settings))),
        timed(bounded(timeout, sources::nomad(settings))),
        timed(bounded(timeout, sources::database(settings))),
        timed(bounded(timeout, sources::backup(settings))),
    );
    let elapsed_ms = Elapsed {
        terraform: terraform.1,
        nomad: nomad.1,
        database: database.1,
        backup: backup.1,
        total: millis(started),
    };
    tracing::debug!(?elapsed_ms, "status sources answered");
    let (terraform, nomad, database, backup) = (terraform.0, nomad.0, database.0, backup.0);
    Overview {
        environment: settings.env_name.clone(),
        terraform,
        nomad,
        database,
        backup,
        lock,
        last_operation,
        waves,
        elapsed_ms,
    }
}

async fn timed<T>(source: impl Future<Output = T>) -> (T, u64) {
    let started = Instant::now();
    let value = source.await;
    (value, millis(started))
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn bounded<T>(
    timeout: Duration,
    source: impl Future<Output = anyhow::Result<T>>,
) -> Section<T> {
    match tokio::time::timeout(timeout, source).await {
        Ok(result) => section(result),
        Err(_) => Section::Unavailable {
            reason: format!(
                "no answer within {}",
                crate::output::human_duration(timeout)
            ),
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
