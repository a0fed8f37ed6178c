//! The walk's progress for a person: a line every 10% of the selection or every five
//! seconds, with the running tally.

use std::time::{Duration, Instant};

use super::Outcome;
use crate::output::Printer;

/// A progress line every 10% or every 5 seconds.
pub struct WalkProgress {
    total: i64,
    done: i64,
    changed: u64,
    skipped: u64,
    failed: u64,
    step: i64,
    last: Instant,
}

impl WalkProgress {
    pub fn new(total: i64) -> Self {
        WalkProgress {
            total,
            done: 0,
            changed: 0,
            skipped: 0,
            failed: 0,
            step: (total / 10).max(1),
            last: Instant::now(),
        }
    }

    pub fn tick(&mut self, p: &Printer, outcome: &Outcome) {
        self.done += 1;
        match outcome {
            Outcome::Changed | Outcome::WouldWrite => self.changed += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::Failed(_) => self.failed += 1,
        }
        if self.done % self.step == 0 || self.last.elapsed() >= Duration::from_secs(5) {
            self.last = Instant::now();
            p.info(&format!(
                "progress: {}/{} jobs ({} changed, {} skipped, {} failed)",
                self.done, self.total, self.changed, self.skipped, self.failed
            ));
        }
    }
}
