//! `borg extract --stdout | csi | psql`: the archive streamed through the filter into
//! one transaction that only csi can commit, and only when everything holds: borg
//! exited 0, every byte of the dump was read, the dump is complete (trailers, COPY
//! blocks closed), and the checks inside the transaction passed. Anything else
//! (an error, a truncated or corrupt dump, Ctrl-C, csi killed) ends without COMMIT,
//! and PostgreSQL rolls the transaction back: the database is left as it was.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde::Serialize;

use super::common::{Aborted, Loaded, Stream, TableLoad};
use super::full::{FullLoad, FullOptions};
use super::parallel::{ConnectionEnded, Event, ParallelLoad, ParallelOptions, Trace, MARK_PREFIX};
use super::progress::{Display, Progress};
use super::report::Report;
use super::selective::{SelectiveLoad, SelectiveOptions};
use super::source::DumpSource;
use super::sql::VERIFY_TAG;
use super::staging;
use super::writer::LineMap;
use crate::borg::DUMP_ITEM;
use crate::database::dump::{scan, Completeness, ScanEnd, Verdict};
use crate::database::Target;
use crate::error::{failed, CsiError, Kind};
use crate::interrupt;
use crate::output::Printer;
use crate::process::{enlarge_pipe, Finished};

#[derive(Serialize, serde::Deserialize)]
pub enum Mode {
    /// Replace the schema.
    Full(FullOptions),
    /// Replace some tables' rows.
    Selective(SelectiveOptions),
    /// Replace the schema through a staging schema loaded on `connections` at once.
    Parallel {
        options: ParallelOptions,
        connections: usize,
    },
}

pub struct LoadRequest<'a> {
    pub target: &'a Target,
    /// The database of the dump to restore.
    pub source_db: &'a str,
    pub mode: Mode,
    pub printer: &'a Printer,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LoadOutcome {
    pub tables: Vec<TableLoad>,
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub report: Report,
    /// `--ignore-missing-columns`: the dump's columns left out, per table.
    pub dropped_columns: Vec<String>,
    /// Connections the schema was loaded on (1 for the one-transaction load).
    pub connections: usize,
    /// Staging schemas of earlier restores that did not finish, dropped first.
    pub leftovers_dropped: Vec<String>,
    /// The tables were analyzed before the commit (the parallel load does it beside
    /// its index builds); otherwise the caller runs ANALYZE.
    pub analyzed: bool,
}

struct Streamed {
    end: ScanEnd,
    loaded: Loaded<File>,
    dropped_columns: Vec<String>,
    traces: Vec<Trace>,
}

/// The stream stopped early: why, and what had been sent (to trace psql's error).
struct Stopped {
    error: anyhow::Error,
    map: LineMap,
    tables: Vec<TableLoad>,
    traces: Vec<Trace>,
}

impl Stopped {
    fn new(error: anyhow::Error, (map, tables): (LineMap, Vec<TableLoad>)) -> Self {
        Stopped {
            error,
            map,
            tables,
            traces: Vec::new(),
        }
    }
}

const TICK: Duration = Duration::from_millis(200);
/// Pipe buffers between csi and psql (the kernel's default is 64 KiB).
const PIPE_BYTES: usize = 1 << 20;

/// The restore's one entry point: streams the dump of `source` into the target; Ok
/// only when it was committed (the one transaction, or the swap of a parallel load).
/// A parallel load first drops the staging schemas earlier restores left (csi killed),
/// and drops its own when it fails.
pub async fn load(request: LoadRequest<'_>, source: DumpSource) -> anyhow::Result<LoadOutcome> {
    let staging = match &request.mode {
        Mode::Parallel { options, .. } => Some((options.schema.clone(), options.staging.clone())),
        _ => None,
    };
    let Some((schema, staging)) = staging else {
        return load_streams(request, source).await;
    };
    let target = request.target;
    let printer = request.printer;
    let leftovers = staging::drop_leftovers(target, &schema).await?;
    for name in &leftovers {
        printer.info(&format!(
            "dropped schema {name}, left by a restore that did not finish"
        ));
    }
    match load_streams(request, source).await {
        Ok(mut outcome) => {
            outcome.leftovers_dropped = leftovers;
            Ok(outcome)
        }
        Err(e) => {
            if let Err(cleanup) = staging::drop_staging(target, &staging).await {
                printer.warn(&format!(
                    "could not drop the staging schema {staging} ({cleanup:#}); the next restore drops it"
                ));
            }
            Err(e)
        }
    }
}

