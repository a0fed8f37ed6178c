//! Replacing the schema on several connections at once, still all or nothing: the
//! dump's schema is loaded under a staging name nobody uses (the names PostgreSQL
//! binds at creation rewritten, see `rename`), the rows of its tables spread over the
//! connections as they stream by, then its indexes, constraints and foreign keys built
//! in parallel and its tables analyzed (see `postdata`), then verified; only then, in
//! one short transaction on the first connection, the current schema is dropped and
//! the staging one renamed in its place. Until that transaction commits, nobody sees
//! anything but the schema as it was; on any failure the staging schema is dropped (by
//! the supervisor, or by the next restore when csi was killed).
//!
//! The archive is read once, sequentially: each table's rows go in chunks of
//! `CHUNK` bytes to the connections in turn (each with its own `COPY` of the table),
//! so while one connection's backend parses a chunk the next chunk goes to another;
//! nothing is buffered beyond the pipes. What must run in order runs on connection 0
//! (the definitions before the data, the statements between, everything after the
//! indexes and constraints), and a barrier (a marker each connection prints once it has
//! run everything before) orders the phases.
//!
//! The rows are verified as PostgreSQL inserts them: each COPY's `COPY n` (the rows the
//! server inserted, which a trigger or a rule would change) adds up, per table, to the
//! rows the dump has, or nothing is swapped in; a recount of every table afterwards
//! would read the whole schema once more.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::common::{is_transaction_control, Copying, Loaded, Stream, TableLoad};
use super::full::{decide, Decision};
use super::postdata::{Job, PostData};
use super::rename::rewrite;
use super::sql;
use super::writer::{LineMap, SqlWriter};
use crate::database::dump::{parse_setval, quote_ident, CopyHeader, Handler, ScanEnd, TocEntry};
use crate::error::{failed, precondition, CsiError, Kind};

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
    /// Connection `.0`'s next COPY inserted `.1` rows (PostgreSQL's `COPY n`).
    Copied(usize, u64),
    /// Connection `.0`'s psql closed its output (it exited).
    Exited(usize),
}

