//! Job statuses: ids and names as the database defines them (`<schema>.job_status`,
//! production's 16 rows), read once per command, never built in.

use std::fmt;
use std::sync::RwLock;

use serde::{Serialize, Serializer};

use crate::database::pg_error::PgContext;
use crate::database::require::{require_columns, Needed};
use crate::error::{usage, CsiError};

/// A job status id (`parent_jobs.last_status_id`, `job_status_changes.job_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Status(pub i16);

/// The names of the database the process works on, for [`Status`]'s `Display`: a
/// status is a `Copy` id carried through selections, plans and summaries, and one
/// command reads one database's statuses ([`StatusNames::load`] installs them).
static INSTALLED: RwLock<Vec<(i16, String)>> = RwLock::new(Vec::new());

/// The statuses of `<schema>.job_status`: what operators type and what csi prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusNames {
    names: Vec<(i16, String)>,
}

impl StatusNames {
    /// Reads `<schema>.job_status` (id, name) and installs the names for display.
    /// `purpose` says what the command needs them for (named in the error when the
    /// table or a column is missing, or the table is empty).
    pub async fn load(
        client: &tokio_postgres::Client,
        schema: &str,
        purpose: &str,
    ) -> anyhow::Result<Self> {
        let needed = Needed::new(schema, "job_status", purpose);
        require_columns(client, &needed, &["id", "name"]).await?;
        let rows = client
            .query(
                &format!(
                    "select id::int2, name::text from {} order by id",
                    needed.qualified()
                ),
                &[],
            )
            .await
            .pg_context(format!("reading {}", needed.display()))?;
        let source = format!("{}.id/name", needed.display());
        let names = rows
            .iter()
            .map(|r| {
                Ok((
                    crate::database::decode::get::<i16>(r, 0, &source)?,
                    crate::database::decode::get::<String>(r, 1, &source)?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if names.is_empty() {
            return Err(crate::error::precondition(format!(
                "{} is empty: {purpose} needs the job statuses it lists",
                needed.display()
            ))
            .with_hint("production's schema inserts its 16 statuses (init_database.sql)")
            .into());
        }
        let names = StatusNames { names };
        names.install();
        Ok(names)
    }

    /// A catalog from pairs (tests, and rows already read).
    pub fn from_pairs<S: Into<String>>(pairs: impl IntoIterator<Item = (i16, S)>) -> Self {
        StatusNames {
            names: pairs.into_iter().map(|(id, n)| (id, n.into())).collect(),
        }
    }

    /// Makes these the names `Status` displays with.
    pub fn install(&self) {
        if let Ok(mut installed) = INSTALLED.write() {
            installed.clone_from(&self.names);
        }
    }

    /// A name (`internal_error`, any case) or an id (`13`).
    pub fn parse(&self, text: &str) -> Result<Status, CsiError> {
        let text = text.trim();
        let by_id = text
            .parse::<i16>()
            .ok()
            .filter(|id| self.names.iter().any(|(known, _)| known == id));
        let by_name = self
            .names
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(text))
            .map(|(id, _)| *id);
        by_id.or(by_name).map(Status).ok_or_else(|| {
            usage(format!("unknown job status `{text}`")).with_hint(format!(
                "the database's statuses: {}",
                self.names
                    .iter()
                    .map(|(id, name)| format!("{name} ({id})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// Several statuses (comma-separated or repeated); an empty list is an error.
    pub fn parse_list<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Status>, CsiError> {
        let statuses = texts
            .iter()
            .flat_map(|t| t.as_ref().split(','))
            .filter(|t| !t.trim().is_empty())
            .map(|t| self.parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        if statuses.is_empty() {
            return Err(usage("no job status given"));
        }
        Ok(statuses)
    }
}

impl Status {
    /// The installed name, else `status_<id>` (an id the database does not list).
    pub fn name(self) -> String {
        INSTALLED
            .read()
            .ok()
            .and_then(|names| {
                names
                    .iter()
                    .find(|(id, _)| *id == self.0)
                    .map(|(_, name)| name.clone())
            })
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
pub(crate) mod tests {
    use super::*;

    /// Production's 16 statuses, as its init_database.sql inserts them.
    pub(crate) fn production() -> StatusNames {
        StatusNames::from_pairs([
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
        ])
    }

    #[test]
    fn names_and_ids_parse_to_the_same_status() {
        let names = production();
        assert_eq!(names.parse("internal_error").unwrap(), Status(13));
        assert_eq!(names.parse("Internal_Error").unwrap(), Status(13));
        assert_eq!(names.parse("13").unwrap(), Status(13));
        assert!(names.parse("17").is_err());
        let err = names.parse("broken").unwrap_err();
        assert!(err.hint.unwrap_or_default().contains("cancelled (16)"));
    }

    #[test]
    fn a_database_with_other_statuses_is_read_as_it_is() {
        let names = StatusNames::from_pairs([(1, "new"), (40, "archived")]);
        assert_eq!(names.parse("archived").unwrap(), Status(40));
        assert!(names.parse("ready").is_err());
        assert!(names.parse("3").is_err());
    }

    #[test]
    fn lists_split_on_commas() {
        let names = production();
        names.install();
        let list = names.parse_list(&["error_checked,ready"]).unwrap();
        assert_eq!(list, vec![Status(15), Status(3)]);
        assert_eq!(
            path_text(Some(Status(13)), &list),
            "internal_error -> error_checked -> ready"
        );
        assert!(names.parse_list::<&str>(&[]).is_err());
        assert_eq!(Status(99).name(), "status_99");
    }
}