async fn load_streams(
    request: LoadRequest<'_>,
    mut source: DumpSource,
) -> anyhow::Result<LoadOutcome> {
    let started = Instant::now();
    let progress = Arc::new(Progress::default());
    let abort = Arc::new(AtomicBool::new(false));

    let mut psql = request
        .target
        .psql()
        .spawn_piped(true, true, |line| tracing::info!("psql: {line}"))?;
    let input = source.take_reader();
    let mut ending = source.ending();
    let source = &source;
    let output = psql.stdin_pipe()?;
    enlarge_pipe(&output, PIPE_BYTES);
    let (events_tx, events) = std::sync::mpsc::channel::<Event>();
    let connections = match &request.mode {
        Mode::Parallel { connections, .. } => (*connections).max(1),
        _ => 1,
    };
    let mut others = Vec::new();
    let mut other_inputs = Vec::new();
    for c in 1..connections {
        let mut other = request
            .target
            .psql()
            .spawn_piped(true, true, move |line| tracing::info!("psql {c}: {line}"))?;
        let stdin = other.stdin_pipe()?;
        enlarge_pipe(&stdin, PIPE_BYTES);
        watch_marks(other.stdout_pipe()?, c, events_tx.clone());
        other_inputs.push(stdin);
        others.push(other);
    }
    let other_killers: Vec<_> = others.iter().map(|o| o.killer()).collect();
    let ready_marker = format!(
        "csi-ready-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let (ready_tx, mut ready_rx) = tokio::sync::oneshot::channel();
    let committed = watch_psql(
        psql.stdout_pipe()?,
        ready_marker.clone(),
        ready_tx,
        events_tx,
    );

    let mut stream = Stream::new(output, request.source_db, progress.clone(), abort.clone());
    stream.ready_marker = ready_marker;
    let worker_progress = progress.clone();
    let rename: Option<(String, String)> = match &request.mode {
        Mode::Parallel { options, .. } => Some((options.staging.clone(), options.schema.clone())),
        _ => None,
    };
    let mode = request.mode;
    let analyzed = matches!(mode, Mode::Parallel { .. });
    let mut worker = tokio::task::spawn_blocking(move || -> Result<Streamed, Stopped> {
        let bytes = &worker_progress.bytes;
        match mode {
            Mode::Full(options) => {
                let mut handler = FullLoad::new(stream, options);
                match scan(input, &mut handler, bytes) {
                    Ok(end) => Ok(Streamed {
                        loaded: handler.finish(&end),
                        end,
                        dropped_columns: Vec::new(),
                        traces: Vec::new(),
                    }),
                    Err(error) => Err(Stopped::new(error, handler.so_far())),
                }
            }
            Mode::Parallel { options, .. } => {
                let mut handler = ParallelLoad::new(stream, options, other_inputs, events);
                match scan(input, &mut handler, bytes) {
                    Ok(end) => {
                        let (loaded, traces) = handler.finish(&end);
                        Ok(Streamed {
                            loaded,
                            end,
                            dropped_columns: Vec::new(),
                            traces,
                        })
                    }
                    Err(error) => {
                        let (map, tables, traces) = handler.so_far();
                        Err(Stopped {
                            error,
                            map,
                            tables,
                            traces,
                        })
                    }
                }
            }
            Mode::Selective(options) => {
                let mut handler = SelectiveLoad::new(stream, options);
                match scan(input, &mut handler, bytes) {
                    Ok(end) => {
                        let (loaded, dropped_columns) = handler.finish(&end);
                        Ok(Streamed {
                            end,
                            loaded,
                            dropped_columns,
                            traces: Vec::new(),
                        })
                    }
                    Err(error) => Err(Stopped::new(error, handler.so_far())),
                }
            }
        }
    });

    // Streaming: until the whole dump went through (or something stopped it).
    let mut signals = interrupt::subscribe();
    let mut interrupted = interrupt::received();
    let psql_killer = psql.killer();
    let stop_others = || {
        for killer in &other_killers {
            killer.signal(Signal::SIGTERM);
        }
    };
    let stop = || {
        abort.store(true, Ordering::SeqCst);
        source.stop();
        psql_killer.signal(Signal::SIGTERM);
        stop_others();
    };
    if interrupted.is_some() {
        stop();
    }
    let mut display = Display::new(request.printer, source.size, "restore");
    let mut ticker = tokio::time::interval(TICK);
    let streamed = loop {
        tokio::select! {
            result = &mut worker => break result.unwrap_or_else(|e| Err(Stopped::new(
                anyhow::anyhow!("the streaming thread failed: {e}"),
                (LineMap::default(), Vec::new()),
            ))),
            Ok(()) = signals.changed(), if interrupted.is_none() => {
                interrupted = *signals.borrow();
                request.printer.warn("interrupted: stopping the restore; nothing will be committed");
                stop();
            }
            _ = ticker.tick() => display.tick(&progress),
        }
    };
    display.tick(&progress);
    display.finish();

    // Deciding: how the producer ended, the dump's completeness, the byte count.
    if streamed.is_err() {
        source.stop();
    }
    let produced = loop {
        tokio::select! {
            ended = &mut ending => break ended,
            Ok(()) = signals.changed(), if interrupted.is_none() => {
                interrupted = *signals.borrow();
                stop();
            }
        }
    };
    let produced_well = produced.is_ok();
    let mut reasons: Vec<anyhow::Error> = Vec::new();
    if let Err(e) = produced {
        reasons.push(e);
    }
    let traces;
    let (writer, line_map, tables, report, dropped_columns, bytes) = match streamed {
        Ok(Streamed {
            end,
            loaded,
            dropped_columns,
            traces: sent,
        }) => {
            traces = sent;
            reasons.extend(loaded.problems.into_iter().map(anyhow::Error::from));
            if end.bytes != source.size && produced_well {
                reasons.push(
                    failed(format!(
                        "read {} bytes of the dump, borg lists {}: the archive is inconsistent",
                        end.bytes, source.size
                    ))
                    .into(),
                );
            }
            let map = loaded.writer.line_map().clone();
            (
                Some(loaded.writer),
                map,
                loaded.tables,
                loaded.report,
                dropped_columns,
                end.bytes,
            )
        }
        Err(stopped) => {
            traces = stopped.traces;
            reasons.insert(0, stopped.error);
            (
                None,
                stopped.map,
                stopped.tables,
                Report::default(),
                Vec::new(),
                0,
            )
        }
    };

    // Committing, or not: only once psql has run everything before COMMIT (the checks
    // included) and reported it, so that a signal until then still rolls back.
    // A stream without its writer (it stopped) has a reason already: never committed.
    let mut commit = interrupted.is_none() && reasons.is_empty() && writer.is_some();
    if commit {
        tokio::select! {
            ready = &mut ready_rx => {
                // Without the marker, psql ended early: its own error says why.
                commit = ready.is_ok();
            }
            Ok(()) = signals.changed(), if interrupted.is_none() => {
                interrupted = *signals.borrow();
                request.printer.warn("interrupted: nothing will be committed");
                commit = false;
            }
        }
    }
    match (commit, writer) {
        (true, Some(mut writer)) => {
            let sent = tokio::task::spawn_blocking(move || {
                writer.generated("COMMIT;\n")?;
                writer.flush()
            })
            .await;
            if let Ok(Err(e)) = &sent {
                tracing::info!("writing COMMIT to psql: {e}");
            }
        }
        (_, writer) => {
            psql_killer.signal(Signal::SIGTERM);
            stop_others();
            drop(writer);
        }
    }
    let psql_finished = psql.wait().await?;
    let mut others_finished = Vec::new();
    for other in &mut others {
        others_finished.push(other.wait().await?);
    }
    let committed = tokio::task::spawn_blocking(move || committed.join().unwrap_or(false))
        .await
        .unwrap_or(false);
    let rename = rename.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
    let own_failure = |f: &Finished| !f.success() && f.status.code().is_some();
    if own_failure(&psql_finished) {
        let trace = traces.first();
        return Err(psql_error(
            &psql_finished,
            trace.map_or(&line_map, |t| &t.map),
            &tables,
            &source.name,
            trace.map(|t| t.copy_starts.as_slice()),
            rename,
        )
        .into());
    }
    for (i, finished) in others_finished.iter().enumerate() {
        if own_failure(finished) {
            let trace = traces.get(i + 1);
            return Err(psql_error(
                finished,
                trace.map_or(&LineMap::default(), |t| &t.map),
                &tables,
                &source.name,
                Some(trace.map_or(&[][..], |t| t.copy_starts.as_slice())),
                rename,
            )
            .into());
        }
    }
    if let Some(signal) = interrupted.filter(|_| !commit) {
        return Err(CsiError::new(
            Kind::Interrupted,
            format!("interrupted by {signal}: the restore was stopped before COMMIT; nothing was changed (rolled back)"),
        )
        .into());
    }
    if let Some(first) = reasons
        .into_iter()
        .find(|e| !is_broken_pipe(e) && !e.is::<Aborted>() && !e.is::<ConnectionEnded>())
    {
        return Err(nothing_changed(first));
    }
    let status = crate::process::describe_status(psql_finished.status);
    if !commit {
        return Err(failed(format!(
            "psql stopped ({status}) before csi sent COMMIT; nothing was changed (rolled back)"
        ))
        .into());
    }
    if !committed {
        return Err(failed(format!(
            "psql ended ({status}) without confirming the COMMIT: check the database"
        ))
        .into());
    }
    // What the checks found about the source itself (e.g. a sequence the dump leaves
    // behind its column): restored as it was, said to the operator.
    for line in psql_finished.stderr_tail.lines() {
        if let Some((_, warning)) = line.split_once("WARNING:") {
            if let Some(text) = warning.trim().strip_prefix("csi: ") {
                request.printer.warn(&unstaged(text));
            }
        }
    }
    let rows = tables.iter().map(|t| t.rows).sum();
    Ok(LoadOutcome {
        tables,
        rows,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
        report,
        dropped_columns,
        connections,
        leftovers_dropped: Vec::new(),
        analyzed,
    })
}

/// Reads psql's output until psql exits: says when the marker csi writes after its
/// checks comes out (everything before COMMIT ran), and returns whether the last thing
/// psql printed was the tag of csi's COMMIT.
fn watch_psql(
    stdout: File,
    marker: String,
    ready: tokio::sync::oneshot::Sender<()>,
    events: std::sync::mpsc::Sender<Event>,
) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let mut ready = Some(ready);
        let mut last = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            forward_mark(&line, 0, &events);
            if line == marker {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
            }
            if !line.is_empty() {
                last = line;
            }
        }
        let _ = events.send(Event::Exited(0));
        last == "COMMIT"
    })
}

