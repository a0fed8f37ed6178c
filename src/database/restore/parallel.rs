//! Replacing the schema on several connections at once, still all or nothing: the
//! dump's schema is loaded under a staging name nobody uses (the names PostgreSQL
//! binds at creation rewritten, see `rename`), the rows of its tables spread over the
//! connections as they stream by, then its indexes and constraints built in parallel,
//! then verified; only then, in one short transaction on the first connection, the
//! current schema is dropped and the staging one renamed in its place. Until that
//! transaction commits, nobody sees anything but the schema as it was; on any failure
//! the staging schema is dropped (by the supervisor, or by the next restore when csi
//! was killed).
//!
//! The archive is read once, sequentially: each table's rows go in chunks of
//! `CHUNK` bytes to the connections in turn (each with its own `COPY` of the table),
//! so while one connection's backend parses a chunk the next chunk goes to another;
//! nothing is buffered beyond the pipes. What must run in order runs on connection 0
//! (the definitions before the data, the statements between, everything after the
//! indexes and constraints), and a barrier (a marker each connection prints once it has
//! run everything before) orders the phases.

use std::fs::File;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::common::{is_transaction_control, Copying, Loaded, Stream};
use super::full::{decide, Decision};
use super::rename::rewrite;
use super::sql;
use super::writer::{LineMap, SqlWriter};
use crate::database::dump::{
    parse_setval, quote_ident, CopyHeader, Handler, QualifiedName, ScanEnd, TocEntry,
};
use crate::error::{failed, precondition};

/// Rows sent to one connection before the next gets the following ones.
const CHUNK: usize = 1 << 20;
/// Printed by psql once a connection has run everything csi sent before it.
pub const MARK_PREFIX: &str = "csi-mark-";

#[derive(serde::Serialize, serde::Deserialize)]
pub struct ParallelOptions {
    pub schema: String,
    /// The schema the dump is loaded into before the swap.
    pub staging: String,
    pub lock_timeout: Duration,
}

/// What a connection's output watcher reports.
#[derive(Debug)]
pub enum Event {
    /// Connection `.0` ran everything up to its marker `.1`.
    Mark(usize, u64),
    /// Connection `.0`'s psql closed its output (it exited).
    Exited(usize),
}

/// A connection's psql ended before csi was done with it (its own error says why).
#[derive(Debug, thiserror::Error)]
#[error("connection {0} to the database ended early")]
pub struct ConnectionEnded(pub usize);

/// An index or constraint to build, and the tables it locks.
struct Job {
    sql: Vec<u8>,
    at: u64,
    /// (table, exclusive): never two jobs on a table when one of them is exclusive.
    locks: Vec<(String, bool)>,
    weight: u64,
    foreign_key: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Definitions,
    Data,
    After,
}

/// Per connection: what it was sent and what it reported back.
#[derive(Default, Clone)]
struct Conn {
    sent: u64,
    acked: u64,
    /// Has an open `COPY` of the current table.
    copying: bool,
    /// Output lines where its COPY headers start (to trace a bad row).
    copy_starts: Vec<u64>,
}

/// What each connection was sent, to trace psql's line numbers back to the dump.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub map: LineMap,
    pub copy_starts: Vec<u64>,
}

pub struct ParallelLoad {
    stream: Stream<File>,
    options: ParallelOptions,
    /// Connections 1.. (connection 0 writes through `stream.out`).
    others: Vec<SqlWriter<File>>,
    /// Their line maps once their input was closed.
    closed: Vec<LineMap>,
    events: Receiver<Event>,
    conns: Vec<Conn>,
    /// Connection 0 has statements not yet known to have run.
    dirty: bool,
    phase: Phase,
    schema_created: bool,
    // The current COPY block.
    header: Vec<u8>,
    header_at: u64,
    next: usize,
    chunk: usize,
    // After the data.
    jobs: Vec<Job>,
    serial: Vec<(Vec<u8>, u64)>,
    last_toc: Option<TocEntry>,
}

