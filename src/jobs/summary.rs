//! What a walk did, in bounded memory: counts, the reasons jobs were skipped or
//! failed (each with a few example ids), and the changed ids as ranges.

use serde::{Serialize, Serializer};

/// Distinct reasons kept; later ones are counted under "other reasons".
const MAX_REASONS: usize = 30;
/// Example ids kept per reason.
const SAMPLE_IDS: usize = 10;
/// Id ranges kept for the journal; beyond, only the count.
const MAX_RANGES: usize = 500;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub dry_run: bool,
    /// Jobs of the selection looked at.
    pub seen: u64,
    /// Jobs whose walk was written (or would be, in a dry run).
    pub changed: u64,
    /// Status-change rows written (or that would be).
    pub status_changes: u64,
    pub skipped: Tally,
    pub failed: Tally,
    /// Stopped early by SIGINT/SIGTERM (between two jobs).
    pub interrupted: bool,
    pub changed_ids: IdRanges,
}

#[derive(Debug, Default, Serialize)]
pub struct Tally {
    pub jobs: u64,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Serialize)]
pub struct Reason {
    pub reason: String,
    pub jobs: u64,
    /// The first few jobs, by id.
    pub ids: Vec<i64>,
}

impl Tally {
    pub fn add(&mut self, id: i64, reason: &str) {
        self.jobs += 1;
        let reason = if self.reasons.len() >= MAX_REASONS
            && !self.reasons.iter().any(|r| r.reason == reason)
        {
            "other reasons"
        } else {
            reason
        };
        match self.reasons.iter_mut().find(|r| r.reason == reason) {
            Some(entry) => {
                entry.jobs += 1;
                if entry.ids.len() < SAMPLE_IDS {
                    entry.ids.push(id);
                }
            }
            None => self.reasons.push(Reason {
                reason: reason.to_owned(),
                jobs: 1,
                ids: vec![id],
            }),
        }
    }
}

/// Ids seen in increasing order, kept as ranges (`12-40`).
#[derive(Debug, Default)]
pub struct IdRanges {
    ranges: Vec<(i64, i64)>,
    truncated: bool,
}

impl IdRanges {
    pub fn push(&mut self, id: i64) {
        if let Some(last) = self.ranges.last_mut() {
            if id == last.1 + 1 {
                last.1 = id;
                return;
            }
        }
        if self.ranges.len() < MAX_RANGES {
            self.ranges.push((id, id));
        } else {
            self.truncated = true;
        }
    }

    pub fn texts(&self) -> Vec<String> {
        let mut texts: Vec<String> = self
            .ranges
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        if self.truncated {
            texts.push("...".to_owned());
        }
        texts
    }
}

impl Serialize for IdRanges {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.texts().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_compress_consecutive_ids() {
        let mut ids = IdRanges::default();
        for id in [1, 2, 3, 7, 9, 10] {
            ids.push(id);
        }
        assert_eq!(ids.texts(), vec!["1-3", "7", "9-10"]);
    }

    #[test]
    fn reasons_are_bounded() {
        let mut tally = Tally::default();
        for id in 0..1000 {
            tally.add(id, &format!("reason {id}"));
        }
        assert_eq!(tally.jobs, 1000);
        assert_eq!(tally.reasons.len(), MAX_REASONS + 1);
        let other = tally.reasons.last().unwrap();
        assert_eq!(other.reason, "other reasons");
        assert_eq!(other.jobs, 1000 - MAX_REASONS as u64);
        assert_eq!(other.ids.len(), SAMPLE_IDS);
    }
}
