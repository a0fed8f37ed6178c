//! Schema patches: a SQL file split into statements (with their lines), checked for
//! what cannot run in one transaction, rehearsed on a scratch copy of the schema,
//! applied in one transaction, and recorded in a ledger so that it is applied once.
//! Nothing here knows about the command line.

mod analyse;
mod apply;
pub mod ledger;
mod rehearse;
mod run;
mod split;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use apply::{apply, connect, env_facts, verify};
pub use ledger::{Entry, Record};
pub use rehearse::{rehearse, EnvFacts, Rehearsal, RehearsalRequest, ScratchPlace};
pub use run::{run, Applied, StatementFailed};
pub use split::{split, Kind, SplitError, Statement};

use crate::error::{precondition, usage, CsiError};

/// A patch file, read and analysed.
#[derive(Debug, Clone)]
pub struct Patch {
    pub path: PathBuf,
    /// The name the ledger knows it by (the file's name, without its directory).
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// The SQL statements, in order (meta-commands left out).
    pub statements: Vec<Statement>,
    /// Statements PostgreSQL refuses inside a transaction block.
    pub non_transactional: Vec<Found>,
    /// BEGIN/COMMIT/ROLLBACK written in the patch itself.
    pub transaction_control: Vec<Found>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub line: usize,
    pub what: String,
}

impl Patch {
    /// Reads and splits the file; what csi cannot run (psql meta-commands other than
    /// `\set ON_ERROR_STOP`, `COPY ... FROM STDIN`) is refused with its line.
    pub fn load(path: &Path) -> Result<Patch, CsiError> {
        let bytes = fs_err::read(path).map_err(|e| usage(format!("cannot read the patch: {e}")))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| usage(format!("{} is not a file", path.display())))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            usage(format!(
                "{}: the patch is not UTF-8 text ({e})",
                path.display()
            ))
        })?;
        let all = split(text).map_err(|e| {
            usage(format!("{}:{}: {}", path.display(), e.line, e.message)).with_hint(
                "the patch must be complete SQL: close every string, comment and $$ body",
            )
        })?;
        let location = |line: usize| format!("{}:{line}", path.display());
        let mut statements = Vec::new();
        for s in all {
            match s.kind {
                Kind::Meta if analyse::harmless_meta(&s) => {}
                Kind::Meta => {
                    return Err(usage(format!(
                        "{}: psql meta-command `{}` in the patch",
                        location(s.line),
                        s.head()
                    ))
                    .with_hint(
                        "csi runs the patch's SQL itself, not through psql: keep to SQL statements",
                    ))
                }
                Kind::Sql if analyse::copy_from_stdin(&s) => {
                    return Err(usage(format!(
                        "{}: COPY ... FROM STDIN with inline data in the patch",
                        location(s.line)
                    ))
                    .with_hint("write the rows as INSERT statements"))
                }
                Kind::Sql => statements.push(s),
            }
        }
        if statements.is_empty() {
            return Err(usage(format!(
                "{}: the patch has no SQL statement",
                path.display()
            )));
        }
        let found = |f: fn(&Statement) -> Option<&'static str>| {
            statements
                .iter()
                .filter_map(|s| {
                    f(s).map(|what| Found {
                        line: s.line,
                        what: what.to_owned(),
                    })
                })
                .collect::<Vec<_>>()
        };
        Ok(Patch {
            path: path.to_path_buf(),
            non_transactional: found(analyse::non_transactional),
            transaction_control: found(analyse::transaction_control),
            file_name,
            bytes,
            statements,
        })
    }

    /// `patch/042_x.sql:12`
    pub fn location(&self, line: usize) -> String {
        format!("{}:{line}", self.path.display())
    }

    /// Refuses what cannot run as asked: a non-transactional statement without
    /// `--no-transaction`, and BEGIN/COMMIT in a patch csi wraps in its own transaction.
    pub fn check_mode(&self, transactional: bool) -> Result<(), CsiError> {
        if !transactional {
            return Ok(());
        }
        if let Some(first) = self.non_transactional.first() {
            let others: Vec<String> = self.non_transactional[1..]
                .iter()
                .map(|f| format!("line {} ({})", f.line, f.what))
                .collect();
            let others = if others.is_empty() {
                String::new()
            } else {
                format!(" (also: {})", others.join(", "))
            };
            return Err(precondition(format!(
                "{}: {} cannot run inside a transaction block, and csi applies a patch in one \
                 transaction; nothing was run{others}",
                self.location(first.line),
                first.what,
            ))
            .with_hint(
                "re-run with --no-transaction: the statements then run one by one, and a failure \
                 leaves the earlier ones applied (keep such statements in a patch of their own)",
            ));
        }
        if let Some(first) = self.transaction_control.first() {
            return Err(precondition(format!(
                "{}: the patch controls its own transaction ({}); nothing was run",
                self.location(first.line),
                first.what
            ))
            .with_hint("remove BEGIN/COMMIT: csi runs the whole patch in one transaction (or use --no-transaction)"));
        }
        Ok(())
    }
}

/// `user@host`, for the ledger.
pub fn applied_by() -> String {
    let me = crate::lock::LockInfo::for_this_process("db-patch");
    format!("{}@{}", me.user, me.host)
}

/// csi's version, for the ledger.
pub const CSI_VERSION: &str = env!("CARGO_PKG_VERSION");