impl ParallelLoad {
    pub fn new(
        stream: Stream<File>,
        options: ParallelOptions,
        others: Vec<File>,
        events: Receiver<Event>,
    ) -> Self {
        let others: Vec<SqlWriter<File>> = others.into_iter().map(SqlWriter::new).collect();
        let n = others.len() + 1;
        ParallelLoad {
            stream,
            options,
            others,
            closed: Vec::new(),
            events,
            conns: vec![Conn::default(); n],
            dirty: false,
            phase: Phase::Definitions,
            schema_created: false,
            header: Vec::new(),
            header_at: 0,
            next: 0,
            chunk: 0,
            jobs: Vec::new(),
            serial: Vec::new(),
            last_toc: None,
        }
    }

    pub fn finish(mut self, end: &ScanEnd) -> (Loaded<File>, Vec<Trace>) {
        let traces = self.traces();
        for w in &mut self.others {
            let _ = w.flush();
        }
        (self.stream.finish(end), traces)
    }

    /// What was sent so far (when the stream stops early).
    pub fn so_far(&self) -> (LineMap, Vec<super::common::TableLoad>, Vec<Trace>) {
        let (map, tables) = self.stream.so_far();
        (map, tables, self.traces())
    }

    fn traces(&self) -> Vec<Trace> {
        (0..self.conns.len())
            .map(|c| Trace {
                map: match c {
                    0 => self.stream.out.line_map().clone(),
                    c if c <= self.others.len() => self.others[c - 1].line_map().clone(),
                    c => self.closed.get(c - 1).cloned().unwrap_or_default(),
                },
                copy_starts: self.conns[c].copy_starts.clone(),
            })
            .collect()
    }

    fn out(&mut self, c: usize) -> &mut SqlWriter<File> {
        if c == 0 {
            &mut self.stream.out
        } else {
            &mut self.others[c - 1]
        }
    }

    fn staged(&self, sql: &[u8], literals: bool) -> Vec<u8> {
        rewrite(sql, &self.options.schema, &self.options.staging, literals)
    }

    /// Sends connection `c` its marker; returns its number.
    fn mark(&mut self, c: usize) -> anyhow::Result<u64> {
        self.conns[c].sent += 1;
        let n = self.conns[c].sent;
        let out = self.out(c);
        out.generated(&format!("SELECT '{MARK_PREFIX}{c}-{n}';\n"))?;
        out.flush()?;
        Ok(n)
    }

    /// Waits for the next report of a connection (checking for an abort meanwhile).
    fn next_event(&mut self) -> anyhow::Result<usize> {
        loop {
            self.stream.check_abort()?;
            match self.events.recv_timeout(Duration::from_millis(100)) {
                Ok(Event::Mark(c, n)) if c < self.conns.len() => {
                    self.conns[c].acked = self.conns[c].acked.max(n);
                    return Ok(c);
                }
                Ok(Event::Mark(..)) => {}
                Ok(Event::Exited(c)) => return Err(ConnectionEnded(c).into()),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(ConnectionEnded(0).into()),
            }
        }
    }

    /// Until every connection in `which` has run everything it was sent.
    fn barrier(&mut self, which: &[usize]) -> anyhow::Result<()> {
        for &c in which {
            self.mark(c)?;
        }
        while which
            .iter()
            .any(|&c| self.conns[c].acked < self.conns[c].sent)
        {
            self.next_event()?;
        }
        if which.contains(&0) {
            self.dirty = false;
        }
        Ok(())
    }

    fn all(&self) -> Vec<usize> {
        (0..self.conns.len()).collect()
    }

    /// On connection 0, in order.
    fn serial(&mut self, sql: &[u8], at: u64) -> anyhow::Result<()> {
        self.stream.out.dump(sql, at)?;
        self.dirty = true;
        Ok(())
    }

    /// The preamble's settings hold for every connection.
    fn everywhere(&mut self, sql: &[u8], at: u64) -> anyhow::Result<()> {
        for c in 0..self.conns.len() {
            self.out(c).dump(sql, at)?;
        }
        self.dirty = true;
        Ok(())
    }

    fn open(&mut self) -> anyhow::Result<()> {
        let session = sql::parallel_session(self.options.lock_timeout);
        for out in &mut self.others {
            out.generated(&session)?;
        }
        let sql = format!("{session}{}", sql::drop_schema(&self.options.staging));
        self.stream.out.generated(&sql)?;
        self.stream.started = true;
        self.dirty = true;
        Ok(())
    }

