//! The authorized status transitions: read from the database's
//! `<schema>.job_status_transitions` when it has one (what its trigger enforces),
//! else the reference's table, built in.

use std::collections::BTreeSet;
use std::fmt;

use crate::database::pg_error::PgContext;
use serde::Serialize;

use super::status::{describe, Status};
use crate::database::dump::quote_ident;

/// `(from, to)`; `from` None = a job without any status yet.
#[derive(Debug, Clone)]
pub struct Transitions {
    allowed: BTreeSet<(Option<i16>, i16)>,
    pub source: String,
}

/// The first step of a walk that the rules do not allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disallowed {
    pub from: Option<Status>,
    pub to: Status,
    /// What `from` may go to.
    pub allowed: Vec<Status>,
}

impl fmt::Display for Disallowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed = if self.allowed.is_empty() {
            "nothing".to_owned()
        } else {
            self.allowed
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(
            f,
            "{} -> {} is not an authorized transition (allowed from {}: {allowed})",
            describe(self.from),
            self.to,
            describe(self.from)
        )
    }
}

/// The reference's table (hrsi-system.md, "Authorized transitions").
const BUILT_IN: &[(Option<i16>, &[i16])] = &[
    (None, &[1, 5, 13, 16]),
    (Some(1), &[2, 13, 14, 16]),
    (Some(2), &[3, 13, 16]),
    (Some(3), &[4, 13, 14, 16]),
    (Some(4), &[5, 13]),
    (Some(5), &[6, 13, 14, 16]),
    (Some(6), &[7, 13, 14, 16]),
    (Some(7), &[8, 13, 14, 16]),
    (Some(8), &[9, 13, 14, 16]),
    (Some(9), &[10, 12, 13, 14, 16]),
    (Some(10), &[11, 13, 14, 16]),
    (Some(11), &[12]),
    (Some(12), &[13, 14]),
    (Some(13), &[13, 14, 15]),
    (Some(14), &[5, 13, 14, 15]),
    (
        Some(15),
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
    ),
    (Some(16), &[13]),
];

impl Transitions {
    pub fn built_in() -> Self {
        let allowed = BUILT_IN
            .iter()
            .flat_map(|(from, tos)| tos.iter().map(move |to| (*from, *to)))
            .collect();
        Transitions {
            allowed,
            source: "built in (production's check_status_change trigger)".to_owned(),
        }
    }

    /// The database's table when it exists, else the built-in one.
    pub async fn load(client: &tokio_postgres::Client, schema: &str) -> anyhow::Result<Self> {
        let table = format!("{}.job_status_transitions", quote_ident(schema));
        let row = client
            .query_one("select to_regclass($1) is not null", &[&table])
            .await
            .pg_context("looking for the job status transitions table")?;
        let exists: bool = crate::database::decode::get(&row, 0, "to_regclass")?;
        if !exists {
            return Ok(Self::built_in());
        }
        let rows = client
            .query(
                &format!("select from_status::int2, to_status::int2 from {table}"),
                &[],
            )
            .await
            .pg_context(format!("reading {table}"))?;
        let source = format!("{table}.from_status/to_status");
        let allowed = rows
            .iter()
            .map(|r| {
                Ok((
                    crate::database::decode::get(r, 0, &source)?,
                    crate::database::decode::get(r, 1, &source)?,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Transitions {
            allowed,
            source: format!("{schema}.job_status_transitions"),
        })
    }

    pub fn allows(&self, from: Option<Status>, to: Status) -> bool {
        self.allowed.contains(&(from.map(|s| s.0), to.0))
    }

    pub fn allowed_from(&self, from: Option<Status>) -> Vec<Status> {
        let key = from.map(|s| s.0);
        self.allowed
            .iter()
            .filter(|(f, _)| *f == key)
            .map(|(_, t)| Status(*t))
            .collect()
    }

    /// Every step of `from -> path[0] -> path[1] ...`, or the first that is not allowed.
    pub fn check_path(&self, from: Option<Status>, path: &[Status]) -> Result<(), Disallowed> {
        let mut current = from;
        for &next in path {
            if !self.allows(current, next) {
                return Err(Disallowed {
                    from: current,
                    to: next,
                    allowed: self.allowed_from(current),
                });
            }
            current = Some(next);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repair_path_is_allowed_from_both_errors_only() {
        crate::jobs::status::tests::production().install();
        let rules = Transitions::built_in();
        let path = [Status(15), Status(3)];
        assert!(rules.check_path(Some(Status(13)), &path).is_ok());
        assert!(rules.check_path(Some(Status(14)), &path).is_ok());
        let err = rules.check_path(Some(Status(12)), &path).unwrap_err();
        assert_eq!(err.from, Some(Status(12)));
        assert_eq!(err.to, Status(15));
        assert_eq!(
            err.to_string(),
            "done -> error_checked is not an authorized transition \
             (allowed from done: internal_error, external_error)"
        );
    }

    #[test]
    fn a_later_step_can_be_the_one_refused() {
        let rules = Transitions::built_in();
        // 13 -> 15 is fine, 15 -> anything is fine; 3 -> 12 is not.
        let err = rules
            .check_path(Some(Status(13)), &[Status(15), Status(3), Status(12)])
            .unwrap_err();
        assert_eq!(err.from, Some(Status(3)));
        assert_eq!(err.to, Status(12));
    }

    #[test]
    fn jobs_without_status_may_only_start_as_documented() {
        let rules = Transitions::built_in();
        assert!(rules.allows(None, Status(1)));
        assert!(!rules.allows(None, Status(3)));
    }
}
