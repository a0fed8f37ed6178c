//! `system_parameters_history`: a copy of the whole row at every insert or update.
//! Consecutive copies are compared to say which column changed, from what to what,
//! and when.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use super::catalog::{quote_ident, table_columns, Catalog, Column, ParamType, HISTORY_TABLE};
use crate::database::decode;
use crate::error::precondition;

#[derive(Debug, Clone, Serialize)]
pub struct HistoryChange {
    pub time: DateTime<Utc>,
    pub name: String,
    pub old: Option<String>,
    pub new: Option<String>,
    /// The first copy in the history: `old` is unknown.
    pub initial: bool,
}

/// Every change of `only` (or of every parameter), oldest first. The first copy's
/// values count as changes only when one parameter is asked for.
pub async fn changes(
    client: &Client,
    catalog: &Catalog,
    only: Option<&Column>,
) -> anyhow::Result<Vec<HistoryChange>> {
    let history = table_columns(client, &catalog.schema, HISTORY_TABLE).await?;
    if history.is_empty() {
        return Err(precondition(format!(
            "there is no table {}.{HISTORY_TABLE} in the database",
            catalog.schema
        ))
        .into());
    }
    let time = history
        .iter()
        .find(|c| {
            catalog.find(&c.name).is_none()
                && matches!(c.kind, ParamType::Timestamp | ParamType::TimestampTz)
        })
        .ok_or_else(|| {
            precondition(format!(
                "{}.{HISTORY_TABLE} has no timestamp column of its own",
                catalog.schema
            ))
        })?;
    let tracked: Vec<&Column> = history
        .iter()
        .filter(|c| catalog.find(&c.name).is_some())
        .filter(|c| only.map_or(true, |o| o.name == c.name))
        .collect();
    // Copies made in the same instant keep their insertion order: the history's own
    // id (production: `history_id`; `id` there is the parameters' row id, always 1).
    let order_key = ["history_id", "id"]
        .into_iter()
        .find(|key| history.iter().any(|c| c.name == *key) && catalog.find(key).is_none())
        .filter(|key| *key == "history_id" || !history.iter().any(|c| c.name == "history_id"));
    let time_expr = match time.kind {
        ParamType::TimestampTz => time.ident(),
        _ => format!("{} AT TIME ZONE 'UTC'", time.ident()),
    };
    let mut select = vec![time_expr];
    select.extend(tracked.iter().map(|c| format!("{}::text", c.ident())));
    let sql = format!(
        "SELECT {} FROM {}.{} ORDER BY {}{}",
        select.join(", "),
        quote_ident(&catalog.schema),
        quote_ident(HISTORY_TABLE),
        time.ident(),
        order_key
            .map(|k| format!(", {}", quote_ident(k)))
            .unwrap_or_default()
    );
    let rows = client
        .query(sql.as_str(), &[])
        .await
        .with_context(|| format!("reading {}.{HISTORY_TABLE}", catalog.schema))?;
    let mut out = Vec::new();
    let mut previous: Option<Vec<Option<String>>> = None;
    let source = format!("{}.{HISTORY_TABLE}", catalog.schema);
    for row in rows {
        let when: DateTime<Utc> = decode::get(&row, 0, &format!("{source}.{}", time.name))?;
        let values = (1..=tracked.len())
            .map(|i| {
                decode::get::<Option<String>>(&row, i, &format!("{source}.{}", tracked[i - 1].name))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (i, column) in tracked.iter().enumerate() {
            match &previous {
                Some(before) if before[i] != values[i] => out.push(HistoryChange {
                    time: when,
                    name: column.name.clone(),
                    old: before[i].clone(),
                    new: values[i].clone(),
                    initial: false,
                }),
                None if only.is_some() => out.push(HistoryChange {
                    time: when,
                    name: column.name.clone(),
                    old: None,
                    new: values[i].clone(),
                    initial: true,
                }),
                _ => {}
            }
        }
        previous = Some(values);
    }
    Ok(out)
}