    fn apply(&mut self, text: &[u8], at: u64) -> anyhow::Result<()> {
        let toc = self.stream.sections.toc().cloned();
        let Some(toc) = toc else {
            return self.everywhere(text, at);
        };
        if toc.kind == "SCHEMA" && toc.name == self.options.schema {
            self.schema_created = true;
        }
        let parallel = matches!(toc.kind.as_str(), "INDEX" | "CONSTRAINT" | "FK CONSTRAINT");
        if parallel {
            self.phase = Phase::After;
        }
        let staged = self.staged(text, toc.kind == "SEQUENCE SET");
        if toc.kind == "SEQUENCE SET" {
            // The value the dump sets, on the staged sequence: verified before the swap.
            if let Some(setval) = parse_setval(&String::from_utf8_lossy(&staged)) {
                self.stream.setvals.push(setval);
            }
        }
        if parallel {
            if self.last_toc.as_ref() == Some(&toc) {
                if let Some(job) = self.jobs.last_mut() {
                    job.sql.extend_from_slice(&staged);
                    job.locks.extend(locks(&staged, &toc.kind));
                    return Ok(());
                }
            }
            let locks = locks(&staged, &toc.kind);
            let weight = locks
                .iter()
                .map(|(table, _)| self.rows_of(table))
                .max()
                .unwrap_or(0);
            self.jobs.push(Job {
                sql: staged,
                at,
                locks,
                weight,
                foreign_key: toc.kind == "FK CONSTRAINT",
            });
            self.last_toc = Some(toc);
            return Ok(());
        }
        self.last_toc = Some(toc);
        if self.phase == Phase::After {
            self.serial.push((staged, at));
            return Ok(());
        }
        self.serial(&staged, at)
    }

    fn rows_of(&self, table: &str) -> u64 {
        self.stream
            .tables
            .iter()
            .filter(|t| t.name.name == table)
            .map(|t| t.rows)
            .sum()
    }

