//! The gate "caught up with near-real-time production", per job type: an SQL query
//! from csi.hcl (`restart.gate_sql`), with a shipped default for the cosims schema.
//!
//! The contract: `{schema}` is replaced by the quoted schema; the query gets
//! `$1` the job type (text), `$2` restart.nrt_max_age in seconds (float8),
//! `$3` restart.recent_production in seconds (float8), `$4` when the job type was
//! enabled, i.e. the start of the wave that added it (timestamptz); it returns one
//! row with a boolean `passed`, and optionally `backlog` and `lag_seconds` (shown
//! while waiting); any other column is shown and journaled as it is.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use crate::error::{usage, CsiError};
use crate::params::quote_ident;
use crate::settings::RestartSettings;

pub const DEFAULT_GATE_SQL: &str = r#"
-- Caught up when no NRT job of the type is still unfinished (status 1..10) after
-- nrt_max_age, and at least one job of the type was published or done (11, 12)
-- within recent_production and since the type was enabled.
WITH open_nrt AS (
    SELECT p.creation_date
    FROM {schema}.parent_jobs p
    WHERE p.name = $1
      AND p.priority = 'nrt'
      AND (p.last_status_id IS NULL OR p.last_status_id BETWEEN 1 AND 10)
),
counts AS (
    SELECT
        (SELECT count(*) FROM open_nrt
          WHERE creation_date < now() - make_interval(secs => $2)) AS backlog,
        (SELECT count(*) FROM open_nrt) AS open_nrt_jobs,
        coalesce(extract(epoch FROM now() - (SELECT min(creation_date) FROM open_nrt)), 0)::float8
            AS lag_seconds,
        (SELECT count(*) FROM {schema}.parent_jobs p
          WHERE p.name = $1
            AND p.last_status_id IN (11, 12)
            AND p.last_status_change_date >= greatest(now() - make_interval(secs => $3), $4))
            AS produced
)
SELECT backlog, open_nrt_jobs, lag_seconds, produced,
       backlog = 0 AND produced > 0 AS passed
FROM counts
"#;

/// One job type's gate values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub job_type: String,
    pub passed: bool,
    pub backlog: Option<i64>,
    pub lag_seconds: Option<f64>,
    /// Every column the query returned.
    pub values: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Gate {
    sql: String,
    nrt_max_age: f64,
    recent_production: f64,
}

impl Gate {
    pub fn new(settings: &RestartSettings, schema: &str) -> Self {
        let query = settings
            .gate_sql
            .trim()
            .trim_end_matches(';')
            .replace("{schema}", &quote_ident(schema));
        Gate {
            sql: format!("SELECT to_jsonb(g)::text FROM (\n{query}\n) AS g"),
            nrt_max_age: settings.nrt_max_age.as_secs_f64(),
            recent_production: settings.recent_production.as_secs_f64(),
        }
    }

    pub async fn read(
        &self,
        client: &Client,
        job_type: &str,
        enabled_since: DateTime<Utc>,
    ) -> anyhow::Result<Reading> {
        let statement = client
            .prepare_typed(
                &self.sql,
                &[Type::TEXT, Type::FLOAT8, Type::FLOAT8, Type::TIMESTAMPTZ],
            )
            .await
            .map_err(|e| contract(format!("the gate SQL does not prepare: {}", db_message(&e))))?;
        let rows = client
            .query(
                &statement,
                &[
                    &job_type,
                    &self.nrt_max_age,
                    &self.recent_production,
                    &enabled_since,
                ],
            )
            .await
            .with_context(|| format!("evaluating the gate for {job_type}"))?;
        let [row] = rows.as_slice() else {
            return Err(contract(format!(
                "the gate SQL returned {} rows for {job_type}; it must return exactly one",
                rows.len()
            ))
            .into());
        };
        let text: String = row.get(0);
        let values: Map<String, Value> =
            serde_json::from_str(&text).context("decoding the gate's row")?;
        let passed = match values.get("passed") {
            Some(Value::Bool(b)) => *b,
            Some(Value::Null) => false,
            _ => {
                return Err(contract(
                    "the gate SQL must return a boolean column `passed`".to_owned(),
                )
                .into())
            }
        };
        Ok(Reading {
            job_type: job_type.to_owned(),
            passed,
            backlog: values.get("backlog").and_then(Value::as_i64),
            lag_seconds: values.get("lag_seconds").and_then(Value::as_f64),
            values,
        })
    }
}

/// A gate whose SQL breaks the contract: a configuration problem, not a passing state.
fn contract(message: String) -> CsiError {
    usage(message)
        .with_hint("see restart.gate_sql in the README for what the query gets and returns")
}

fn db_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}

/// `backlog 3, lag 4h 2m` and the other columns, for one line per job type.
pub fn describe(reading: &Reading) -> String {
    let mut parts = Vec::new();
    if let Some(backlog) = reading.backlog {
        parts.push(format!("backlog {backlog}"));
    }
    if let Some(lag) = reading.lag_seconds {
        parts.push(format!(
            "lag {}",
            crate::preflight::human_age(chrono::TimeDelta::seconds(lag as i64))
        ));
    }
    for (key, value) in &reading.values {
        if matches!(key.as_str(), "passed" | "backlog" | "lag_seconds") {
            continue;
        }
        parts.push(format!("{key} {value}"));
    }
    parts.join(", ")
}

/// The gate for every job type the restart will wait on, now: shown before the
/// operator confirms; a query that breaks the contract is refused before anything is
/// written. Other failures (the database busy...) are only a warning here.
pub async fn probe(
    settings: &crate::settings::Settings,
    client: &Client,
    decision: &super::plan::Decision,
    printer: &crate::output::Printer,
) -> anyhow::Result<()> {
    use super::plan::Decision;
    let types = match decision {
        Decision::New(plan) => plan.waves.last(),
        Decision::Resume(restart) => restart.plan.waves.last(),
        Decision::Nothing(_) => None,
    };
    let Some(types) = types else { return Ok(()) };
    let gate = Gate::new(&settings.restart, &settings.database.schema);
    let mut readings = Vec::new();
    for job_type in types {
        match gate.read(client, job_type, Utc::now()).await {
            Ok(reading) => readings.push(reading),
            Err(e) if crate::error::kind_of(&e) == crate::error::Kind::Usage => return Err(e),
            Err(e) => {
                printer.warn(&format!("the gate cannot be evaluated now: {e:#}"));
                return Ok(());
            }
        }
    }
    if !printer.is_json() {
        printer.data("gate values now:");
        for reading in &readings {
            printer.data(&format!("  {}", line(reading)));
        }
    }
    Ok(())
}

/// `fsc_rlie_job     waiting   backlog 3, lag 4h 2m`
pub fn line(reading: &Reading) -> String {
    let state = if reading.passed {
        "caught up"
    } else {
        "waiting  "
    };
    format!("{:<16} {state} {}", reading.job_type, describe(reading))
}
