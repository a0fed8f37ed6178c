//! Carrying chosen tables into an existing schema (seed practice: a new installation
//! whose schema may be of a newer version). In one transaction, with triggers (hence
//! foreign-key enforcement) disabled for it: the tables are emptied, their rows loaded
//! by column name, their sequences set to continue after the restored ids, then foreign
//! keys from and to them are checked explicitly, and row counts verified.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use super::common::TableLoad;
use super::common::{is_transaction_control, Copying, Loaded, Stream};
use super::sql;
use super::writer::LineMap;
use crate::database::dump::{
    leading_keywords, parse_sequence_owner, parse_setval, CopyHeader, Handler, QualifiedName,
    ScanEnd,
};
use crate::error::{failed, precondition};

/// A table to restore, with the columns it has in the target database.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SelectedTable {
    pub name: QualifiedName,
    pub columns: Vec<String>,
}

/// How the selected tables are emptied before loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Emptying {
    /// Nothing outside the selection references them.
    Truncate,
    /// Other tables reference them: row by row, checked by the foreign-key check.
    Delete,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct SelectiveOptions {
    pub tables: Vec<SelectedTable>,
    pub ignore_missing_columns: bool,
    pub lock_timeout: Duration,
    pub emptying: Emptying,
}

pub struct SelectiveLoad<W: Write> {
    stream: Stream<W>,
    options: SelectiveOptions,
    /// sequence -> (table, column), from the dump's pre-data.
    owners: HashMap<QualifiedName, (QualifiedName, String)>,
    /// table -> (column, last value used), from the dump's setval calls.
    sequence_values: HashMap<QualifiedName, Vec<(String, i64)>>,
    row: Vec<u8>,
    pub dropped_columns: Vec<String>,
}

impl<W: Write> SelectiveLoad<W> {
    pub fn new(stream: Stream<W>, options: SelectiveOptions) -> Self {
        SelectiveLoad {
            stream,
            options,
            owners: HashMap::new(),
            sequence_values: HashMap::new(),
            row: Vec::new(),
            dropped_columns: Vec::new(),
        }
    }

    pub fn finish(self, end: &ScanEnd) -> (Loaded<W>, Vec<String>) {
        let dropped = self.dropped_columns;
        (self.stream.finish(end), dropped)
    }

    fn selected(&self, table: &QualifiedName) -> Option<&SelectedTable> {
        self.options.tables.iter().find(|t| &t.name == table)
    }

    /// What was sent so far (when the stream stops early).
    pub fn so_far(&self) -> (LineMap, Vec<TableLoad>) {
        self.stream.so_far()
    }

    fn open_transaction(&mut self) -> anyhow::Result<()> {
        let mut text = sql::begin(self.options.lock_timeout);
        text.push_str("SET LOCAL session_replication_role = replica;\n");
        let names: Vec<String> = self.options.tables.iter().map(|t| t.name.sql()).collect();
        match self.options.emptying {
            Emptying::Truncate => text.push_str(&format!("TRUNCATE ONLY {};\n", names.join(", "))),
            Emptying::Delete => {
                for name in &names {
                    text.push_str(&format!("DELETE FROM ONLY {name};\n"));
                }
            }
        }
        self.stream.out.generated(&text)?;
        self.stream.started = true;
        Ok(())
    }

    fn close(&mut self) -> anyhow::Result<()> {
        let missing: Vec<String> = self
            .options
            .tables
            .iter()
            .filter(|t| !self.stream.tables.iter().any(|l| l.name == t.name))
            .map(|t| t.name.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(precondition(format!(
                "the dump of database `{}` has no data for {}",
                self.stream.source_db,
                missing.join(", ")
            ))
            .into());
        }
        let names: Vec<String> = self.options.tables.iter().map(|t| t.name.sql()).collect();
        let mut text = String::new();
        for table in &self.options.tables {
            let values = self
                .sequence_values
                .get(&table.name)
                .cloned()
                .unwrap_or_default();
            text.push_str(&sql::continue_sequences(&table.name.sql(), &values));
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        text.push_str(&sql::foreign_key_check(&refs));
        text.push_str(&self.stream.verification(&sql::tables_scope(&refs), true));
        self.stream.close_with(&text)
    }

    /// The dump's columns kept for this table; None when all of them are.
    fn projection(
        &mut self,
        header: &CopyHeader,
        target: &[String],
    ) -> anyhow::Result<Option<Vec<usize>>> {
        let missing: Vec<&String> = header
            .columns
            .iter()
            .filter(|c| !target.contains(c))
            .collect();
        if missing.is_empty() {
            return Ok(None);
        }
        let list = missing
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if !self.options.ignore_missing_columns {
            return Err(precondition(format!(
                "column(s) {list} of {} are in the dump but not in the database; nothing was changed",
                header.table
            ))
            .with_hint("--ignore-missing-columns leaves them out")
            .into());
        }
        self.dropped_columns
            .push(format!("{}: {list}", header.table));
        Ok(Some(
            header
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| target.contains(c))
                .map(|(i, _)| i)
                .collect(),
        ))
    }
}

