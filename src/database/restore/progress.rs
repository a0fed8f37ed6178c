//! Progress of a load: bytes streamed of the archive's known size, tables and rows
//! loaded. A bar on a terminal; a line every few seconds otherwise; nothing with `-q`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::HumanBytes;

use crate::output::{Live, Meter, Printer, Verbosity};

/// Counters the streaming thread updates and the display reads.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes: AtomicU64,
    pub rows: AtomicU64,
    pub tables: AtomicU64,
    current: Mutex<String>,
}

impl Progress {
    pub fn table_started(&self, name: &str) {
        if let Ok(mut current) = self.current.lock() {
            name.clone_into(&mut current);
        }
    }

    pub fn table_done(&self) {
        self.tables.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rows_loaded(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }

    fn current(&self) -> String {
        self.current.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

const LINE_EVERY: Duration = Duration::from_secs(5);

pub struct Display<'a> {
    printer: &'a Printer,
    live: Live,
    total: u64,
    started: Instant,
    last_line: Instant,
    what: &'static str,
}

impl<'a> Display<'a> {
    /// `what` names the activity in the periodic lines ("restore", "check").
    pub fn new(printer: &'a Printer, total: u64, what: &'static str) -> Self {
        let now = Instant::now();
        Display {
            printer,
            live: printer.live_bar(Meter::Bytes(total)),
            total,
            started: now,
            last_line: now,
            what,
        }
    }

    pub fn tick(&mut self, progress: &Progress) {
        let bytes = progress.bytes.load(Ordering::Relaxed);
        let rows = progress.rows.load(Ordering::Relaxed);
        let tables = progress.tables.load(Ordering::Relaxed);
        if self.live.is_drawn() {
            self.live.set_position(bytes);
            self.live.set_message(
                0,
                &format!("{tables} tables, {rows} rows {}", progress.current()),
            );
        } else if self.printer.verbosity >= Verbosity::Normal
            && self.last_line.elapsed() >= LINE_EVERY
        {
            self.last_line = Instant::now();
            let percent = if self.total > 0 {
                bytes as f64 * 100.0 / self.total as f64
            } else {
                0.0
            };
            self.printer.info(&format!(
                "{}: {percent:.0}% ({} of {}) after {}s, {tables} tables, {rows} rows",
                self.what,
                HumanBytes(bytes),
                HumanBytes(self.total),
                self.started.elapsed().as_secs()
            ));
        }
    }

    pub fn finish(self) {
        self.live.clear();
    }
}
