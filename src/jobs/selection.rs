//! Which jobs an operator means, turned into SQL with bound parameters only: values
//! never enter the text; identifiers (the schema, a type's table, a date column) do,
//! quoted, and only after they were found in the database's catalog.

use std::fmt::Write as _;

use crate::database::pg_error::PgContext;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use tokio_postgres::types::ToSql;

use super::status::Status;
use crate::database::decode;
use crate::database::dump::quote_ident;
use crate::error::{usage, CsiError};

/// The selection as the operator gave it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Selection {
    /// Job types (`fsc_rlie`, `fsc_rlie_job` or `fsc_rlie_jobs`).
    pub types: Vec<String>,
    pub statuses: Vec<Status>,
    pub ids: Vec<IdRange>,
    pub tiles: Vec<String>,
    pub time: Option<TimeRange>,
}

/// `12` or `12-40`, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IdRange {
    pub first: i64,
    pub last: i64,
}

/// On a date column of the type's table: `since` included, `before` excluded.
#[derive(Debug, Clone, Serialize)]
pub struct TimeRange {
    /// `--date-column`; None: each type's own measurement (or product) date.
    pub column: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

impl Selection {
    /// Nothing narrows it: every job of the database.
    pub fn is_everything(&self) -> bool {
        self.types.is_empty()
            && self.statuses.is_empty()
            && self.ids.is_empty()
            && self.tiles.is_empty()
            && self.time.is_none()
    }

    /// One line for the operator: `type fsc_rlie, status internal_error, tile 32TLR`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.types.is_empty() {
            parts.push(format!("type {}", self.types.join(",")));
        }
        if !self.statuses.is_empty() {
            let names: Vec<String> = self.statuses.iter().map(|s| s.name()).collect();
            parts.push(format!("status {}", names.join(",")));
        }
        if !self.ids.is_empty() {
            let ids: Vec<String> = self
                .ids
                .iter()
                .map(|r| {
                    if r.first == r.last {
                        r.first.to_string()
                    } else {
                        format!("{}-{}", r.first, r.last)
                    }
                })
                .collect();
            parts.push(format!("id {}", ids.join(",")));
        }
        if !self.tiles.is_empty() {
            parts.push(format!("tile {}", self.tiles.join(",")));
        }
        if let Some(range) = &self.time {
            let fmt = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let column = range.column.as_deref().unwrap_or("date");
            match (&range.since, &range.before) {
                (Some(s), Some(b)) => parts.push(format!("{column} in [{}, {})", fmt(s), fmt(b))),
                (Some(s), None) => parts.push(format!("{column} >= {}", fmt(s))),
                (None, Some(b)) => parts.push(format!("{column} < {}", fmt(b))),
                (None, None) => {}
            }
        }
        if parts.is_empty() {
            "every job".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// `1,5,10-20`
pub fn parse_ids(texts: &[String]) -> Result<Vec<IdRange>, CsiError> {
    let mut ranges = Vec::new();
    for word in texts.iter().flat_map(|t| t.split(',')).map(str::trim) {
        if word.is_empty() {
            continue;
        }
        let bad = || {
            usage(format!(
                "`{word}` is not a job id or a range of ids (e.g. 42 or 40-60)"
            ))
        };
        let range = match word.split_once('-') {
            Some((a, b)) => IdRange {
                first: a.trim().parse().map_err(|_| bad())?,
                last: b.trim().parse().map_err(|_| bad())?,
            },
            None => {
                let id = word.parse().map_err(|_| bad())?;
                IdRange {
                    first: id,
                    last: id,
                }
            }
        };
        if range.first > range.last {
            return Err(bad());
        }
        ranges.push(range);
    }
    Ok(ranges)
}

/// `2026-11-20` (midnight UTC), `2026-11-20T10:00:00` (UTC) or RFC 3339.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, CsiError> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(usage(format!("`{text}` is not a time"))
        .with_hint("write 2026-11-20, 2026-11-20T10:00:00 (UTC) or 2026-11-20T10:00:00+01:00"))
}

/// A job type of the database: a `<name>_jobs` table of the schema with a
/// `fk_parent_job_id` column. A job's type is the table that holds it
/// (`parent_jobs.name` is the job's own name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobType {
    /// `fsc_rlie`
    pub name: String,
    /// `fsc_rlie_jobs`
    pub table: String,
    /// Its date and time columns, in table order.
    pub date_columns: Vec<DateColumn>,
}

