//! What a command needs of the schema, checked before it writes anything: a table (or
//! view) with the columns it reads, a trigger it relies on. A schema that lacks one is a
//! one-line error naming it and what the command needed it for (exit 4), never a
//! PostgreSQL error halfway through a command.

use crate::database::decode;
use crate::database::dump::quote_ident;
use crate::database::pg_error::PgContext;
use crate::error::precondition;

/// A table the command needs, and what for (`csi env jobs reads the job statuses`).
#[derive(Debug, Clone)]
pub struct Needed {
    pub schema: String,
    pub table: String,
    pub purpose: String,
}

impl Needed {
    pub fn new(schema: &str, table: &str, purpose: &str) -> Self {
        Needed {
            schema: schema.to_owned(),
            table: table.to_owned(),
            purpose: purpose.to_owned(),
        }
    }

    /// `schema.table` as written in messages.
    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// `schema.table` quoted for SQL.
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

const HINT: &str = "the database's schema is not production's (init_database.sql); \
                    check database.schema in csi.hcl, or load the schema";

/// The table (or view) exists and has every one of `columns`.
pub async fn require_columns(
    client: &tokio_postgres::Client,
    needed: &Needed,
    columns: &[&str],
) -> anyhow::Result<()> {
    let rows = client
        .query(
            "select column_name::text from information_schema.columns \
             where table_schema = $1 and table_name = $2",
            &[&needed.schema, &needed.table],
        )
        .await
        .pg_context(format!("reading the columns of {}", needed.display()))?;
    let present = rows
        .iter()
        .map(|r| decode::get::<String>(r, 0, "information_schema.columns.column_name"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if present.is_empty() {
        return Err(precondition(format!(
            "the schema has no table {}: {}",
            needed.display(),
            needed.purpose
        ))
        .with_hint(HINT)
        .into());
    }
    let missing: Vec<&str> = columns
        .iter()
        .filter(|c| !present.iter().any(|p| p == *c))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(precondition(format!(
            "{} has no column {}: {}",
            needed.display(),
            missing
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", "),
            needed.purpose
        ))
        .with_hint(HINT)
        .into());
    }
    Ok(())
}

/// A user trigger named `trigger` on the table, firing on insert.
pub async fn require_insert_trigger(
    client: &tokio_postgres::Client,
    needed: &Needed,
    trigger: &str,
) -> anyhow::Result<()> {
    let row = client
        .query_one(
            "select count(*) from pg_trigger t \
             join pg_class c on c.oid = t.tgrelid \
             join pg_namespace n on n.oid = c.relnamespace \
             where n.nspname = $1 and c.relname = $2 and t.tgname = $3 \
               and not t.tgisinternal and t.tgenabled <> 'D' \
               and (t.tgtype & 4) <> 0",
            &[&needed.schema, &needed.table, &trigger],
        )
        .await
        .pg_context(format!("looking for the trigger {trigger}"))?;
    if decode::get::<i64>(&row, 0, "pg_trigger count")? == 0 {
        return Err(precondition(format!(
            "{} has no (enabled) insert trigger {trigger}: {}",
            needed.display(),
            needed.purpose
        ))
        .with_hint(HINT)
        .into());
    }
    Ok(())
}