impl<W: Write> Handler for SelectiveLoad<W> {
    fn comment(&mut self, line: &[u8], _at: u64) -> anyhow::Result<()> {
        if self.stream.closes_section(line) {
            self.close()?;
        }
        Ok(())
    }

    fn meta(&mut self, line: &[u8], at: u64) -> anyhow::Result<()> {
        if self.stream.opens_section(line, at)? {
            self.open_transaction()?;
        }
        Ok(())
    }

    fn statement(&mut self, text: &[u8], at: u64) -> anyhow::Result<()> {
        self.stream.check_abort()?;
        if self.stream.outside(text) || !self.stream.loading() {
            return Ok(());
        }
        if is_transaction_control(text) {
            return Err(failed(format!(
                "line {at} of the dump: a transaction control statement would end csi's transaction"
            ))
            .into());
        }
        if self.stream.sections.toc().is_none() {
            // The preamble: the dump's encoding and settings matter for its COPY data.
            let (first, second) = leading_keywords(text);
            if (first == "SET" && second != "LOCK_TIMEOUT") || first == "SELECT" {
                self.stream.out.dump(text, at)?;
            }
            return Ok(());
        }
        let text = String::from_utf8_lossy(text);
        if let Some(owner) = parse_sequence_owner(&text) {
            self.owners
                .insert(owner.sequence, (owner.table, owner.column));
        } else if let Some(setval) = parse_setval(&text) {
            if let Some((table, column)) = self.owners.get(&setval.sequence) {
                if self.selected(table).is_some() {
                    let used = if setval.is_called {
                        setval.value
                    } else {
                        setval.value - 1
                    };
                    self.sequence_values
                        .entry(table.clone())
                        .or_default()
                        .push((column.clone(), used));
                }
            }
        }
        Ok(())
    }

