//! Job status ids and names, as the reference (and `cosims.job_status`) defines them.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::{usage, CsiError};

/// The statuses of the reference: the ids are stable, the names are what operators type.
pub const STATUSES: [(i16, &str); 16] = [
    (1, "initialized"),
    (2, "configured"),
    (3, "ready"),
    (4, "queued"),
    (5, "started"),
    (6, "pre_processing"),
    (7, "processing"),
    (8, "post_processing"),
    (9, "processed"),
    (10, "start_publication"),
    (11, "published"),
    (12, "done"),
    (13, "internal_error"),
    (14, "external_error"),
    (15, "error_checked"),
    (16, "cancelled"),
];

/// A job status id (`parent_jobs.last_status_id`, `job_status_changes.job_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Status(pub i16);

impl Status {
    pub const INTERNAL_ERROR: Status = Status(13);
    pub const EXTERNAL_ERROR: Status = Status(14);
    pub const ERROR_CHECKED: Status = Status(15);
    pub const READY: Status = Status(3);

    /// A name (`internal_error`, any case) or an id (`13`).
    pub fn parse(text: &str) -> Result<Status, CsiError> {
        let text = text.trim();
        let by_id = text
            .parse::<i16>()
            .ok()
            .filter(|id| STATUSES.iter().any(|(known, _)| known == id));
        let by_name = STATUSES
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(text))
            .map(|(id, _)| *id);
        by_id.or(by_name).map(Status).ok_or_else(|| {
            usage(format!("unknown job status `{text}`")).with_hint(format!(
                "statuses: {}",
                STATUSES
                    .iter()
                    .map(|(id, name)| format!("{name} ({id})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// Several statuses; an empty list is an error.
    pub fn parse_list<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Status>, CsiError> {
        let statuses = texts
            .iter()
            .flat_map(|t| t.as_ref().split(','))
            .filter(|t| !t.trim().is_empty())
            .map(Status::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if statuses.is_empty() {
            return Err(usage("no job status given"));
        }
        Ok(statuses)
    }

    pub fn name(self) -> String {
        STATUSES
            .iter()
            .find(|(id, _)| *id == self.0)
            .map(|(_, name)| (*name).to_owned())
            .unwrap_or_else(|| format!("status_{}", self.0))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

/// `none` for a job without any status yet.
pub fn describe(status: Option<Status>) -> String {
    status.map_or_else(|| "none".to_owned(), |s| s.name())
}

/// `internal_error -> error_checked -> ready`
pub fn path_text(from: Option<Status>, path: &[Status]) -> String {
    std::iter::once(describe(from))
        .chain(path.iter().map(|s| s.name()))
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_parse_to_the_same_status() {
        assert_eq!(Status::parse("internal_error").unwrap(), Status(13));
        assert_eq!(Status::parse("Internal_Error").unwrap(), Status(13));
        assert_eq!(Status::parse("13").unwrap(), Status(13));
        assert!(Status::parse("17").is_err());
        assert!(Status::parse("broken").is_err());
    }

    #[test]
    fn lists_split_on_commas() {
        let list = Status::parse_list(&["error_checked,ready"]).unwrap();
        assert_eq!(list, vec![Status(15), Status(3)]);
        assert_eq!(
            path_text(Some(Status(13)), &list),
            "internal_error -> error_checked -> ready"
        );
        assert!(Status::parse_list::<&str>(&[]).is_err());
    }
}
