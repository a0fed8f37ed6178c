//! Showing the gate while a wave runs: one refreshed line per job type on a
//! terminal; in a log, a timestamped block whenever a value that matters changes
//! (and every ten minutes), not at every check.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::gate::{line, Reading};
use crate::output::{Live, Printer};

const HEARTBEAT: Duration = Duration::from_secs(600);

pub struct GateDisplay<'a> {
    printer: &'a Printer,
    title: String,
    live: Live,
    last_key: Option<String>,
    last_print: Option<Instant>,
}

impl<'a> GateDisplay<'a> {
    pub fn new(printer: &'a Printer, title: String, job_types: &[String]) -> Self {
        let live = printer.live_rows(job_types, false);
        for (row, t) in job_types.iter().enumerate() {
            live.set_message(row, &format!("{t:<16} checking..."));
        }
        if live.is_drawn() {
            printer.info(&title);
        }
        GateDisplay {
            printer,
            title,
            live,
            last_key: None,
            last_print: None,
        }
    }

    pub fn update(&mut self, readings: &[Reading]) {
        if self.live.is_drawn() {
            for (row, reading) in readings.iter().enumerate() {
                self.live.set_message(row, &line(reading));
            }
            return;
        }
        let key: String = readings
            .iter()
            .map(|r| {
                let mut values = r.values.clone();
                values.remove("lag_seconds");
                format!("{}{}{:?}", r.job_type, r.passed, values)
            })
            .collect();
        let due = self.last_print.map_or(true, |at| at.elapsed() >= HEARTBEAT);
        if self.last_key.as_deref() != Some(key.as_str()) || due {
            let stamp = Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
            self.printer.info(&format!("{stamp} {}", self.title));
            for reading in readings {
                self.printer.info(&format!("  {}", line(reading)));
            }
            self.last_key = Some(key);
            self.last_print = Some(Instant::now());
        }
    }

    /// A failed check: shown once per distinct message.
    pub fn problem(&mut self, message: &str) {
        if self.last_key.as_deref() != Some(message) {
            self.suspend(|| self.printer.warn(&format!("gate check failed: {message}")));
            self.last_key = Some(message.to_owned());
        }
    }

    /// Runs `f` with the lines out of the way (for a prompt or a message).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.live.suspend(f)
    }

    pub fn finish(self) {
        self.live.clear();
    }
}