    fn copy_start(
        &mut self,
        _text: &[u8],
        header: Option<CopyHeader>,
        at: u64,
    ) -> anyhow::Result<()> {
        self.stream.check_abort()?;
        let wanted = self.stream.loading()
            && header
                .as_ref()
                .is_some_and(|h| self.selected(&h.table).is_some());
        let copying = match header {
            Some(header) if wanted => {
                let target = self
                    .selected(&header.table)
                    .map(|t| t.columns.clone())
                    .unwrap_or_default();
                if header.columns.is_empty() {
                    return Err(failed(format!(
                        "line {at} of the dump: the COPY of {} lists no columns",
                        header.table
                    ))
                    .into());
                }
                let keep = self.projection(&header, &target)?;
                let columns: Vec<String> = header
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| keep.as_ref().map_or(true, |k| k.contains(i)))
                    .map(|(_, c)| crate::database::dump::quote_ident(c))
                    .collect();
                let sql = header.table.sql();
                let index = self.stream.table_index(&header.table, &sql, at);
                self.stream
                    .progress
                    .table_started(&header.table.to_string());
                let copy = format!("COPY {sql} ({}) FROM stdin;\n", columns.join(", "));
                self.stream.out.dump_lines(copy.as_bytes(), 1, at)?;
                Copying::Load { index, keep }
            }
            _ => Copying::Skip,
        };
        self.stream.copying = Some(copying);
        Ok(())
    }

    fn copy_data(&mut self, rows_text: &[u8], rows: u64, at: u64) -> anyhow::Result<()> {
        let Some(Copying::Load { index, keep }) = &self.stream.copying else {
            return Ok(());
        };
        let index = *index;
        self.stream.check_abort()?;
        match keep {
            None => self.stream.out.dump_lines(rows_text, rows, at)?,
            Some(keep) => {
                self.row.clear();
                for (n, line) in rows_text.split_inclusive(|&b| b == b'\n').enumerate() {
                    let line = line.strip_suffix(b"\n").unwrap_or(line);
                    let mut first = true;
                    for (i, field) in line.split(|&b| b == b'\t').enumerate() {
                        if keep.contains(&i) {
                            if !first {
                                self.row.push(b'\t');
                            }
                            self.row.extend_from_slice(field);
                            first = false;
                        }
                    }
                    if line.split(|&b| b == b'\t').count() <= *keep.last().unwrap_or(&0) {
                        return Err(failed(format!(
                            "line {} of the dump: a row with fewer fields than its COPY header",
                            at + n as u64
                        ))
                        .into());
                    }
                    self.row.push(b'\n');
                }
                self.stream.out.dump_lines(&self.row, rows, at)?;
            }
        }
        self.stream.tables[index].rows += rows;
        self.stream.progress.rows_loaded(rows);
        Ok(())
    }

    fn copy_end(&mut self, at: u64) -> anyhow::Result<()> {
        self.stream.end_copy(at)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::sync::Arc;

    use super::*;
    use crate::database::dump::scan;

    const DUMP: &str = "--\n-- PostgreSQL database cluster dump\n--\n\\connect cosims\nSET client_encoding = 'UTF8';\nSET lock_timeout = 0;\n\
--\n-- Name: t; Type: TABLE; Schema: cosims; Owner: o\n--\nCREATE TABLE cosims.t (id integer, old text, v text);\n\
ALTER SEQUENCE cosims.t_id_seq OWNED BY cosims.t.id;\n\
--\n-- Data for Name: t; Type: TABLE DATA; Schema: cosims; Owner: o\n--\nCOPY cosims.t (id, old, v) FROM stdin;\n1\tx\ta\n2\ty\t\\N\n\\.\n\
--\n-- Data for Name: u; Type: TABLE DATA; Schema: cosims; Owner: o\n--\nCOPY cosims.u (id) FROM stdin;\n9\n\\.\n\
SELECT pg_catalog.setval('cosims.t_id_seq', 40, true);\n\
--\n-- PostgreSQL database dump complete\n--\n--\n-- PostgreSQL database cluster dump complete\n--\n";

    fn load(ignore: bool) -> anyhow::Result<String> {
        let progress = Arc::new(crate::database::restore::progress::Progress::default());
        let stream = Stream::new(
            Vec::new(),
            "cosims",
            progress,
            Arc::new(AtomicBool::new(false)),
        );
        let mut handler = SelectiveLoad::new(
            stream,
            SelectiveOptions {
                tables: vec![SelectedTable {
                    name: QualifiedName::new("cosims", "t"),
                    columns: vec!["id".into(), "v".into(), "added".into()],
                }],
                ignore_missing_columns: ignore,
                lock_timeout: Duration::from_secs(30),
                emptying: Emptying::Delete,
            },
        );
        let end = scan(DUMP.as_bytes(), &mut handler, &AtomicU64::new(0))?;
        let (mut loaded, dropped) = handler.finish(&end);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        assert_eq!(dropped, ["cosims.t: `old`"]);
        loaded.writer.flush()?;
        Ok(String::from_utf8(loaded.writer.get_ref().clone())?)
    }

    #[test]
    fn chosen_tables_are_loaded_by_column_name() {
        let out = load(true).unwrap();
        for kept in [
            "SET LOCAL session_replication_role = replica;",
            "DELETE FROM ONLY \"cosims\".\"t\";",
            "SET client_encoding = 'UTF8';",
            "COPY \"cosims\".\"t\" (\"id\", \"v\") FROM stdin;\n1\ta\n2\t\\N\n\\.\n",
            "('id'::name, 40::numeric)",
            "IF n <> 2 THEN",
        ] {
            assert!(out.contains(kept), "{kept:?} missing from\n{out}");
        }
        for left_out in [
            "CREATE TABLE",
            "cosims.u",
            "9\n",
            "lock_timeout = 0",
            "\tx\t",
        ] {
            assert!(!out.contains(left_out), "{left_out:?} in\n{out}");
        }
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = load(false).unwrap_err();
        assert!(
            err.to_string().contains("column(s) `old` of cosims.t"),
            "{err}"
        );
    }
}