    /// The indexes and constraints, on every connection, the largest tables first;
    /// then the foreign keys the same way.
    fn build(&mut self) -> anyhow::Result<()> {
        let mut jobs = std::mem::take(&mut self.jobs);
        jobs.sort_by_key(|j| (j.foreign_key, std::cmp::Reverse(j.weight)));
        let (fks, plain): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.foreign_key);
        self.schedule(plain)?;
        self.schedule(fks)
    }

    fn schedule(&mut self, mut pending: Vec<Job>) -> anyhow::Result<()> {
        let n = self.conns.len();
        let mut running: Vec<Option<Job>> = (0..n).map(|_| None).collect();
        loop {
            for (slot, conn) in running.iter_mut().zip(&self.conns) {
                if conn.acked == conn.sent {
                    *slot = None;
                }
            }
            for c in 0..n {
                if running[c].is_some() {
                    continue;
                }
                let held: Vec<&(String, bool)> =
                    running.iter().flatten().flat_map(|j| &j.locks).collect();
                let fits = pending.iter().position(|job| {
                    job.locks.iter().all(|(table, exclusive)| {
                        !held
                            .iter()
                            .any(|(t, other)| t == table && (*exclusive || *other))
                    })
                });
                let Some(i) = fits else { break };
                let job = pending.remove(i);
                self.out(c).dump(&job.sql, job.at)?;
                self.mark(c)?;
                running[c] = Some(job);
            }
            if pending.is_empty() && running.iter().all(Option::is_none) {
                return Ok(());
            }
            self.next_event()?;
        }
    }

    fn close(&mut self) -> anyhow::Result<()> {
        if !self.schema_created {
            return Err(precondition(format!(
                "the dump of database `{}` has no schema `{}`: is it a dump of another system?",
                self.stream.source_db, self.options.schema
            ))
            .with_hint("`csi env backups` lists the archives; check which one you meant")
            .into());
        }
        let all = self.all();
        self.barrier(&all)?;
        self.build()?;
        for (sql, at) in std::mem::take(&mut self.serial) {
            self.stream.out.dump(&sql, at)?;
        }
        // The other connections are done: their psql ends with its input.
        for mut out in std::mem::take(&mut self.others) {
            out.flush()?;
            self.closed.push(out.line_map().clone());
        }
        let mut closing = self
            .stream
            .verification(&sql::schema_scope(&self.options.staging));
        closing.push_str(&sql::swap(
            &self.options.staging,
            &self.options.schema,
            self.options.lock_timeout,
        ));
        self.stream.close_with(&closing)
    }

    fn start_copy(&mut self, text: &[u8], header: CopyHeader, at: u64) -> anyhow::Result<()> {
        if self.dirty {
            self.barrier(&[0])?;
        }
        self.phase = Phase::Data;
        let staged_sql = format!(
            "{}.{}",
            quote_ident(&self.options.staging),
            quote_ident(&header.table.name)
        );
        let index = self.stream.table_index(&header.table, &staged_sql, at);
        self.stream
            .progress
            .table_started(&header.table.to_string());
        self.header = self.staged(text, false);
        self.header_at = at;
        self.chunk = 0;
        for conn in &mut self.conns {
            conn.copying = false;
        }
        self.stream.copying = Some(Copying::Load { index, keep: None });
        Ok(())
    }

    fn rows(&mut self, rows_text: &[u8], rows: u64, at: u64) -> anyhow::Result<()> {
        let c = self.next;
        if !self.conns[c].copying {
            let header = std::mem::take(&mut self.header);
            let line = self.out(c).lines() + 1;
            self.conns[c].copy_starts.push(line);
            let header_at = self.header_at;
            self.out(c).dump(&header, header_at)?;
            self.header = header;
            self.conns[c].copying = true;
        }
        self.out(c).dump_lines(rows_text, rows, at)?;
        self.chunk += rows_text.len();
        if self.chunk >= CHUNK {
            self.out(c).flush()?;
            self.chunk = 0;
            self.next = (c + 1) % self.conns.len();
        }
        Ok(())
    }

    fn end_copy(&mut self, at: u64) -> anyhow::Result<()> {
        if !matches!(self.stream.copying.take(), Some(Copying::Load { .. })) {
            return Ok(());
        }
        if !self.conns.iter().any(|c| c.copying) {
            // No rows: the table is empty, but its COPY still runs (and checks).
            let c = self.next;
            let line = self.out(c).lines() + 1;
            self.conns[c].copy_starts.push(line);
            let header = self.header.clone();
            let header_at = self.header_at;
            self.out(c).dump(&header, header_at)?;
            self.conns[c].copying = true;
        }
        for c in 0..self.conns.len() {
            if self.conns[c].copying {
                let out = self.out(c);
                out.dump_lines(b"\\.\n", 1, at)?;
                out.flush()?;
                self.conns[c].copying = false;
            }
        }
        self.stream.progress.table_done();
        self.next = (self.next + 1) % self.conns.len();
        Ok(())
    }
}

/// The tables an index or constraint statement locks: `CREATE INDEX ... ON t` shares
/// its table; `ALTER TABLE t ADD CONSTRAINT` holds it exclusively, and a foreign key
/// its referenced table too.
fn locks(sql: &[u8], kind: &str) -> Vec<(String, bool)> {
    let text = String::from_utf8_lossy(sql);
    let mut found = Vec::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    let table_after = |i: usize| -> Option<String> {
        let mut j = i + 1;
        if words.get(j).is_some_and(|w| w.eq_ignore_ascii_case("ONLY")) {
            j += 1;
        }
        let word = words.get(j)?;
        let mut tokens = crate::database::dump::Tokens::new(word);
        tokens.qualified().map(|q: QualifiedName| q.name)
    };
    for (i, w) in words.iter().enumerate() {
        if kind == "INDEX" && w.eq_ignore_ascii_case("ON") {
            if let Some(t) = table_after(i) {
                found.push((t, false));
                break;
            }
        }
        if kind != "INDEX"
            && w.eq_ignore_ascii_case("TABLE")
            && i > 0
            && words[i - 1].eq_ignore_ascii_case("ALTER")
        {
            if let Some(t) = table_after(i) {
                found.push((t, true));
            }
        }
        if kind == "FK CONSTRAINT" && w.to_ascii_uppercase().starts_with("REFERENCES") {
            let rest = &w["REFERENCES".len()..];
            let target = if rest.is_empty() {
                words.get(i + 1).map(|s| s.to_string())
            } else {
                Some(rest.to_owned())
            };
            if let Some(target) = target {
                let mut tokens = crate::database::dump::Tokens::new(&target);
                if let Some(q) = tokens.qualified() {
                    found.push((q.name, true));
                }
            }
        }
    }
    if found.is_empty() {
        // Unknown shape: exclusive on a name nobody else has, run alone.
        found.push((String::new(), true));
    }
    found
}

