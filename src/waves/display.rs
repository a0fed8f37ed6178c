//! Showing the gate while a wave runs: one refreshed line per job type on a
//! terminal; in a log, a timestamped block whenever a value that matters changes
//! (and every ten minutes), not at every check.

use std::time::{Duration, Instant};

use chrono::Utc;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::gate::{line, Reading};
use crate::output::Printer;

const HEARTBEAT: Duration = Duration::from_secs(600);

pub struct GateDisplay<'a> {
    printer: &'a Printer,
    title: String,
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    last_key: Option<String>,
    last_print: Option<Instant>,
}

impl<'a> GateDisplay<'a> {
    pub fn new(printer: &'a Printer, title: String, job_types: &[String]) -> Self {
        let bars = (!printer.is_quiet_or_piped()).then(|| {
            let multi = MultiProgress::new();
            let style =
                ProgressStyle::with_template("{spinner} {wide_msg}").expect("valid template");
            let bars = job_types
                .iter()
                .map(|t| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(style.clone());
                    bar.set_message(format!("{t:<16} checking..."));
                    bar.enable_steady_tick(Duration::from_millis(150));
                    bar
                })
                .collect();
            (multi, bars)
        });
        if bars.is_some() {
            printer.info(&title);
        }
        GateDisplay {
            printer,
            title,
            bars,
            last_key: None,
            last_print: None,
        }
    }

    pub fn update(&mut self, readings: &[Reading]) {
        if let Some((_, bars)) = &self.bars {
            for (bar, reading) in bars.iter().zip(readings) {
                bar.set_message(line(reading));
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
        match &self.bars {
            Some((multi, _)) => multi.suspend(f),
            None => f(),
        }
    }

    pub fn finish(self) {
        if let Some((_, bars)) = self.bars {
            for bar in bars {
                bar.finish_and_clear();
            }
        }
    }
}