/// A connection's psql ended before csi was done with it (its own error says why).
#[derive(Debug, thiserror::Error)]
#[error("connection {0} to the database ended early")]
pub struct ConnectionEnded(pub usize);

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
    /// The tables of its COPYs whose `COPY n` has not come back yet, in order.
    copies: VecDeque<usize>,
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
    post: PostData,
    serial: Vec<(Vec<u8>, u64)>,
    /// Rows PostgreSQL reported inserting, per table (index into the stream's tables).
    inserted: Vec<u64>,
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
            post: PostData::default(),
            serial: Vec::new(),
            inserted: Vec::new(),
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
                Ok(Event::Copied(c, n)) => {
                    let table = self
                        .conns
                        .get_mut(c)
                        .and_then(|conn| conn.copies.pop_front());
                    if let Some(table) = table {
                        if self.inserted.len() <= table {
                            self.inserted.resize(table + 1, 0);
                        }
                        self.inserted[table] += n;
                    }
                }
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
        if toc.kind == "TABLE" {
            self.post.table_created(&staged);
        }
        if parallel {
            if self.last_toc.as_ref() == Some(&toc) {
                self.post.continued(&staged);
                return Ok(());
            }
            let tables = &self.stream.tables;
            self.post
                .entry(&toc.kind, &staged, at, |table| rows_of(tables, table));
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

    /// The indexes, constraints and foreign keys, and ANALYZE of every table, on every
    /// connection (see `postdata`).
    fn build(&mut self) -> anyhow::Result<()> {
        let staging = quote_ident(&self.options.staging);
        let analyze: Vec<(String, String, u64)> = self
            .stream
            .tables
            .iter()
            .map(|t| {
                let name = t.name.name.clone();
                let sql = format!("{staging}.{}", quote_ident(&name));
                (name, sql, t.rows)
            })
            .collect();
        let jobs = std::mem::take(&mut self.post).finish(&analyze);
        self.schedule(&jobs)
    }

    /// Runs the jobs on the connections: whenever one is free, the largest job whose
    /// prerequisites are done and whose locks fit beside the running ones'.
    fn schedule(&mut self, jobs: &[Job]) -> anyhow::Result<()> {
        let n = self.conns.len();
        let mut running: Vec<Option<usize>> = vec![None; n];
        let mut done = vec![false; jobs.len()];
        let mut pending: Vec<usize> = (0..jobs.len()).collect();
        pending.sort_by_key(|&j| std::cmp::Reverse(jobs[j].weight));
        loop {
            for (slot, conn) in running.iter_mut().zip(&self.conns) {
                if let Some(j) = *slot {
                    if conn.acked == conn.sent {
                        done[j] = true;
                        *slot = None;
                    }
                }
            }
            for c in 0..n {
                if running[c].is_some() {
                    continue;
                }
                let fits = pending.iter().position(|&j| {
                    jobs[j].after.iter().all(|&d| done[d])
                        && running
                            .iter()
                            .flatten()
                            .all(|&r| jobs[j].compatible(&jobs[r]))
                });
                let Some(i) = fits else { break };
                let j = pending.remove(i);
                let job = &jobs[j];
                match job.at {
                    Some(at) => self.out(c).dump(&job.sql, at)?,
                    None => self.out(c).generated(&String::from_utf8_lossy(&job.sql))?,
                }
                self.mark(c)?;
                running[c] = Some(j);
            }
            if running.iter().all(Option::is_none) {
                if pending.is_empty() {
                    return Ok(());
                }
                return Err(anyhow::anyhow!(
                    "csi's plan of the indexes and constraints cannot go on ({} left, none ready): a bug",
                    pending.len()
                ));
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
        // Every COPY has run: its `COPY n` came back before the barrier's marker.
        self.check_inserted()?;
        self.build()?;
        for (sql, at) in std::mem::take(&mut self.serial) {
            self.stream.out.dump(&sql, at)?;
        }
        // The other connections are done: their psql ends with its input.
        for mut out in std::mem::take(&mut self.others) {
            out.flush()?;
            self.closed.push(out.line_map().clone());
        }
        // The rows were counted by PostgreSQL as it inserted them (checked above): the
        // closing checks are the sequences'.
        let mut closing = self
            .stream
            .verification(&sql::schema_scope(&self.options.staging), false);
        closing.push_str(&sql::swap(
            &self.options.staging,
            &self.options.schema,
            self.options.lock_timeout,
        ));
        self.stream.close_with(&closing)
    }

    /// Every table has the dump's rows: PostgreSQL's `COPY n` of each of its COPYs add
    /// up to the rows the dump has for it (a trigger, a rule or a lost stream would
    /// show here), or nothing is swapped in.
    fn check_inserted(&self) -> anyhow::Result<()> {
        let problems: Vec<String> = self
            .stream
            .tables
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let inserted = self.inserted.get(i).copied().unwrap_or(0);
                (inserted != t.rows).then(|| {
                    format!(
                        "table {} has {inserted} rows after loading, the dump has {}",
                        t.name, t.rows
                    )
                })
            })
            .collect();
        if problems.is_empty() {
            return Ok(());
        }
        Err(CsiError::new(
            Kind::Verification,
            format!(
                "verification failed, nothing was changed (rolled back): {}",
                problems.join("; ")
            ),
        )
        .into())
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

    fn rows(&mut self, table: usize, rows_text: &[u8], rows: u64, at: u64) -> anyhow::Result<()> {
        let c = self.next;
        if !self.conns[c].copying {
            self.conns[c].copies.push_back(table);
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
        let Some(Copying::Load { index, .. }) = self.stream.copying.take() else {
            return Ok(());
        };
        if !self.conns.iter().any(|c| c.copying) {
            // No rows: the table is empty, but its COPY still runs (and checks).
            let c = self.next;
            self.conns[c].copies.push_back(index);
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

/// The rows loaded into a table of the schema (by its bare name).
fn rows_of(tables: &[TableLoad], table: &str) -> u64 {
    tables
        .iter()
        .filter(|t| t.name.name == table)
        .map(|t| t.rows)
        .sum()
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
            self.rows(index, rows_text, rows, at)?;
            self.stream.tables[index].rows += rows;
            self.stream.progress.rows_loaded(rows);
        }
        Ok(())
    }

    fn copy_end(&mut self, at: u64) -> anyhow::Result<()> {
        self.end_copy(at)
    }
}
