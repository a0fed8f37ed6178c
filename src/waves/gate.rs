//! The gate "caught up with near-real-time production", per job type: an SQL query
//! from csi.hcl (`restart.gate_sql`), with a shipped default for the cosims schema.
//!
//! The contract: `{schema}` is replaced by the quoted schema, `{table}` by the job
//! type's table (`fsc_rlie_job` -> `"cosims"."fsc_rlie_jobs"`, which must exist); the query gets
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
-- Caught up, for the runbook: the type's jobs are generated and published again and
-- no NRT job waits. A job of the type is a row of its table ({table}, e.g.
-- cosims.fsc_rlie_jobs for fsc_rlie_job) joined to parent_jobs by fk_parent_job_id.
-- Backlog: NRT jobs of the type still unfinished (no status, or initialized ..
-- start_publication) whose first status change is older than nrt_max_age. Published:
-- jobs of the type that entered `published` in job_status_changes within
-- recent_production and since the type was enabled. Statuses by name, through
-- {schema}.job_status. The schema's times are `timestamp` in UTC.
WITH jobs AS (
    SELECT p.id, p.priority, p.last_status_id
    FROM {schema}.parent_jobs p
    JOIN {table} t ON t.fk_parent_job_id = p.id
),
open_nrt AS (
    SELECT j.id,
           (SELECT min(c.time) FROM {schema}.job_status_changes c
             WHERE c.fk_parent_job_id = j.id) AS created
    FROM jobs j
    WHERE j.priority = 'nrt'
      AND (j.last_status_id IS NULL OR j.last_status_id IN (
            SELECT s.id FROM {schema}.job_status s
             WHERE s.name IN ('initialized', 'configured', 'ready', 'queued', 'started', 'pre_processing',
                             'processing', 'post_processing', 'processed', 'start_publication')))
),
counts AS (
    SELECT
        (SELECT count(*) FROM open_nrt
          WHERE created < (now() AT TIME ZONE 'UTC') - make_interval(secs => $2)) AS backlog,
        (SELECT count(*) FROM open_nrt) AS open_nrt_jobs,
        coalesce(extract(epoch FROM (now() AT TIME ZONE 'UTC')
                                    - (SELECT min(created) FROM open_nrt)), 0)::float8
            AS lag_seconds,
        (SELECT count(DISTINCT c.fk_parent_job_id)
           FROM {schema}.job_status_changes c
           JOIN jobs j ON j.id = c.fk_parent_job_id
          WHERE c.job_status = (SELECT s.id FROM {schema}.job_status s
                                 WHERE s.name = 'published')
            AND c.time >= greatest((now() AT TIME ZONE 'UTC') - make_interval(secs => $3),
                                   $4 AT TIME ZONE 'UTC'))
            AS published
)
SELECT backlog, open_nrt_jobs, lag_seconds, published,
       backlog = 0 AND published > 0 AS passed
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
    /// The query with `{schema}` replaced; `{table}` is per job type.
    sql: String,
    schema: String,
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
            schema: schema.to_owned(),
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
        let sql = if self.sql.contains("{table}") {
            let table = self.type_table(client, job_type).await?;
            self.sql.replace("{table}", &table)
        } else {
            self.sql.clone()
        };
        let statement = client
            .prepare_typed(
                &sql,
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
        let text: String = crate::database::decode::get(row, 0, "the gate's row")?;
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

impl Gate {
    /// `"cosims"."fsc_rlie_jobs"` for `fsc_rlie_job`, after checking the catalog has it.
    async fn type_table(&self, client: &Client, job_type: &str) -> anyhow::Result<String> {
        let base = job_type
            .trim()
            .trim_end_matches("_jobs")
            .trim_end_matches("_job");
        let table = format!("{base}_jobs");
        let row = client
            .query_one(
                "select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace                  join pg_attribute a on a.attrelid = c.oid                  where n.nspname = $1 and c.relname = $2 and a.attname = 'fk_parent_job_id' and not a.attisdropped)",
                &[&self.schema, &table],
            )
            .await
            .with_context(|| format!("looking for the table of job type {job_type}"))?;
        let exists: bool = crate::database::decode::get(&row, 0, "pg_class")?;
        if !exists {
            return Err(crate::error::precondition(format!(
                "job type {job_type} has no table {}.{table} with a fk_parent_job_id column: the gate needs it to find the type's jobs",
                self.schema
            ))
            .with_hint("the job types come from system_parameters.job_types_list; each needs its <type>_jobs table")
            .into());
        }
        Ok(format!(
            "{}.{}",
            quote_ident(&self.schema),
            quote_ident(&table)
        ))
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
            crate::output::human_age(chrono::TimeDelta::seconds(lag as i64))
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
