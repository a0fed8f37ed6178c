//! The patch ledger: `csi.csi_patch_ledger` in the environment's database, one row
//! per applied patch (file name, checksum, when, by whom, csi's version), written in
//! the same transaction as the patch. A name is applied once; a different file under
//! an applied name is refused.

use crate::database::decode;
use crate::database::pg_error::PgContext;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::database::pg_error;
use crate::error::{failed, precondition, CsiError};

pub const SCHEMA: &str = "csi";
pub const TABLE: &str = "csi.csi_patch_ledger";

const CREATE_TABLE: &str = "create table csi.csi_patch_ledger (
    id             bigint generated always as identity primary key,
    file_name      text not null unique,
    checksum       text not null,
    applied_at     timestamptz not null default now(),
    applied_by     text not null,
    csi_version    text not null,
    statements     integer not null,
    transactional  boolean not null,
    rehearsed      boolean not null,
    safety_archive text
)";

const COLUMNS: &str = "id, file_name, checksum, applied_at, applied_by, csi_version, \
                       statements, transactional, rehearsed, safety_archive";

/// A row of the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub file_name: String,
    /// SHA-256 of the file's bytes, hex.
    pub checksum: String,
    pub applied_at: DateTime<Utc>,
    pub applied_by: String,
    pub csi_version: String,
    pub statements: i32,
    pub transactional: bool,
    pub rehearsed: bool,
    pub safety_archive: Option<String>,
}

/// What is written for a patch being applied.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub file_name: String,
    pub checksum: String,
    pub applied_by: String,
    pub csi_version: String,
    pub statements: i32,
    pub transactional: bool,
    pub rehearsed: bool,
    pub safety_archive: Option<String>,
}

fn entry(row: &tokio_postgres::Row) -> anyhow::Result<Entry> {
    Ok(Entry {
        id: decode::get(row, 0, "csi_patch_ledger.id")?,
        file_name: decode::get(row, 1, "csi_patch_ledger.file_name")?,
        checksum: decode::get(row, 2, "csi_patch_ledger.checksum")?,
        applied_at: decode::get(row, 3, "csi_patch_ledger.applied_at")?,
        applied_by: decode::get(row, 4, "csi_patch_ledger.applied_by")?,
        csi_version: decode::get(row, 5, "csi_patch_ledger.csi_version")?,
        statements: decode::get(row, 6, "csi_patch_ledger.statements")?,
        transactional: decode::get(row, 7, "csi_patch_ledger.transactional")?,
        rehearsed: decode::get(row, 8, "csi_patch_ledger.rehearsed")?,
        safety_archive: decode::get(row, 9, "csi_patch_ledger.safety_archive")?,
    })
}

