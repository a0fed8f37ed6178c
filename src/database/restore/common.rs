//! What both kinds of load share: following the dump's sections, accounting for what
//! is skipped, the tables loaded, progress, the abort flag, and the verdict at the end
//! of the stream (may csi commit?).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use super::progress::Progress;
use super::report::Report;
use super::sql;
use super::writer::{LineMap, SqlWriter};
use crate::database::dump::SetVal;
use crate::database::dump::{
    created_database, ending_problems, leading_keywords, structure_problems, Marker, Meta, Place,
    QualifiedName, ScanEnd, Sections,
};
use crate::error::{failed, CsiError, Kind};

/// A table whose rows were sent to PostgreSQL.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct TableLoad {
    pub name: QualifiedName,
    /// The table as SQL (quoted as needed).
    #[serde(skip)]
    pub sql: String,
    /// Dump line of its (first) COPY header.
    pub header_line: u64,
    pub rows: u64,
}

/// Where the rows of the current COPY block go.
#[derive(Debug, Clone)]
pub enum Copying {
    /// To psql, into `tables[index]`; with a column projection for a selective load.
    Load {
        index: usize,
        keep: Option<Vec<usize>>,
    },
    Skip,
}

/// The end of a load, handed back to the supervisor.
pub struct Loaded<W: Write> {
    pub writer: SqlWriter<W>,
    pub tables: Vec<TableLoad>,
    pub report: Report,
    /// Reasons not to commit; empty when the dump was complete and fully read.
    pub problems: Vec<CsiError>,
}

pub struct Stream<W: Write> {
    pub out: SqlWriter<W>,
    pub sections: Sections,
    /// The database of the dump being restored.
    pub source_db: String,
    pub report: Report,
    pub tables: Vec<TableLoad>,
    pub copying: Option<Copying>,
    pub progress: Arc<Progress>,
    abort: Arc<AtomicBool>,
    /// csi's transaction was opened (the source database's section began).
    pub started: bool,
    /// The source database's trailer was seen and the checks were written.
    pub finished: bool,
    /// Statements outside any database, counted for the report.
    databases_created: Vec<String>,
    /// What psql prints when it has run everything csi sent before COMMIT.
    pub ready_marker: String,
    /// The sequence values the dump sets (`setval`), checked after loading.
    pub setvals: Vec<SetVal>,
}

/// The handler was stopped on purpose (Ctrl-C): not an error of the dump.
#[derive(Debug, thiserror::Error)]
#[error("the load was stopped")]
pub struct Aborted;

impl<W: Write> Stream<W> {
    pub fn new(out: W, source_db: &str, progress: Arc<Progress>, abort: Arc<AtomicBool>) -> Self {
        Stream {
            out: SqlWriter::new(out),
            sections: Sections::default(),
            source_db: source_db.to_owned(),
            report: Report::default(),
            tables: Vec::new(),
            copying: None,
            progress,
            abort,
            started: false,
            finished: false,
            databases_created: Vec::new(),
            ready_marker: "csi-ready".to_owned(),
            setvals: Vec::new(),
        }
    }

    pub fn check_abort(&self) -> anyhow::Result<()> {
        if self.abort.load(Ordering::Relaxed) {
            Err(Aborted.into())
        } else {
            Ok(())
        }
    }

    /// In the source database's dump, after csi's transaction began.
    pub fn loading(&self) -> bool {
        self.started && !self.finished && self.sections.in_database(&self.source_db)
    }

    /// Accounts for a statement outside the source database; true if it was one.
    pub fn outside(&mut self, text: &[u8]) -> bool {
        match self.sections.place() {
            Place::Globals => {
                let (first, second) = leading_keywords(text);
                match classify_global(&first, &second, text) {
                    Global::Role => self.report.role_statements += 1,
                    Global::Tablespace => self.report.tablespace_statements += 1,
                    Global::Setting => {}
                    Global::Other => self.report.other_global_statements += 1,
                }
                true
            }
            Place::Between => {
                if let Some(db) = created_database(text) {
                    self.databases_created.push(db);
                }
                true
            }
            Place::Database(db) => db != &self.source_db,
        }
    }

    /// Starts a loaded table (or continues one seen before).
    pub fn table_index(&mut self, name: &QualifiedName, sql: &str, at: u64) -> usize {
        if let Some(i) = self.tables.iter().position(|t| &t.name == name) {
            return i;
        }
        self.tables.push(TableLoad {
            name: name.clone(),
            sql: sql.to_owned(),
            header_line: at,
            rows: 0,
        });
        self.tables.len() - 1
    }

    /// After the checks: a result line psql prints once it has run everything before.
    pub fn write_ready_marker(&mut self) -> std::io::Result<()> {
        let sql = format!(
            "SELECT {};\n",
            crate::database::dump::quote_literal(&self.ready_marker)
        );
        self.out.generated(&sql)
    }

    /// What was sent so far (when the stream stops early).
    pub fn so_far(&self) -> (LineMap, Vec<TableLoad>) {
        (self.out.line_map().clone(), self.tables.clone())
    }

    /// Whether this dump comment ends the source database's section while loading:
    /// the moment to write the checks and close.
    pub fn closes_section(&mut self, line: &[u8]) -> bool {
        matches!(self.sections.comment(line), Marker::DatabaseComplete(db)
            if db == self.source_db && self.started && !self.finished)
    }