/// A `date`, `timestamp` or `timestamptz` column of a type's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateColumn {
    pub name: String,
    /// `timestamp without time zone`, ...
    pub kind: String,
}

impl JobType {
    /// The column `--since`/`--before` apply to when `--date-column` is not given:
    /// the first whose name says it is the measurement date (`measurement_date`,
    /// `measurement_date_start`, `measurement_date_rlies1s2`,
    /// `first_product_measurement_date`), else `product_date`.
    pub fn default_date_column(&self) -> Option<&DateColumn> {
        self.date_columns
            .iter()
            .find(|c| c.name.starts_with("measurement_date"))
            .or_else(|| {
                self.date_columns
                    .iter()
                    .find(|c| c.name.contains("measurement_date"))
            })
            .or_else(|| self.date_columns.iter().find(|c| c.name == "product_date"))
    }

    fn column(&self, name: &str) -> Option<&DateColumn> {
        self.date_columns.iter().find(|c| c.name == name)
    }
}

/// The job types the schema has, by name, with their date columns.
pub async fn job_types(
    client: &tokio_postgres::Client,
    schema: &str,
) -> anyhow::Result<Vec<JobType>> {
    let rows = client
        .query(
            "select c.relname::text, \
                    coalesce((select array_agg(d.attname::text order by d.attnum) from pg_attribute d \
                      where d.attrelid = c.oid and d.attnum > 0 and not d.attisdropped \
                        and d.atttypid in ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)), '{}'), \
                    coalesce((select array_agg(format_type(d.atttypid, d.atttypmod) order by d.attnum) from pg_attribute d \
                      where d.attrelid = c.oid and d.attnum > 0 and not d.attisdropped \
                        and d.atttypid in ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)), '{}') \
             from pg_class c \
             join pg_namespace n on n.oid = c.relnamespace \
             join pg_attribute a on a.attrelid = c.oid \
             where n.nspname = $1 and c.relkind in ('r', 'p') and c.relname like '%\\_jobs' \
               and a.attname = 'fk_parent_job_id' and not a.attisdropped \
             order by 1",
            &[&schema],
        )
        .await
        .pg_context("listing the job tables")?;
    let source = "pg_catalog (the job tables)";
    let mut types = Vec::with_capacity(rows.len());
    for row in &rows {
        let table: String = decode::get(row, 0, source)?;
        let names: Vec<String> = decode::get(row, 1, source)?;
        let kinds: Vec<String> = decode::get(row, 2, source)?;
        types.push(JobType {
            name: table.trim_end_matches("_jobs").to_owned(),
            date_columns: names
                .into_iter()
                .zip(kinds)
                .map(|(name, kind)| DateColumn { name, kind })
                .collect(),
            table,
        });
    }
    Ok(types)
}

/// A selection checked against the database, ready to become SQL.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub schema: String,
    pub selection: Selection,
    /// The types selected (empty: every job, whatever its type).
    pub types: Vec<JobType>,
    /// Every type of the schema, to name each job's.
    pub known: Vec<JobType>,
}

pub async fn resolve(
    client: &tokio_postgres::Client,
    schema: &str,
    selection: &Selection,
) -> anyhow::Result<Resolved> {
    let known = job_types(client, schema).await?;
    let mut types = Vec::new();
    for wanted in &selection.types {
        let base = wanted
            .trim()
            .trim_end_matches("_jobs")
            .trim_end_matches("_job");
        match known.iter().find(|t| t.name == base) {
            Some(t) if !types.contains(t) => types.push(t.clone()),
            Some(_) => {}
            None => {
                let names: Vec<&str> = known.iter().map(|t| t.name.as_str()).collect();
                return Err(usage(format!("unknown job type `{wanted}`"))
                    .with_hint(format!("job types in {schema}: {}", names.join(", ")))
                    .into());
            }
        }
    }
    if let Some(range) = &selection.time {
        if types.is_empty() {
            return Err(usage("a time range needs --type: the date column is in the type's table")
                .with_hint("e.g. --type fsc_rlie --since 2026-11-20 (each type's measurement date by default)")
                .into());
        }
        for t in &types {
            date_column_of(schema, t, range.column.as_deref())?;
        }
    }
    Ok(Resolved {
        schema: schema.to_owned(),
        selection: selection.clone(),
        types,
        known,
    })
}

