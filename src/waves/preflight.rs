//! What the reference requires before job types resume after a downtime:
//! RLIE-S1-S2 searches backwards `rlies1s2_{min,max}_search_window_days`, which must
//! exceed the downtime in days; GFSC covers two past days only, so beyond two days
//! `gfsc_daily_jobs_creation_start_date` must be set to (at most) the start of the
//! downtime.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::downtime::Downtime;
use crate::params::{naive_timestamp, Catalog, Snapshot};

pub const MIN_WINDOW: &str = "rlies1s2_min_search_window_days";
pub const MAX_WINDOW: &str = "rlies1s2_max_search_window_days";
pub const GFSC_START: &str = "gfsc_daily_jobs_creation_start_date";

/// GFSC covers this many past days by itself.
const GFSC_OWN_DAYS: f64 = 2.0;

/// One parameter checked: its value, and the value proposed when it does not hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub name: String,
    pub current: Option<String>,
    /// None: the current value is fine.
    pub proposed: Option<String>,
    pub reason: String,
}

pub fn propose(downtime: &Downtime, current: &Snapshot, catalog: &Catalog) -> Vec<Proposal> {
    let days = downtime.days();
    let mut out = Vec::new();
    let window = |name: &str| current.get(name).and_then(|v| v.parse::<i64>().ok());
    if catalog.find(MIN_WINDOW).is_some() && catalog.find(MAX_WINDOW).is_some() {
        let (min, max) = windows(days, window(MIN_WINDOW), window(MAX_WINDOW));
        for (name, proposed) in [(MIN_WINDOW, min), (MAX_WINDOW, max)] {
            out.push(Proposal {
                name: name.into(),
                current: current.get(name).map(str::to_owned),
                proposed: proposed.map(|v| v.to_string()),
                reason: match proposed {
                    Some(_) => format!("must exceed the downtime of {days:.1} days"),
                    None => format!("exceeds the downtime of {days:.1} days"),
                },
            });
        }
    }
    if catalog.find(GFSC_START).is_some() {
        let value = current.get(GFSC_START);
        let proposed = gfsc_start(days, downtime.since, value.and_then(naive_timestamp));
        out.push(Proposal {
            name: GFSC_START.into(),
            current: value.map(str::to_owned),
            proposed: proposed.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
            reason: match (proposed, days > GFSC_OWN_DAYS) {
                (Some(_), _) => format!(
                    "the downtime of {days:.1} days exceeds 2: GFSC daily jobs resume from the day it began"
                ),
                (None, true) => "set, and not later than the start of the downtime".into(),
                (None, false) => "the downtime does not exceed 2 days: GFSC covers it".into(),
            },
        });
    }
    out
}

/// The windows that do not exceed `days` get the downtime in whole days, rounded up,
/// plus one; the maximum is never left below the minimum.
pub fn windows(days: f64, min: Option<i64>, max: Option<i64>) -> (Option<i64>, Option<i64>) {
    let needed = days.ceil() as i64 + 1;
    let exceeds = |v: Option<i64>| v.is_some_and(|v| v as f64 > days);
    let new_min = (!exceeds(min)).then_some(needed);
    let effective_min = new_min.or(min).unwrap_or(needed);
    let new_max = match max {
        Some(v) if v as f64 > days && v >= effective_min => None,
        _ => Some(needed.max(effective_min)),
    };
    (new_min, new_max)
}

/// Beyond two days: the start of the downtime's first day, unless the value is
/// already set to that moment or earlier.
pub fn gfsc_start(
    days: f64,
    since: DateTime<Utc>,
    current: Option<NaiveDateTime>,
) -> Option<NaiveDateTime> {
    if days <= GFSC_OWN_DAYS {
        return None;
    }
    let since = since.naive_utc();
    match current {
        Some(value) if value <= since => None,
        _ => since.date().and_hms_opt(0, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn three_days_keep_the_default_windows() {
        assert_eq!(windows(3.0, Some(7), Some(31)), (None, None));
    }

    #[test]
    fn ten_days_raise_the_minimum_window() {
        assert_eq!(windows(10.0, Some(7), Some(31)), (Some(11), None));
        assert_eq!(windows(10.2, Some(7), Some(31)), (Some(12), None));
    }

    #[test]
    fn the_maximum_follows_the_minimum() {
        assert_eq!(windows(40.0, Some(7), Some(31)), (Some(41), Some(41)));
        assert_eq!(windows(10.5, Some(7), Some(11)), (Some(12), Some(12)));
    }

    #[test]
    fn gfsc_start_date_beyond_two_days_only() {
        let since = Utc.with_ymd_and_hms(2024, 3, 7, 14, 30, 0).unwrap();
        let midnight = since.date_naive().and_hms_opt(0, 0, 0).unwrap();
        assert_eq!(gfsc_start(1.5, since, None), None);
        assert_eq!(gfsc_start(3.0, since, None), Some(midnight));
        assert_eq!(gfsc_start(3.0, since, Some(midnight)), None);
        let later = midnight + chrono::TimeDelta::days(2);
        assert_eq!(gfsc_start(3.0, since, Some(later)), Some(midnight));
    }
}
