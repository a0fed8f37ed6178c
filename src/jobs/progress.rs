//! The walk's progress for a person: a bar with the running tally on a terminal;
//! elsewhere a line every 10% of the selection or every five seconds.

use std::time::{Duration, Instant};

use super::Outcome;
use crate::output::{Live, Meter, Printer};

pub struct WalkProgress {
    live: Live,
    total: i64,
    done: i64,
    changed: u64,
    skipped: u64,
    failed: u64,
    step: i64,
    last: Instant,
}

impl WalkProgress {
    pub fn new(p: &Printer, total: i64) -> Self {
        WalkProgress {
            live: p.live_bar(Meter::Count(total.max(0) as u64)),
            total,
            done: 0,
            changed: 0,
            skipped: 0,
            failed: 0,
            step: (total / 10).max(1),
            last: Instant::now(),
        }
    }

    /// Runs `f` (which prints a job's line) with the bar out of the way.
    pub fn say(&self, f: impl FnOnce()) {
        self.live.suspend(f)
    }

    pub fn tick(&mut self, p: &Printer, outcome: &Outcome) {
        self.done += 1;
        match outcome {
            Outcome::Changed | Outcome::WouldWrite => self.changed += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::Failed(_) => self.failed += 1,
        }
        let tally = format!(
            "{} changed, {} skipped, {} failed",
            self.changed, self.skipped, self.failed
        );
        if self.live.is_drawn() {
            self.live.inc();
            self.live.set_message(0, &tally);
        } else if self.done % self.step == 0 || self.last.elapsed() >= Duration::from_secs(5) {
            self.last = Instant::now();
            p.info(&format!(
                "progress: {}/{} jobs ({tally})",
                self.done, self.total
            ));
        }
    }

    pub fn finish(self) {
        self.live.clear();
    }
}