/// SHA-256 of the patch file's bytes, lower-case hex (what PostgreSQL's
/// `encode(sha256(...), 'hex')` gives, so ledgers written either way compare equal).
pub fn checksum(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn exists(client: &impl GenericClient) -> anyhow::Result<bool> {
    let row = client
        .query_one("select to_regclass($1) is not null", &[&TABLE])
        .await
        .map_err(|e| access(e, "looking for the patch ledger"))?;
    decode::get(&row, 0, "to_regclass")
}

/// Every applied patch, oldest first; empty when there is no ledger yet.
pub async fn list(client: &impl GenericClient) -> anyhow::Result<Vec<Entry>> {
    if !exists(client).await? {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            &format!("select {COLUMNS} from {TABLE} order by applied_at, id"),
            &[],
        )
        .await
        .map_err(|e| access(e, "reading the patch ledger"))?;
    rows.iter().map(entry).collect()
}

/// The ledger's row for this file name, and the rows of other names with the same
/// checksum (the same patch applied under another name).
pub async fn lookup(
    client: &impl GenericClient,
    file_name: &str,
    checksum: &str,
) -> anyhow::Result<(Option<Entry>, Vec<Entry>)> {
    if !exists(client).await? {
        return Ok((None, Vec::new()));
    }
    let rows = client
        .query(
            &format!(
                "select {COLUMNS} from {TABLE} where file_name = $1 or checksum = $2 order by id"
            ),
            &[&file_name, &checksum],
        )
        .await
        .map_err(|e| access(e, "reading the patch ledger"))?;
    let (same, others): (Vec<Entry>, Vec<Entry>) = rows
        .iter()
        .map(entry)
        .collect::<anyhow::Result<Vec<_>>>()?
        .into_iter()
        .partition(|e| e.file_name == file_name);
    Ok((same.into_iter().next(), others))
}

/// Refuses a patch whose name is in the ledger: the same file (already applied) or,
/// loudly, another file under an applied name.
pub fn refuse_applied(
    found: Option<&Entry>,
    file_name: &str,
    checksum: &str,
) -> Result<(), CsiError> {
    let Some(entry) = found else { return Ok(()) };
    let when = entry.applied_at.format("%Y-%m-%d %H:%M:%S UTC");
    if entry.checksum == checksum {
        return Err(precondition(format!(
            "patch {file_name} was already applied at {when} by {} (csi {}): it is not applied twice",
            entry.applied_by, entry.csi_version
        ))
        .with_hint("`csi env db-patch <env> --list` shows the ledger"));
    }
    Err(precondition(format!(
        "REFUSED: a DIFFERENT file named {file_name} was applied at {when} by {}: its checksum was {}, \
         this file's is {checksum}. The applied patch was edited afterwards, or two patches share a name",
        entry.applied_by, entry.checksum
    ))
    .with_hint(
        "an applied patch is never changed: put the new statements in a new patch file with a new name",
    ))
}

/// Creates csi's schema and the ledger when missing (checked first, so that a role
/// without CREATE on the database works once they exist), then locks the ledger so
/// that two applies of the same patch cannot interleave.
pub async fn prepare(client: &impl GenericClient) -> anyhow::Result<()> {
    let row = client
        .query_one("select to_regnamespace($1) is not null", &[&SCHEMA])
        .await
        .pg_context("looking for csi's schema")?;
    let schema_exists: bool = decode::get(&row, 0, "to_regnamespace")?;
    if !schema_exists {
        client
            .batch_execute(&format!("create schema {SCHEMA}"))
            .await
            .pg_context("creating csi's schema for the patch ledger")?;
    }
    if !exists(client).await? {
        client
            .batch_execute(CREATE_TABLE)
            .await
            .pg_context("creating the patch ledger")?;
    }
    client
        .batch_execute(&format!("lock table {TABLE} in share row exclusive mode"))
        .await
        .map_err(|e| access(e, "locking the patch ledger"))
}

pub async fn insert(client: &impl GenericClient, record: &Record) -> anyhow::Result<Entry> {
    let row = client
        .query_one(
            &format!(
                "insert into {TABLE} (file_name, checksum, applied_by, csi_version, statements, \
                 transactional, rehearsed, safety_archive) values ($1, $2, $3, $4, $5, $6, $7, $8) \
                 returning {COLUMNS}"
            ),
            &[
                &record.file_name,
                &record.checksum,
                &record.applied_by,
                &record.csi_version,
                &record.statements,
                &record.transactional,
                &record.rehearsed,
                &record.safety_archive,
            ],
        )
        .await
        .map_err(|e| access(e, "recording the patch in the ledger"))?;
    entry(&row)
}

/// A permission problem on csi's schema is a precondition with what to grant.
fn access(error: tokio_postgres::Error, what: &str) -> anyhow::Error {
    let message = format!("{what}: {}", pg_error::message(&error));
    if error.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
        precondition(message)
            .with_hint(format!(
                "the ledger belongs to another role: grant usage on schema {SCHEMA} and select, insert \
                 on {TABLE} to the role csi connects as"
            ))
            .into()
    } else {
        failed(message).into()
    }
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn checksum_is_sha256_in_lower_case_hex() {
        assert_eq!(
            checksum(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
