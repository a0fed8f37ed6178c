//! Showing terraform's apply as it happens: a progress bar with the resources in
//! flight on a terminal, a plain line per event otherwise (logs, CI, `ssh -T`).

use crate::output::{Live, Meter, Printer};
use crate::terraform::ui::UiEvent;

pub struct ApplyDisplay<'a> {
    printer: &'a Printer,
    live: Live,
    in_flight: Vec<String>,
}

impl<'a> ApplyDisplay<'a> {
    pub fn new(printer: &'a Printer, total: usize) -> Self {
        ApplyDisplay {
            printer,
            live: printer.live_bar(Meter::Count(total as u64)),
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
                self.live.inc();
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
        self.live.set_message(0, &self.in_flight.join(", "));
    }

    fn line(&self, text: &str) {
        self.live.line(text);
    }

    pub fn finish(self) {
        self.live.clear();
    }
}
