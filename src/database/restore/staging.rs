//! The staging schema of a parallel restore: its name, and dropping it (on failure,
//! or when an earlier restore was killed and left one behind).

use crate::database::dump::{quote_ident, quote_literal};

use crate::database::Target;

/// The staging schema of this run: `<schema>_csi_restore_<pid>`.
pub fn staging_name(schema: &str) -> String {
    format!("{}{}", prefix(schema), std::process::id())
}

fn prefix(schema: &str) -> String {
    format!("{schema}_csi_restore_")
}

/// Drops the staging schemas of restores that did not finish; returns their names.
/// Only csi names schemas so, and the environment's lock keeps two restores apart.
pub async fn drop_leftovers(target: &Target, schema: &str) -> anyhow::Result<Vec<String>> {
    let client = target.connect().await?;
    let pattern = format!(
        "{}%",
        prefix(schema)
            .replace('\\', "\\\\")
            .replace('_', "\\_")
            .replace('%', "\\%")
    );
    let rows = client
        .query(
            "SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname LIKE $1 ORDER BY 1",
            &[&pattern],
        )
        .await?;
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        drop_with(&client, &name).await?;
        dropped.push(name);
    }
    Ok(dropped)
}

/// Drops this run's staging schema, if it exists.
pub async fn drop_staging(target: &Target, staging: &str) -> anyhow::Result<()> {
    let client = target.connect().await?;
    drop_with(&client, staging).await
}

/// Ends the sessions still working in the schema (a connection of the restore whose
/// backend has not noticed yet that psql is gone), then drops it.
async fn drop_with(client: &tokio_postgres::Client, schema: &str) -> anyhow::Result<()> {
    let terminate = format!(
        "SELECT pg_catalog.pg_terminate_backend(l.pid) FROM pg_catalog.pg_locks l \
         JOIN pg_catalog.pg_class c ON l.locktype = 'relation' AND c.oid = l.relation \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = {} AND l.pid <> pg_catalog.pg_backend_pid() GROUP BY l.pid",
        quote_literal(schema)
    );
    client.batch_execute(&terminate).await?;
    client
        .batch_execute(&format!(
            "SET lock_timeout = '60s'; DROP SCHEMA IF EXISTS {} CASCADE",
            quote_ident(schema)
        ))
        .await?;
    Ok(())
}
