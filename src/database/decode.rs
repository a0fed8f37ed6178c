//! Reading values out of rows without panicking: whatever PostgreSQL sends, an
//! unexpected type or a NULL where a value is needed is a one-line error naming
//! the table, the column and the type found (exit 1), never a panic.

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Row;

use crate::error::failed;

/// `cosims.parent_jobs.last_status_id is of type text, csi expected i16: ...`
fn mismatch(
    row: &Row,
    index: usize,
    source: &str,
    expected: &str,
    error: &dyn std::fmt::Display,
) -> anyhow::Error {
    let found = row.columns().get(index).map_or_else(
        || "nothing (no such column in the answer)".to_owned(),
        |c| c.type_().name().to_owned(),
    );
    failed(format!(
        "{source} is of type {found}, csi expected {expected}: {error}"
    ))
    .with_hint("the database's schema is not the one csi knows; `csi env check` compares them")
    .into()
}

/// Column `index` of `row`, which holds `source` (`schema.table.column`).
pub fn get<'a, T: FromSql<'a>>(row: &'a Row, index: usize, source: &str) -> anyhow::Result<T> {
    row.try_get::<_, T>(index)
        .map_err(|e| mismatch(row, index, source, &short_type_name::<T>(), &e))
}

/// A `timestamp` (taken as UTC, as production writes them) or a `timestamptz`.
pub fn timestamp(row: &Row, index: usize, source: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
    let kind = row.columns().get(index).map(|c| c.type_().clone());
    match kind {
        Some(Type::TIMESTAMP) => {
            Ok(get::<Option<NaiveDateTime>>(row, index, source)?.map(|t| t.and_utc()))
        }
        _ => get::<Option<DateTime<Utc>>>(row, index, source),
    }
}

/// `Option<DateTime<Utc>>` rather than its full path.
fn short_type_name<T>() -> String {
    let mut out = String::new();
    let mut word = String::new();
    let mut rest = std::any::type_name::<T>();
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("::") {
            word.clear();
            rest = &rest[2..];
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            out.push_str(&word);
            word.clear();
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&word);
    out
}
