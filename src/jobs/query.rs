//! Reading the selection: counts per status, a page for listings, and the whole
//! selection in keyset batches (`id > last seen`, bounded by the highest id selected
//! at the start), so that thousands of jobs take constant memory and no statement
//! stays open on the live database between two writes.

use crate::database::decode;
use crate::database::pg_error::PgContext;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::selection::Resolved;
use super::status::Status;

/// Jobs read per batch.
pub const BATCH: i64 = 200;

#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub id: i64,
    /// The job's type: the type whose table holds it (`fsc_rlie`), if any.
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    /// `parent_jobs.name`, the job's own name (`job_42`).
    pub name: Option<String>,
    pub tile: Option<String>,
    pub status: Option<Status>,
    pub since: Option<DateTime<Utc>>,
    /// The selection's date column, when one type is selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusCount {
    #[serde(serialize_with = "status_or_none")]
    pub status: Option<Status>,
    pub jobs: i64,
}

fn status_or_none<S: serde::Serializer>(status: &Option<Status>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::status::describe(*status))
}

pub async fn counts(
    client: &tokio_postgres::Client,
    resolved: &Resolved,
) -> anyhow::Result<Vec<StatusCount>> {
    let filter = resolved.filter();
    let sql = format!(
        "select p.last_status_id::int2, count(*) from {} p where {} group by 1 order by 1 nulls first",
        resolved.parent_jobs(),
        filter.sql
    );
    let rows = client
        .query(&sql, &filter.refs())
        .await
        .pg_context("counting the selected jobs")?;
    rows.iter()
        .map(|r| {
            Ok(StatusCount {
                status: decode::get::<Option<i16>>(r, 0, "parent_jobs.last_status_id")?.map(Status),
                jobs: decode::get(r, 1, "count(*) of parent_jobs")?,
            })
        })
        .collect()
}

fn columns(resolved: &Resolved) -> String {
    let date = resolved
        .date_expression()
        .map_or_else(|| "null::text".to_owned(), |(_, expr)| expr);
    format!(
        "p.id::int8, p.name::text, p.tile_id::text, p.last_status_id::int2, p.last_status_change_date, {date}, {}",
        resolved.type_expression()
    )
}

fn job(row: &tokio_postgres::Row) -> anyhow::Result<JobRow> {
    Ok(JobRow {
        id: decode::get(row, 0, "parent_jobs.id")?,
        name: decode::get(row, 1, "parent_jobs.name")?,
        tile: decode::get(row, 2, "parent_jobs.tile_id")?,
        status: decode::get::<Option<i16>>(row, 3, "parent_jobs.last_status_id")?.map(Status),
        since: decode::timestamp(row, 4, "parent_jobs.last_status_change_date")?,
        date: decode::get(row, 5, "the selection's date column")?,
        job_type: decode::get(row, 6, "the job's type")?,
    })
}

/// One page of the selection, by id.
pub async fn page(
    client: &tokio_postgres::Client,
    resolved: &Resolved,
    limit: i64,
    offset: i64,
) -> anyhow::Result<Vec<JobRow>> {
    let mut filter = resolved.filter();
    let sql_limit = {
        filter.params.push(Box::new(limit));
        filter.params.len()
    };
    let sql_offset = {
        filter.params.push(Box::new(offset));
        filter.params.len()
    };
    let sql = format!(
        "select {} from {} p where {} order by p.id limit ${sql_limit} offset ${sql_offset}",
        columns(resolved),
        resolved.parent_jobs(),
        filter.sql
    );
    let rows = client
        .query(&sql, &filter.refs())
        .await
        .pg_context("reading the selected jobs")?;
    rows.iter().map(job).collect()
}

/// The selection, batch after batch, in id order.
pub struct Batches {
    resolved: Resolved,
    after: i64,
    /// The highest id selected when the walk began: jobs created later are not taken.
    upper: Option<i64>,
}

impl Batches {
    pub async fn start(
        client: &tokio_postgres::Client,
        resolved: &Resolved,
    ) -> anyhow::Result<Self> {
        let filter = resolved.filter();
        let sql = format!(
            "select max(p.id)::int8 from {} p where {}",
            resolved.parent_jobs(),
            filter.sql
        );
        let row = client
            .query_one(&sql, &filter.refs())
            .await
            .pg_context("reading the selection's highest job id")?;
        let upper: Option<i64> = decode::get(&row, 0, "max(parent_jobs.id)")?;
        Ok(Batches {
            resolved: resolved.clone(),
            after: i64::MIN,
            upper,
        })
    }

    /// The next batch; None at the end.
    pub async fn next(
        &mut self,
        client: &tokio_postgres::Client,
        limit: i64,
    ) -> anyhow::Result<Option<Vec<JobRow>>> {
        let Some(upper) = self.upper else {
            return Ok(None);
        };
        let mut filter = self.resolved.filter();
        filter.and_param("p.id > {}::int8", self.after);
        filter.and_param("p.id <= {}::int8", upper);
        let limit_param = {
            filter.params.push(Box::new(limit.min(BATCH)));
            filter.params.len()
        };
        let sql = format!(
            "select {} from {} p where {} order by p.id limit ${limit_param}",
            columns(&self.resolved),
            self.resolved.parent_jobs(),
            filter.sql
        );
        let rows = client
            .query(&sql, &filter.refs())
            .await
            .pg_context("reading the next batch of selected jobs")?;
        if rows.is_empty() {
            self.upper = None;
            return Ok(None);
        }
        let jobs = rows
            .iter()
            .map(job)
            .collect::<anyhow::Result<Vec<JobRow>>>()?;
        self.after = jobs.last().map_or(self.after, |j| j.id);
        Ok(Some(jobs))
    }
}
