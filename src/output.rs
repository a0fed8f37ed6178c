//! The one printer: data to stdout, messages and progress to stderr, every text
//! passed through the secret redactor first. Colour only on a terminal and never with
//! `NO_COLOR`/`--no-color`, decided per stream: a piped stdout gets plain text even
//! when stderr is a terminal. Live displays (bars, refreshed rows) are in `live`.

mod live;

pub use live::{Live, Meter};

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

/// What a line of a plan or a diff does, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Add,
    Change,
    Remove,
}

#[derive(Debug, Clone)]
pub struct Printer {
    pub format: OutputFormat,
    pub verbosity: Verbosity,
    /// Colour on stdout, on stderr: asked for, and the stream is a terminal.
    color_out: bool,
    color_err: bool,
}

impl Printer {
    pub fn new(format: OutputFormat, verbosity: Verbosity, color: bool) -> Self {
        Self::for_streams(
            format,
            verbosity,
            color && std::io::stdout().is_terminal(),
            color && std::io::stderr().is_terminal(),
        )
    }

    fn for_streams(
        format: OutputFormat,
        verbosity: Verbosity,
        color_out: bool,
        color_err: bool,
    ) -> Self {
        Printer {
            format,
            verbosity,
            color_out,
            color_err,
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
        let text = self.for_stream(text, self.color_out);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", redact(&text));
    }

    /// A unified diff on stdout, added lines green and removed ones red.
    pub fn diff(&self, unified: &str) {
        for line in unified.lines() {
            let mark = match line.as_bytes().first() {
                _ if line.starts_with("+++") || line.starts_with("---") => None,
                Some(b'+') => Some(Mark::Add),
                Some(b'-') => Some(Mark::Remove),
                _ => None,
            };
            match mark {
                Some(mark) => self.data(&self.marked(mark, line)),
                None if line.starts_with("@@") => {
                    self.data(&self.paint(&Style::new().cyan(), line))
                }
                None => self.data(line),
            }
        }
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

    /// A plan or diff line in the colour of what it does.
    pub fn marked(&self, mark: Mark, text: &str) -> String {
        let style = match mark {
            Mark::Add => Style::new().green(),
            Mark::Change => Style::new().yellow(),
            Mark::Remove => Style::new().red(),
        };
        self.paint(&style, text)
    }

    /// `--watch`: clear the terminal and go home before the next screen, like `watch`.
    pub fn clear_screen(&self) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\x1b[2J\x1b[H");
    }

    /// Painted when either stream shows colour; the stream that does not has the
    /// colour taken off again as the text is written (the painter cannot know where
    /// its text goes).
    fn paint(&self, style: &Style, text: &str) -> String {
        if self.color_out || self.color_err {
            style.clone().force_styling(true).apply_to(text).to_string()
        } else {
            text.to_owned()
        }
    }

    fn for_stream<'t>(&self, text: &'t str, color: bool) -> std::borrow::Cow<'t, str> {
        if color || !(self.color_out || self.color_err) {
            std::borrow::Cow::Borrowed(text)
        } else {
            console::strip_ansi_codes(text)
        }
    }

    fn stderr(&self, message: &str) {
        let message = self.for_stream(message, self.color_err);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}", redact(&message));
    }
}

/// A length of time for people, to its two largest units: `3d 4h`, `5h 12m`, `1m 30s`,
/// `42s`, `500ms`. The one format of every duration and age csi prints (configuration
/// values are written back in humantime's, which their parser reads).
pub fn human_duration(d: std::time::Duration) -> String {
    const UNITS: [(u128, &str); 5] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ];
    let millis = d.as_millis();
    let Some(first) = UNITS.iter().position(|(size, _)| millis >= *size) else {
        return "0s".to_owned();
    };
    let (size, name) = UNITS[first];
    let mut text = format!("{}{name}", millis / size);
    if let Some((next, next_name)) = UNITS.get(first + 1) {
        let count = millis % size / next;
        if count > 0 {
            text.push_str(&format!(" {count}{next_name}"));
        }
    }
    text
}

/// How long ago, for people, in whole seconds: [`human_duration`]'s format.
pub fn human_age(age: chrono::TimeDelta) -> String {
    human_duration(std::time::Duration::from_secs(
        age.num_seconds().max(0) as u64
    ))
}

/// A line from the signal handler, which runs where no `Printer` is at hand.
pub fn signal_notice(message: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "csi: {}", redact(message));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer(color_out: bool, color_err: bool) -> Printer {
        Printer::for_streams(OutputFormat::Text, Verbosity::Normal, color_out, color_err)
    }

    #[test]
    fn without_a_colour_terminal_nothing_is_painted() {
        let p = printer(false, false);
        assert_eq!(p.marked(Mark::Add, "+ line"), "+ line");
        assert_eq!(p.ok_fail(false), "FAIL");
        assert_eq!(p.emphasis("env"), "env");
    }

    #[test]
    fn each_stream_keeps_colour_only_when_it_is_a_colour_terminal() {
        // stderr on a terminal, stdout piped: the painted text loses its colour on stdout.
        let p = printer(false, true);
        let painted = p.marked(Mark::Remove, "- old");
        assert_eq!(painted, "\u{1b}[31m- old\u{1b}[0m");
        assert_eq!(p.for_stream(&painted, p.color_out), "- old");
        assert_eq!(p.for_stream(&painted, p.color_err), painted);
        let p = printer(true, false);
        assert_eq!(
            p.for_stream(&p.ok_fail(true), p.color_out),
            "\u{1b}[32m\u{1b}[1mOK  \u{1b}[0m"
        );
        assert_eq!(p.for_stream(&p.ok_fail(true), p.color_err), "OK  ");
    }

    #[test]
    fn durations_show_their_two_largest_units() {
        let d = |secs: u64| human_duration(std::time::Duration::from_secs(secs));
        assert_eq!(d(0), "0s");
        assert_eq!(d(42), "42s");
        assert_eq!(d(90), "1m 30s");
        assert_eq!(d(3600), "1h");
        assert_eq!(d(3600 + 5), "1h");
        assert_eq!(d(5 * 3600 + 12 * 60 + 7), "5h 12m");
        assert_eq!(d(26 * 3600), "1d 2h");
        assert_eq!(d(3 * 86_400 + 60), "3d");
        assert_eq!(
            human_duration(std::time::Duration::from_millis(1500)),
            "1s 500ms"
        );
        assert_eq!(
            human_duration(std::time::Duration::from_millis(500)),
            "500ms"
        );
        assert_eq!(human_age(chrono::TimeDelta::seconds(-5)), "0s");
        assert_eq!(human_age(chrono::TimeDelta::milliseconds(42_900)), "42s");
    }

    #[test]
    fn plan_marks_have_their_colours() {
        let p = printer(true, true);
        assert!(p.marked(Mark::Add, "x").starts_with("\u{1b}[32m"));
        assert!(p.marked(Mark::Change, "x").starts_with("\u{1b}[33m"));
        assert!(p.marked(Mark::Remove, "x").starts_with("\u{1b}[31m"));
    }
}
