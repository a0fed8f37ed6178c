//! One progress line per service while rollouts run concurrently: bars on a terminal,
//! a plain line on each change otherwise.

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::nomad::deployment::Progress;
use crate::output::Printer;

pub struct RolloutDisplay {
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
    printer: Printer,
    last: Mutex<HashMap<String, String>>,
}

impl RolloutDisplay {
    pub fn new(printer: &Printer, services: &[String]) -> Self {
        let bars = (!printer.is_quiet_or_piped()).then(|| {
            let multi = MultiProgress::new();
            let width = services.iter().map(String::len).max().unwrap_or(10);
            let bars = services
                .iter()
                .map(|name| {
                    let bar = multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {prefix} {wide_msg}")
                            .expect("template"),
                    );
                    bar.set_prefix(format!("{name:<width$}"));
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    (name.clone(), bar)
                })
                .collect();
            (multi, bars)
        });
        RolloutDisplay {
            bars,
            printer: printer.clone(),
            last: Mutex::new(HashMap::new()),
        }
    }

    pub fn update(&self, service: &str, message: &str) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.get(service).map(String::as_str) == Some(message) {
            return;
        }
        last.insert(service.to_owned(), message.to_owned());
        match self.bars.as_ref().and_then(|(_, bars)| bars.get(service)) {
            Some(bar) => bar.set_message(crate::secret::redact(message)),
            None => self.printer.info(&format!("{service}: {message}")),
        }
    }

    pub fn progress(&self, service: &str, p: &Progress) {
        self.update(
            service,
            &format!(
                "{}: placed {}/{}, healthy {}, unhealthy {}",
                p.status, p.placed, p.desired, p.healthy, p.unhealthy
            ),
        );
    }

    pub fn finish(&self) {
        if let Some((_, bars)) = &self.bars {
            for bar in bars.values() {
                bar.finish();
            }
        }
    }
}