impl Handler for ParallelLoad {
    fn comment(&mut self, line: &[u8], _at: u64) -> anyhow::Result<()> {
        if self.stream.closes_section(line) {
            self.close()?;
        }
        Ok(())
    }

    fn meta(&mut self, line: &[u8], at: u64) -> anyhow::Result<()> {
        if self.stream.opens_section(line, at)? {
            self.open()?;
        }
        Ok(())
    }

    fn statement(&mut self, text: &[u8], at: u64) -> anyhow::Result<()> {
        self.stream.check_abort()?;
        if self.stream.outside(text) {
            // Roles are applied only by the one-transaction restore (--include-globals).
            return Ok(());
        }
        if !self.stream.loading() {
            return Ok(());
        }
        if is_transaction_control(text) {
            return Err(failed(format!(
                "line {at} of the dump: a transaction control statement (`{}`) would end csi's transaction; nothing was applied",
                String::from_utf8_lossy(text).trim()
            ))
            .into());
        }
        match decide(&self.options.schema, self.stream.sections.toc(), text) {
            Decision::Apply => self.apply(text, at)?,
            Decision::SkipOtherSchema(schema) => self.stream.report.other_schema(&schema),
            Decision::SkipDatabaseWide(kind) => self.stream.report.database_wide(&kind),
            Decision::HoldBack => self.stream.report.database_level(text),
            Decision::Replace => self.stream.report.replaced(text),
            Decision::CleanDrop => self.stream.report.clean_drops += 1,
        }
        Ok(())
    }

    fn copy_start(
        &mut self,
        text: &[u8],
        header: Option<CopyHeader>,
        at: u64,
    ) -> anyhow::Result<()> {
        self.stream.check_abort()?;
        let load = self.stream.loading() && !self.stream.outside(text);
        self.stream.copying = Some(Copying::Skip);
        match (load, header) {
            (false, _) => Ok(()),
            (true, None) => Err(failed(format!(
                "line {at} of the dump: a COPY statement csi cannot read: {}",
                String::from_utf8_lossy(text).trim()
            ))
            .into()),
            (true, Some(header)) => {
                let in_schema = match self.stream.sections.toc() {
                    Some(toc) => toc.schema == self.options.schema,
                    None => header.table.schema == self.options.schema,
                };
                if in_schema {
                    self.start_copy(text, header, at)
                } else {
                    self.stream.report.other_schema(&header.table.schema);
                    Ok(())
                }
            }
        }
    }

    fn copy_data(&mut self, rows_text: &[u8], rows: u64, at: u64) -> anyhow::Result<()> {
        if let Some(Copying::Load { index, .. }) = self.stream.copying {
            self.stream.check_abort()?;
            self.rows(rows_text, rows, at)?;
            self.stream.tables[index].rows += rows;
            self.stream.progress.rows_loaded(rows);
        }
        Ok(())
    }

    fn copy_end(&mut self, at: u64) -> anyhow::Result<()> {
        self.end_copy(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_a_statement_locks() {
        assert_eq!(
            locks(
                b"CREATE INDEX i ON \"s\".job_status_changes USING btree (x);",
                "INDEX"
            ),
            vec![("job_status_changes".to_owned(), false)]
        );
        assert_eq!(
            locks(
                b"ALTER TABLE ONLY \"s\".parent_jobs\n    ADD CONSTRAINT parent_jobs_pkey PRIMARY KEY (id);",
                "CONSTRAINT"
            ),
            vec![("parent_jobs".to_owned(), true)]
        );
        assert_eq!(
            locks(
                b"ALTER TABLE ONLY \"s\".gfsc_jobs\n    ADD CONSTRAINT f FOREIGN KEY (fk_parent_job_id) REFERENCES \"s\".parent_jobs(id) ON DELETE CASCADE;",
                "FK CONSTRAINT"
            ),
            vec![
                ("gfsc_jobs".to_owned(), true),
                ("parent_jobs".to_owned(), true)
            ]
        );
    }
}