    /// Follows a psql meta-command; true when it opens the source database's section,
    /// the moment to open csi's transaction.
    pub fn opens_section(&mut self, line: &[u8], at: u64) -> anyhow::Result<bool> {
        match self.sections.meta(line) {
            Meta::Connect(db) if db == self.source_db && !self.started => Ok(true),
            Meta::Other(command) if self.loading() => Err(failed(format!(
                "line {at} of the dump: unexpected psql meta-command `{command}`; nothing was applied"
            ))
            .into()),
            _ => Ok(false),
        }
    }

    /// The sequence checks over `scope`, and with `recount` the row count of every
    /// loaded table.
    pub fn verification(&self, scope: &str, recount: bool) -> String {
        let displays: Vec<String> = self.tables.iter().map(|t| t.name.to_string()).collect();
        let expected: Vec<sql::Expected> = self
            .tables
            .iter()
            .filter(|_| recount)
            .zip(&displays)
            .map(|(t, display)| sql::Expected {
                table_sql: &t.sql,
                display,
                rows: t.rows,
            })
            .collect();
        let sequences: Vec<String> = self.setvals.iter().map(|s| s.sequence.sql()).collect();
        let dump_sequences: Vec<sql::DumpSequence> = self
            .setvals
            .iter()
            .zip(&sequences)
            .map(|(s, name)| sql::DumpSequence {
                sequence_sql: name,
                value: s.value,
                is_called: s.is_called,
            })
            .collect();
        sql::verification(&expected, &dump_sequences, scope)
    }

    /// Writes the closing SQL (the checks), then the ready marker: the section is done.
    pub fn close_with(&mut self, closing_sql: &str) -> anyhow::Result<()> {
        self.out.generated(closing_sql)?;
        self.write_ready_marker()?;
        self.out.flush()?;
        self.finished = true;
        Ok(())
    }

    /// The end of a COPY block.
    pub fn end_copy(&mut self, at: u64) -> anyhow::Result<()> {
        if let Some(Copying::Load { .. }) = self.copying.take() {
            self.out.dump_lines(b"\\.\n", 1, at)?;
            self.progress.table_done();
        }
        Ok(())
    }

    /// The verdict at the end of the input.
    pub fn finish(mut self, end: &ScanEnd) -> Loaded<W> {
        let mut problems = Vec::new();
        let mut others: Vec<String> = self
            .sections
            .databases()
            .filter(|d| *d != self.source_db)
            .map(str::to_owned)
            .collect();
        for db in &self.databases_created {
            if !others.contains(db) && *db != self.source_db {
                others.push(db.clone());
            }
        }
        self.report.other_databases = others.clone();
        // A dump cut before the source database's section says it was cut, first:
        // production's `postgres` comes after template1, so a cut can leave it out.
        if !self.started && !self.sections.cluster_complete() {
            problems.push(CsiError::new(
                Kind::Failed,
                "the dump has no \"cluster dump complete\" trailer: it was cut off".to_owned(),
            ));
        }
        if !self.started {
            let found = if others.is_empty() {
                "no database at all".to_owned()
            } else {
                format!("databases {}", others.join(", "))
            };
            problems.push(
                CsiError::new(
                    Kind::Precondition,
                    format!(
                        "the dump has no database `{}` (it holds {found})",
                        self.source_db
                    ),
                )
                .with_hint("--source-database NAME restores the dump of another database"),
            );
        } else if !self.finished {
            problems.push(CsiError::new(
                Kind::Failed,
                format!(
                    "the dump of database `{}` is incomplete: it has no \"dump complete\" trailer",
                    self.source_db
                ),
            ));
        }
        // How the input ended says most about a cut: first.
        for (i, problem) in ending_problems(end).into_iter().enumerate() {
            problems.insert(i, CsiError::new(Kind::Failed, problem));
        }
        for problem in structure_problems(&self.sections) {
            let duplicate = problem.contains(&format!("`{}`", self.source_db));
            // A cut before the source database was already said first.
            let said = !self.started && problem.contains("cluster dump complete");
            if !(said || (duplicate && self.started && !self.finished)) {
                problems.push(CsiError::new(Kind::Failed, problem));
            }
        }
        let _ = self.out.flush();
        Loaded {
            writer: self.out,
            tables: self.tables,
            report: self.report,
            problems,
        }
    }
}

enum Global {
    Role,
    Tablespace,
    Setting,
    Other,
}

fn classify_global(first: &str, second: &str, text: &[u8]) -> Global {
    match (first, second) {
        ("SET", _) | ("SELECT", _) => Global::Setting,
        (_, "ROLE") | (_, "USER") | (_, "GROUP") => Global::Role,
        ("COMMENT" | "SECURITY", _) if mentions(text, "ROLE") => Global::Role,
        ("GRANT" | "REVOKE", _) => Global::Role,
        (_, "TABLESPACE") => Global::Tablespace,
        ("COMMENT" | "SECURITY", _) if mentions(text, "TABLESPACE") => Global::Tablespace,
        _ => Global::Other,
    }
}

fn mentions(text: &[u8], word: &str) -> bool {
    let head = String::from_utf8_lossy(&text[..text.len().min(60)]).to_ascii_uppercase();
    head.split_whitespace().take(4).any(|w| w == word)
}

/// Whether a statement of the dump's globals is about roles (for `--include-globals`).
pub fn is_role_statement(text: &[u8]) -> bool {
    let (first, second) = leading_keywords(text);
    matches!(classify_global(&first, &second, text), Global::Role)
}

/// Statements that would end csi's transaction early: never forwarded.
pub fn is_transaction_control(text: &[u8]) -> bool {
    let (first, second) = leading_keywords(text);
    matches!(
        first.as_str(),
        "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT" | "RELEASE"
    ) || (first == "PREPARE" && second == "TRANSACTION")
}
