//! The one live display: what a long step shows while it runs. On a terminal (stderr,
//! without `-q`) a bar or a few refreshed rows, with lasting lines printed above them;
//! anywhere else (a log, CI, `ssh -T`) nothing is drawn and lasting lines are plain
//! info lines. Every module that shows progress goes through this, so a bar is never
//! drawn into a pipe and a line is never torn by a redraw.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::Printer;
use crate::secret::redact;

const TICK: Duration = Duration::from_millis(120);

/// What the single bar of [`Printer::live_bar`] measures.
#[derive(Debug, Clone, Copy)]
pub enum Meter {
    /// Items done out of a total (resources applied, jobs walked).
    Count(u64),
    /// Bytes streamed out of a total, with the rate.
    Bytes(u64),
    /// No total: a spinner and a message.
    Spinner,
}

impl Meter {
    fn bar(self) -> ProgressBar {
        let (bar, template) = match self {
            Meter::Count(total) => (
                ProgressBar::new(total.max(1)),
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
            ),
            Meter::Bytes(total) => (
                ProgressBar::new(total.max(1)),
                "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}) {wide_msg}",
            ),
            Meter::Spinner => (ProgressBar::new_spinner(), "{spinner} {wide_msg}"),
        };
        // The templates are constants; a typo in one shows the default style, never a panic.
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    }
}

/// A bar or rows on a terminal; nothing drawn elsewhere. Every text is redacted.
pub struct Live {
    printer: Printer,
    multi: Option<MultiProgress>,
    rows: Vec<ProgressBar>,
}

impl Printer {
    /// Whether live displays are drawn: stderr is a terminal and `-q` was not given.
    pub fn draws_live(&self) -> bool {
        !self.is_quiet_or_piped()
    }

    /// One bar measuring `meter`.
    pub fn live_bar(&self, meter: Meter) -> Live {
        let rows = if self.draws_live() {
            let bar = meter.bar();
            bar.enable_steady_tick(TICK);
            vec![bar]
        } else {
            Vec::new()
        };
        Live {
            printer: self.clone(),
            multi: None,
            rows,
        }
    }

    /// One refreshed row per name (a spinner and a message), each row's message starting
    /// with its name padded to the longest when `named`.
    pub fn live_rows(&self, names: &[String], named: bool) -> Live {
        if !self.draws_live() {
            return Live {
                printer: self.clone(),
                multi: None,
                rows: Vec::new(),
            };
        }
        let multi = MultiProgress::new();
        let width = names.iter().map(String::len).max().unwrap_or(10);
        let template = if named {
            "{spinner} {prefix} {wide_msg}"
        } else {
            "{spinner} {wide_msg}"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let rows = names
            .iter()
            .map(|name| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                if named {
                    bar.set_prefix(format!("{name:<width$}"));
                }
                bar.enable_steady_tick(TICK);
                bar
            })
            .collect();
        Live {
            printer: self.clone(),
            multi: Some(multi),
            rows,
        }
    }
}

impl Live {
    /// Whether anything is drawn (otherwise the caller prints its own plain lines).
    pub fn is_drawn(&self) -> bool {
        !self.rows.is_empty()
    }

    /// The message of row `row` (the bar's, for a bar: row 0).
    pub fn set_message(&self, row: usize, message: &str) {
        if let Some(bar) = self.rows.get(row) {
            bar.set_message(redact(message));
        }
    }

    /// The bar's position (bytes or items done).
    pub fn set_position(&self, position: u64) {
        if let Some(bar) = self.rows.first() {
            bar.set_position(position);
        }
    }

    /// One more item done.
    pub fn inc(&self) {
        if let Some(bar) = self.rows.first() {
            bar.inc(1);
        }
    }

    /// A line that stays: above the bars on a terminal, an info line otherwise.
    pub fn line(&self, text: &str) {
        match self.rows.first() {
            Some(bar) => bar.println(redact(text)),
            None => self.printer.info(text),
        }
    }

    /// Runs `f` with the rows out of the way (for a prompt or a warning).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match (&self.multi, self.rows.first()) {
            (Some(multi), _) => multi.suspend(f),
            (None, Some(bar)) => bar.suspend(f),
            (None, None) => f(),
        }
    }

    /// Leaves the rows on the screen as they last were.
    pub fn finish(&self) {
        for bar in &self.rows {
            bar.finish();
        }
    }

    /// Takes the rows off the screen.
    pub fn clear(&self) {
        for bar in &self.rows {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Live {
    // A display dropped on an error path must not leave a spinner ticking over the
    // error message.
    fn drop(&mut self) {
        for bar in &self.rows {
            if !bar.is_finished() {
                bar.finish_and_clear();
            }
        }
    }
}
