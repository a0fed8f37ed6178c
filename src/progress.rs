//! Showing terraform's apply as it happens: a progress bar with the resources in
//! flight on a terminal, a plain line per event otherwise (logs, CI, `ssh -T`).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::output::{Printer, Verbosity};
use crate::terraform::ui::UiEvent;

pub struct ApplyDisplay<'a> {
    printer: &'a Printer,
    bar: Option<ProgressBar>,
    in_flight: Vec<String>,
}

impl<'a> ApplyDisplay<'a> {
    pub fn new(printer: &'a Printer, total: usize) -> Self {
        let interactive = std::io::stderr().is_terminal() && printer.verbosity > Verbosity::Quiet;
        let bar = interactive.then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
                )
                .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        ApplyDisplay {
            printer,
            bar,
            in_flight: Vec::new(),
        }
    }

    pub fn on_event(&mut self, event: &UiEvent) {
        match event {
            UiEvent::ApplyStart { address, action } => {
                self.in_flight.push(address.clone());
                self.line(&format!("{action:<8} {address} ..."));
            }
            UiEvent::ApplyProgress {
                address,
                action,
                elapsed,
            } => {
                self.line(&format!(
                    "{action:<8} {address} still running ({elapsed:.0}s)"
                ));
            }
            UiEvent::ApplyComplete {
                address,
                action,
                elapsed,
            } => {
                self.in_flight.retain(|a| a != address);
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                self.line(&format!("{action:<8} {address} done ({elapsed:.0}s)"));
            }
            UiEvent::ApplyErrored {
                address,
                action,
                elapsed,
            } => {
                self.in_flight.retain(|a| a != address);
                self.line(&format!("{action:<8} {address} FAILED ({elapsed:.0}s)"));
            }
            UiEvent::Diagnostic(d) if d.is_expected_warning() => {
                self.printer.detail(&format!("terraform: {}", d.summary));
            }
            UiEvent::Diagnostic(d) if d.is_error() => {
                self.line(&format!("error: {}", d.one_line()))
            }
            UiEvent::Diagnostic(d) => self.line(&format!("warning: {}", d.one_line())),
            UiEvent::Message(text) => self.printer.detail(&format!("terraform: {text}")),
            UiEvent::Summary { .. } | UiEvent::Quiet => {}
        }
        if let Some(bar) = &self.bar {
            bar.set_message(self.in_flight.join(", "));
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(crate::secret::redact(text)),
            None => self.printer.info(text),
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
