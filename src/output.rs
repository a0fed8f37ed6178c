//! The one printer: data to stdout, messages and progress to stderr, every text
//! passed through the secret redactor first.

use std::io::{IsTerminal, Write};

use console::Style;
use serde::Serialize;

use crate::error;
use crate::secret::redact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Debug, Clone)]
pub struct Printer {
    pub format: OutputFormat,
    pub verbosity: Verbosity,
    color: bool,
}

impl Printer {
    pub fn new(format: OutputFormat, verbosity: Verbosity, color: bool) -> Self {
        Printer {
            format,
            verbosity,
            color: color && std::io::stderr().is_terminal(),
        }
    }

    /// No spinner or bar: `-q`, or stderr is not a terminal.
    pub fn is_quiet_or_piped(&self) -> bool {
        self.verbosity == Verbosity::Quiet || !std::io::stderr().is_terminal()
    }

    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Data for the user or a script: stdout.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", redact(text));
    }

    /// A JSON document on stdout (for `--output json`).
    pub fn json<T: Serialize>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.data(&text),
            Err(e) => self.warn(&format!("cannot encode the result as JSON: {e}")),
        }
    }

    /// A message about what csi is doing: stderr, hidden by `-q`.
    pub fn info(&self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            self.stderr(message);
        }
    }

    /// Detail shown with `-v`.
    pub fn detail(&self, message: &str) {
        if self.verbosity >= Verbosity::Verbose {
            self.stderr(message);
        }
    }

    pub fn warn(&self, message: &str) {
        let label = self.paint(&Style::new().yellow().bold(), "warning:");
        self.stderr(&format!("{label} {message}"));
    }

    /// The one place a failed command is reported: a line, a hint, and with `-v` the causes.
    pub fn error(&self, err: &anyhow::Error) {
        let label = self.paint(&Style::new().red().bold(), "error:");
        let first_line = err.to_string();
        self.stderr(&format!(
            "{label} {}",
            first_line.lines().next().unwrap_or("")
        ));
        for cause in err.chain().skip(1) {
            let cause = cause.to_string();
            if self.verbosity >= Verbosity::Verbose || err.chain().count() <= 2 {
                self.stderr(&format!("  caused by: {cause}"));
            }
        }
        if let Some(hint) = error::hint_of(err) {
            let label = self.paint(&Style::new().cyan().bold(), "hint:");
            self.stderr(&format!("{label} {hint}"));
        }
    }

    pub fn ok_fail(&self, ok: bool) -> String {
        if ok {
            self.paint(&Style::new().green().bold(), "OK  ")
        } else {
            self.paint(&Style::new().red().bold(), "FAIL")
        }
    }

    pub fn emphasis(&self, text: &str) -> String {
        self.paint(&Style::new().bold(), text)
    }

    pub fn highlight(&self, text: &str) -> String {
        self.paint(&Style::new().yellow().bold(), text)
    }

    /// `--watch`: clear the terminal and go home before the next screen, like `watch`.
    pub fn clear_screen(&self) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\x1b[2J\x1b[H");
    }

    fn paint(&self, style: &Style, text: &str) -> String {
        if self.color {
            style.apply_to(text).to_string()
        } else {
            text.to_owned()
        }
    }

    fn stderr(&self, message: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", redact(message));
    }
}

/// A line from the signal handler, which runs where no `Printer` is at hand.
pub fn signal_notice(message: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "csi: {}", redact(message));
}