/// `csi-mark-<connection>-<n>` printed by psql: that connection ran everything before;
/// `COPY <n>`: connection `connection`'s next COPY inserted n rows.
fn forward_mark(line: &str, connection: usize, events: &std::sync::mpsc::Sender<Event>) {
    if let Some(n) = line.strip_prefix("COPY ").and_then(|n| n.parse().ok()) {
        let _ = events.send(Event::Copied(connection, n));
        return;
    }
    let Some(rest) = line.strip_prefix(MARK_PREFIX) else {
        return;
    };
    if let Some((c, n)) = rest.split_once('-') {
        if let (Ok(c), Ok(n)) = (c.parse(), n.parse()) {
            let _ = events.send(Event::Mark(c, n));
        }
    }
}

/// Reads another connection's psql output: its markers, then its end.
fn watch_marks(stdout: File, connection: usize, events: std::sync::mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            forward_mark(&line, connection, &events);
        }
        let _ = events.send(Event::Exited(connection));
    });
}

/// `cosims_csi_restore_123.t` -> `cosims.t`: the names a check saw in the staging
/// schema, as the operator knows them once swapped in.
fn unstaged(text: &str) -> String {
    const MARK: &str = "_csi_restore_";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(MARK) {
        out.push_str(&rest[..i]);
        rest = rest[i + MARK.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Adds "nothing was changed" to a reason for not committing, keeping its kind.
fn nothing_changed(reason: anyhow::Error) -> anyhow::Error {
    let kind = crate::error::kind_of(&reason);
    let hint = crate::error::hint_of(&reason).map(str::to_owned);
    let message = if reason.to_string().contains("nothing was changed") {
        reason.to_string()
    } else {
        format!("{reason}; nothing was changed (rolled back)")
    };
    let mut error = CsiError::new(kind, message);
    if let Some(hint) = hint {
        error = error.with_hint(hint);
    }
    error.into()
}

/// psql's own failure, traced back to the dump's line; a failed check inside the
/// transaction is a verification failure.
/// `copy_starts`: where a parallel connection's COPY headers start in what it read (a
/// bad row's number counts from there); `rename`: (staging, schema) names in messages.
fn psql_error(
    finished: &Finished,
    map: &LineMap,
    tables: &[TableLoad],
    archive: &str,
    copy_starts: Option<&[u64]>,
    rename: Option<(&str, &str)>,
) -> CsiError {
    let renamed = |text: &str| match rename {
        Some((staging, schema)) => text
            .replace(&format!("\"{staging}\"."), &format!("{schema}."))
            .replace(&format!("{staging}."), &format!("{schema}."))
            .replace(staging, schema),
        None => text.to_owned(),
    };
    let tail = &finished.stderr_tail;
    let mut error_line = None;
    let mut context = None;
    for line in tail.lines() {
        if error_line.is_none() {
            if let Some((out_line, text)) = parse_psql_error(line) {
                error_line = Some((out_line, text));
                continue;
            }
        }
        if let Some(rest) = line.trim_start().strip_prefix("CONTEXT:") {
            context.get_or_insert_with(|| rest.trim().to_owned());
        }
    }
    let Some((out_line, text)) = error_line else {
        let first = tail
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return failed(format!(
            "psql failed ({}): {first}; nothing was changed",
            crate::process::describe_status(finished.status)
        ))
        .with_hint("check the database connection: `csi env check`");
    };
    let text = renamed(&text);
    let context = context.map(|c| renamed(&c));
    if let Some(problems) = text.split_once(VERIFY_TAG).map(|(_, p)| p.trim()) {
        return CsiError::new(
            Kind::Verification,
            format!("verification failed, nothing was changed (rolled back): {problems}"),
        );
    }
    let copy_row = context.as_deref().and_then(copy_row);
    let parallel_row = match (copy_row, copy_starts) {
        (Some(row), Some(starts)) => starts
            .iter()
            .filter(|&&s| s <= out_line)
            .max()
            .and_then(|&s| map.dump_line(s + row)),
        _ => None,
    };
    let place = match parallel_row.or_else(|| map.dump_line(out_line)) {
        Some(line) => {
            let line = match copy_row {
                _ if parallel_row.is_some() => line,
                Some(row) => tables
                    .iter()
                    .filter(|t| t.header_line <= line)
                    .max_by_key(|t| t.header_line)
                    .map_or(line, |t| t.header_line + row),
                None => line,
            };
            format!("line {line} of {DUMP_ITEM} in {archive}")
        }
        None => format!("csi's own SQL (line {out_line} of what psql read)"),
    };
    let context = context.map(|c| format!(" ({c})")).unwrap_or_default();
    let mut error = failed(format!(
        "the restore failed at {place}: {text}{context}; nothing was changed (rolled back)"
    ));
    if text.contains("lock timeout") {
        error = error.with_hint(
            "other sessions hold locks on the schema: stop the services (do not pass --keep-services) or end those sessions",
        );
    } else if text.contains("role \"") && text.contains("does not exist") {
        error =
            error.with_hint("the dump's globals create that role: re-run with --include-globals");
    }
    error
}

/// `psql:<stdin>:123: ERROR:  message` -> (123, `ERROR: message`).
fn parse_psql_error(line: &str) -> Option<(u64, String)> {
    let rest = line.strip_prefix("psql:<stdin>:")?;
    let (number, text) = rest.split_once(':')?;
    let number = number.parse().ok()?;
    let text = text.trim();
    if !(text.starts_with("ERROR:") || text.starts_with("FATAL:") || text.starts_with("error:")) {
        return None;
    }
    let (level, message) = text.split_once(':')?;
    Some((number, format!("{level}: {}", message.trim())))
}

/// `COPY t, line 5, column x: "..."` -> 5.
fn copy_row(context: &str) -> Option<u64> {
    let rest = context.strip_prefix("COPY ")?;
    let at = rest.find(", line ")?;
    rest[at + 7..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Reads the whole dump and checks its completeness (trailers, COPY blocks, byte
/// count); nothing is written anywhere.
pub async fn check_archive(mut source: DumpSource, printer: &Printer) -> anyhow::Result<Verdict> {
    let progress = Arc::new(Progress::default());
    let input = source.take_reader();
    let worker_progress = progress.clone();
    let mut worker = tokio::task::spawn_blocking(move || -> anyhow::Result<Verdict> {
        let mut check = Completeness::default();
        let end = scan(input, &mut check, &worker_progress.bytes)?;
        Ok(check.verdict(&end))
    });
    let mut signals = interrupt::subscribe();
    let mut interrupted = interrupt::received();
    if interrupted.is_some() {
        source.stop();
    }
    let mut display = Display::new(printer, source.size, "check");
    let mut ticker = tokio::time::interval(TICK);
    let verdict = loop {
        tokio::select! {
            result = &mut worker => break result.unwrap_or_else(|e| Err(anyhow::anyhow!("the checking thread failed: {e}"))),
            Ok(()) = signals.changed(), if interrupted.is_none() => {
                interrupted = *signals.borrow();
                source.stop();
            }
            _ = ticker.tick() => display.tick(&progress),
        }
    };
    display.finish();
    let produced = source.ending().await;
    if let Some(signal) = interrupted {
        return Err(CsiError::new(
            Kind::Interrupted,
            format!(
                "interrupted by {signal} while checking archive {}",
                source.name
            ),
        )
        .into());
    }
    let mut verdict = verdict?;
    if let Err(e) = produced {
        verdict.problems.insert(0, e.to_string());
    } else if verdict.bytes != source.size {
        verdict.problems.push(format!(
            "read {} bytes, borg lists {}",
            verdict.bytes, source.size
        ));
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psql_errors_and_copy_rows_are_read() {
        assert_eq!(
            parse_psql_error("psql:<stdin>:1234: ERROR:  relation \"x\" does not exist"),
            Some((1234, "ERROR: relation \"x\" does not exist".into()))
        );
        assert_eq!(parse_psql_error("psql:<stdin>:3: NOTICE:  hello"), None);
        assert_eq!(
            copy_row("COPY parent_jobs, line 5, column id: \"x\""),
            Some(5)
        );
        assert_eq!(copy_row("COPY parent_jobs, line 17"), Some(17));
    }
}
