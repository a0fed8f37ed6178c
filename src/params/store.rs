//! Reading the one row of system_parameters, and writing values to it: one
//! transaction, typed parameters, the old values checked under a row lock, and the
//! new ones read back.

use std::collections::BTreeMap;

use anyhow::Context as _;
use serde::Serialize;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient};

use super::catalog::{Catalog, Column};
use super::value::Value;
use crate::error::{precondition, verification};

/// The row as PostgreSQL prints it (`col::text`), by column name; None is NULL.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot(pub BTreeMap<String, Option<String>>);

impl Snapshot {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.as_deref())
    }
}

/// A value to write into a column.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub column: Column,
    pub value: Value,
}

/// One column's old and new value, as PostgreSQL prints them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    pub name: String,
    #[serde(rename = "type")]
    pub sql_type: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Change {
    pub fn changes(&self) -> bool {
        self.old != self.new
    }
}

pub async fn read(client: &impl GenericClient, catalog: &Catalog) -> anyhow::Result<Snapshot> {
    read_locked(client, catalog, false).await
}

async fn read_locked(
    client: &impl GenericClient,
    catalog: &Catalog,
    for_update: bool,
) -> anyhow::Result<Snapshot> {
    let columns: Vec<String> = catalog
        .columns
        .iter()
        .map(|c| format!("{}::text", c.ident()))
        .collect();
    let sql = format!(
        "SELECT {} FROM {}{}",
        columns.join(", "),
        catalog.table(),
        if for_update { " FOR UPDATE" } else { "" }
    );
    let rows = client
        .query(sql.as_str(), &[])
        .await
        .with_context(|| format!("reading {}", catalog.table()))?;
    if rows.len() != 1 {
        return Err(precondition(format!(
            "{} holds {} rows where exactly one is expected",
            catalog.table(),
            rows.len()
        ))
        .into());
    }
    let row = &rows[0];
    Ok(Snapshot(
        catalog
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let source = format!("{}.{}", catalog.table(), c.name);
                Ok((
                    c.name.clone(),
                    crate::database::decode::get::<Option<String>>(row, i, &source)?,
                ))
            })
            .collect::<anyhow::Result<_>>()?,
    ))
}

/// How PostgreSQL prints each value once stored, so old and new compare exactly.
async fn canonical(
    client: &Client,
    assignments: &[Assignment],
) -> anyhow::Result<Vec<Option<String>>> {
    if assignments.is_empty() {
        return Ok(Vec::new());
    }
    let (types, columns) = bind_types(assignments)?;
    let select: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("CAST({} AS text)", c.placeholder(i + 1)))
        .collect();
    let statement = client
        .prepare_typed(&format!("SELECT {}", select.join(", ")), &types)
        .await?;
    let values = bound(assignments);
    let row = client
        .query_one(&statement, &as_params(&values))
        .await
        .context("checking the values with PostgreSQL")?;
    (0..assignments.len())
        .map(|i| crate::database::decode::get(&row, i, "the canonical form of a value"))
        .collect()
}

/// The old and new value of every assignment; unchanged ones included.
pub async fn plan(
    client: &Client,
    catalog: &Catalog,
    assignments: &[Assignment],
) -> anyhow::Result<Vec<Change>> {
    let current = read(client, catalog).await?;
    let new = canonical(client, assignments).await?;
    Ok(assignments
        .iter()
        .zip(new)
        .map(|(a, new)| Change {
            name: a.column.name.clone(),
            sql_type: a.column.sql_type.clone(),
            old: current.get(&a.column.name).map(str::to_owned),
            new,
        })
        .collect())
}

/// Writes the assignments whose planned change is real, in one transaction; refuses
/// when a value changed since the plan was made; reads the row back.
pub async fn write(
    client: &mut Client,
    catalog: &Catalog,
    assignments: &[Assignment],
    planned: &[Change],
) -> anyhow::Result<Vec<Change>> {
    let to_write: Vec<(&Assignment, &Change)> = assignments
        .iter()
        .zip(planned)
        .filter(|(_, change)| change.changes())
        .collect();
    if to_write.is_empty() {
        return Ok(Vec::new());
    }
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL lock_timeout = '15s'").await?;
    let current = read_locked(&tx, catalog, true).await?;
    for (_, change) in &to_write {
        let now = current.get(&change.name);
        if now != change.old.as_deref() {
            return Err(precondition(format!(
                "`{}` changed meanwhile: it was {} and is now {}; nothing was written",
                change.name,
                shown(change.old.as_deref()),
                shown(now)
            ))
            .with_hint("run the command again to see the new values")
            .into());
        }
    }
    let chosen: Vec<Assignment> = to_write.iter().map(|(a, _)| (*a).clone()).collect();
    let (types, columns) = bind_types(&chosen)?;
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = {}", c.ident(), c.placeholder(i + 1)))
        .collect();
    let statement = tx
        .prepare_typed(
            &format!("UPDATE {} SET {}", catalog.table(), sets.join(", ")),
            &types,
        )
        .await?;
    let values = bound(&chosen);
    let updated = tx
        .execute(&statement, &as_params(&values))
        .await
        .with_context(|| format!("updating {}", catalog.table()))?;
    if updated != 1 {
        return Err(precondition(format!(
            "the update touched {updated} rows of {}; rolled back",
            catalog.table()
        ))
        .into());
    }
    tx.commit()
        .await
        .with_context(|| format!("committing the update of {}", catalog.table()))?;
    let after = read(client, catalog).await?;
    let written: Vec<Change> = to_write.iter().map(|(_, c)| (*c).clone()).collect();
    for change in &written {
        if after.get(&change.name) != change.new.as_deref() {
            return Err(verification(format!(
                "`{}` reads back as {} after writing {}",
                change.name,
                shown(after.get(&change.name)),
                shown(change.new.as_deref())
            ))
            .into());
        }
    }
    Ok(written)
}

fn bind_types(
    assignments: &[Assignment],
) -> anyhow::Result<(Vec<tokio_postgres::types::Type>, Vec<&Column>)> {
    let mut types = Vec::new();
    for a in assignments {
        types.push(a.column.kind.bind_type().ok_or_else(|| {
            crate::error::usage(format!(
                "`{}` has type {}, which csi does not write",
                a.column.name, a.column.sql_type
            ))
        })?);
    }
    Ok((types, assignments.iter().map(|a| &a.column).collect()))
}

fn bound(assignments: &[Assignment]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    assignments
        .iter()
        .map(|a| a.value.bind(&a.column))
        .collect()
}

fn as_params(values: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// A value for the operator's eyes: `null` for NULL, and the password of a URL
/// (`amqp://user:secret@host`) masked.
pub fn shown(value: Option<&str>) -> String {
    match value {
        None => "null".into(),
        Some(text) => mask_url_password(text),
    }
}

fn mask_url_password(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_owned();
    };
    let rest = &text[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:********{}",
            &text[..scheme_end + 3],
            &authority[..colon],
            &text[scheme_end + 3 + at..]
        ),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            shown(Some("amqp://cosims:s3cret@rabbit:5672/x")),
            "amqp://cosims:********@rabbit:5672/x"
        );
        assert_eq!(
            shown(Some("amqp://rabbit:5672/cosims")),
            "amqp://rabbit:5672/cosims"
        );
        assert_eq!(shown(None), "null");
    }
}