/// The column a time range applies to in `job_type`'s table: `wanted`, or the
/// type's default.
fn date_column_of<'t>(
    schema: &str,
    job_type: &'t JobType,
    wanted: Option<&str>,
) -> Result<&'t DateColumn, CsiError> {
    let found = match wanted {
        Some(name) => job_type.column(name),
        None => job_type.default_date_column(),
    };
    found.ok_or_else(|| {
        let columns: Vec<&str> = job_type
            .date_columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let what = match wanted {
            Some(name) => format!("{schema}.{} has no date column `{name}`", job_type.table),
            None => format!(
                "{schema}.{} has no measurement or product date column for --since/--before",
                job_type.table
            ),
        };
        usage(what).with_hint(if columns.is_empty() {
            "it has no date column at all".to_owned()
        } else {
            format!(
                "its date columns: {} (choose one with --date-column)",
                columns.join(", ")
            )
        })
    })
}

/// A WHERE clause over `parent_jobs p` and its parameters, in order.
pub struct Filter {
    pub sql: String,
    pub params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Filter {
    fn param(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// The parameters as tokio-postgres wants them.
    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }

    /// Adds a condition with one more parameter (e.g. the keyset bound).
    pub fn and_param(&mut self, condition: &str, value: impl ToSql + Sync + Send + 'static) {
        let placeholder = self.param(value);
        let condition = condition.replace("{}", &placeholder);
        let _ = write!(self.sql, " and {condition}");
    }
}

impl Resolved {
    pub fn parent_jobs(&self) -> String {
        format!("{}.parent_jobs", quote_ident(&self.schema))
    }

