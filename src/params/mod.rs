//! The system parameters: the one row of `<schema>.system_parameters`, typed by the
//! database catalog (never by a list in csi), its history, and the `job_types_list`
//! codec.

mod catalog;
mod history;
pub mod images;
pub mod job_types;
mod store;
mod value;

pub use catalog::{closest, quote_ident, Catalog, Column, ParamType, HISTORY_TABLE, TABLE};
pub use history::{changes as history, HistoryChange};
pub use store::{plan, read, shown, write, Assignment, Change, Snapshot};
pub use value::{expected, naive_timestamp, parse, Value};

use crate::error::CsiError;

/// Parses an operator's `NAME VALUE`: the column from the catalog, the value as its
/// type; `job_types_list` checked against the known job types and written in the
/// style the row already holds.
pub fn assignment(
    catalog: &Catalog,
    current: &Snapshot,
    known_job_types: &[String],
    name: &str,
    input: &str,
) -> Result<Assignment, CsiError> {
    let column = catalog.column(name)?.clone();
    let value = if column.name == job_types::COLUMN && !input.trim().eq_ignore_ascii_case("null") {
        let text = job_types::normalise(input, current.get(name), known_job_types)?;
        parse(&column, &text)?
    } else {
        parse(&column, input)?
    };
    Ok(Assignment { column, value })
}

/// The job types of the schema's per-type tables; when it has none, those of the
/// row and of the configured waves.
pub fn known_job_types(
    catalog: &Catalog,
    current: &Snapshot,
    waves: &[Vec<String>],
) -> Vec<String> {
    if !catalog.job_types.is_empty() {
        return catalog.job_types.clone();
    }
    let mut known: Vec<String> = current
        .get(job_types::COLUMN)
        .and_then(|text| job_types::parse(text).ok())
        .map(|(types, _)| types)
        .unwrap_or_default();
    for t in waves.iter().flatten() {
        if !known.contains(t) {
            known.push(t.clone());
        }
    }
    known
}

/// The environment's database, for reading and writing its parameters.
pub async fn connect(
    settings: &crate::settings::Settings,
) -> anyhow::Result<tokio_postgres::Client> {
    crate::database::connect_required(&settings.database, std::time::Duration::from_secs(10)).await
}