    fn table(&self, t: &JobType) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&t.table))
    }

    /// `true and ...` over `parent_jobs p`.
    pub fn filter(&self) -> Filter {
        let mut f = Filter {
            sql: "true".to_owned(),
            params: Vec::new(),
        };
        let s = &self.selection;
        if !s.statuses.is_empty() {
            let ids: Vec<i16> = s.statuses.iter().map(|s| s.0).collect();
            let p = f.param(ids);
            let _ = write!(f.sql, " and p.last_status_id = any({p}::int2[])");
        }
        if !s.ids.is_empty() {
            let first: Vec<i64> = s.ids.iter().map(|r| r.first).collect();
            let last: Vec<i64> = s.ids.iter().map(|r| r.last).collect();
            let (a, b) = (f.param(first), f.param(last));
            let _ = write!(
                f.sql,
                " and exists (select 1 from unnest({a}::int8[], {b}::int8[]) r(first_id, last_id) \
                 where p.id between r.first_id and r.last_id)"
            );
        }
        if !s.tiles.is_empty() {
            let p = f.param(s.tiles.clone());
            let _ = write!(f.sql, " and p.tile_id = any({p}::text[])");
        }
        if !self.types.is_empty() {
            let mut per_type = Vec::new();
            for t in &self.types {
                let mut time = String::new();
                if let Some(range) = &s.time {
                    // Checked by resolve(); a type without the column matches nothing.
                    let Ok(column) = date_column_of(&self.schema, t, range.column.as_deref())
                    else {
                        per_type.push("false".to_owned());
                        continue;
                    };
                    let name = quote_ident(&column.name);
                    // Bound as timestamptz; a `timestamp` column holds UTC times.
                    let cast = if column.kind == "timestamp with time zone" {
                        ""
                    } else {
                        " at time zone 'UTC'"
                    };
                    if let Some(since) = range.since {
                        let p = f.param(since);
                        let _ = write!(time, " and t.{name} >= ({p}::timestamptz{cast})");
                    }
                    if let Some(before) = range.before {
                        let p = f.param(before);
                        let _ = write!(time, " and t.{name} < ({p}::timestamptz{cast})");
                    }
                }
                per_type.push(format!(
                    "exists (select 1 from {} t where t.fk_parent_job_id = p.id{time})",
                    self.table(t)
                ));
            }
            let _ = write!(f.sql, " and ({})", per_type.join(" or "));
        }
        f
    }

    /// Each job's type, as text: the name of the type whose table holds it.
    pub fn type_expression(&self) -> String {
        if self.known.is_empty() {
            return "null::text".to_owned();
        }
        let cases: Vec<String> = self
            .known
            .iter()
            .map(|t| {
                format!(
                    "when exists (select 1 from {} t where t.fk_parent_job_id = p.id) then {}",
                    self.table(t),
                    crate::database::dump::quote_literal(&t.name)
                )
            })
            .collect();
        format!("(case {} end)", cases.join(" "))
    }

    /// The selection's date column of a single type, as text, for listings.
    pub fn date_expression(&self) -> Option<(String, String)> {
        let [only] = self.types.as_slice() else {
            return None;
        };
        let wanted = self
            .selection
            .time
            .as_ref()
            .and_then(|r| r.column.as_deref());
        let column = date_column_of(&self.schema, only, wanted).ok()?;
        Some((
            column.name.clone(),
            format!(
                "(select t.{c}::text from {table} t where t.fk_parent_job_id = p.id order by 1 limit 1)",
                c = quote_ident(&column.name),
                table = self.table(only)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_ranges() {
        let ids = parse_ids(&["1,5-7".into(), "9".into()]).unwrap();
        assert_eq!(
            ids,
            vec![
                IdRange { first: 1, last: 1 },
                IdRange { first: 5, last: 7 },
                IdRange { first: 9, last: 9 }
            ]
        );
        assert!(parse_ids(&["7-5".into()]).is_err());
        assert!(parse_ids(&["x".into()]).is_err());
    }

    #[test]
    fn times_in_three_forms() {
        assert_eq!(
            parse_time("2026-11-20").unwrap().to_rfc3339(),
            "2026-11-20T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2026-11-20T10:30:00").unwrap().to_rfc3339(),
            "2026-11-20T10:30:00+00:00"
        );
        assert_eq!(
            parse_time("2026-11-20T10:30:00+01:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-20T09:30:00+00:00"
        );
        assert!(parse_time("yesterday").is_err());
    }

    fn fsc_rlie() -> JobType {
        JobType {
            name: "fsc_rlie".into(),
            table: "fsc_rlie_jobs".into(),
            date_columns: ["l1c_sensing_time", "measurement_date"]
                .into_iter()
                .map(|name| DateColumn {
                    name: name.into(),
                    kind: "timestamp without time zone".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn each_type_defaults_to_its_own_measurement_date() {
        let column = |names: &[&str]| {
            let t = JobType {
                name: "x".into(),
                table: "x_jobs".into(),
                date_columns: names
                    .iter()
                    .map(|n| DateColumn {
                        name: (*n).into(),
                        kind: "timestamp without time zone".into(),
                    })
                    .collect(),
            };
            t.default_date_column().map(|c| c.name.clone())
        };
        assert_eq!(
            column(&["fsc_completion_date", "measurement_date"]).as_deref(),
            Some("measurement_date")
        );
        assert_eq!(
            column(&["measurement_date_start", "measurement_date_end"]).as_deref(),
            Some("measurement_date_start")
        );
        assert_eq!(
            column(&["process_date", "measurement_date_rlies1s2"]).as_deref(),
            Some("measurement_date_rlies1s2")
        );
        assert_eq!(
            column(&["sensing_start_date", "product_date"]).as_deref(),
            Some("product_date")
        );
        assert_eq!(
            column(&["hydro_year", "first_product_measurement_date"]).as_deref(),
            Some("first_product_measurement_date")
        );
        assert_eq!(column(&[]), None);
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let resolved = Resolved {
            schema: "cosims".into(),
            selection: Selection {
                types: vec!["fsc_rlie".into()],
                statuses: vec![Status(13)],
                ids: vec![IdRange { first: 1, last: 9 }],
                tiles: vec!["32TLR'; drop table x; --".into()],
                time: Some(TimeRange {
                    column: None,
                    since: Some(parse_time("2026-11-20").unwrap()),
                    before: None,
                }),
            },
            types: vec![fsc_rlie()],
            known: vec![fsc_rlie()],
        };
        let f = resolved.filter();
        assert!(!f.sql.contains("32TLR"), "{}", f.sql);
        assert_eq!(f.params.len(), 5);
        assert!(
            f.sql.contains("\"cosims\".\"fsc_rlie_jobs\" t"),
            "{}",
            f.sql
        );
        assert!(
            f.sql
                .contains("t.\"measurement_date\" >= ($5::timestamptz at time zone 'UTC')"),
            "{}",
            f.sql
        );
    }
}
