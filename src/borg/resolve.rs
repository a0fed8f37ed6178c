//! Which archive the operator means: an exact name, `latest`, or a day (the newest
//! archive at or before it). `latest` and days only consider the nightly series (the
//! configured prefix), so a safety archive never becomes "latest".

use chrono::{DateTime, Local, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::archives::parse_local_time;
use super::extract::LOCK_WAIT_SECONDS;
use super::{Archive, Borg};
use crate::error::{precondition, usage};

/// Prefix of the archives csi makes before a restore; never the nightly prefix.
pub const SAFETY_PREFIX: &str = "pre-restore-";
/// Prefix of the archives csi makes before a schema patch.
pub const PATCH_SAFETY_PREFIX: &str = "pre-patch-";
/// Prefix of the archives csi makes before an upgrade's migrations.
pub const UPGRADE_SAFETY_PREFIX: &str = "pre-upgrade-";
const SAFETY_PREFIXES: [&str; 3] = [SAFETY_PREFIX, PATCH_SAFETY_PREFIX, UPGRADE_SAFETY_PREFIX];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveSpec {
    Latest,
    /// The newest nightly archive dumped at or before this (local) day.
    OnOrBefore(NaiveDate),
    Name(String),
}

impl ArchiveSpec {
    pub fn parse(text: &str) -> Self {
        if text == "latest" {
            return ArchiveSpec::Latest;
        }
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(day) if text.len() == 10 => ArchiveSpec::OnOrBefore(day),
            _ => ArchiveSpec::Name(text.to_owned()),
        }
    }
}

/// `nightly`, `safety` or `other`.
pub fn archive_kind(name: &str, nightly_prefix: &str) -> &'static str {
    if name.starts_with(nightly_prefix) {
        "nightly"
    } else if SAFETY_PREFIXES.iter().any(|p| name.starts_with(p)) {
        "safety"
    } else {
        "other"
    }
}

/// `pre-restore-2026-11-21T10:42:07` (local time, like the nightly names).
pub fn safety_archive_name(now: DateTime<Local>) -> String {
    format!("{SAFETY_PREFIX}{}", now.format("%Y-%m-%dT%H:%M:%S"))
}

/// `<prefix>2026-11-21T10:42:07`, the nightly job's name for a dump made now.
pub fn nightly_archive_name(prefix: &str, now: DateTime<Local>) -> String {
    format!("{prefix}{}", now.format("%Y-%m-%dT%H:%M:%S"))
}

impl Borg {
    /// The archive `spec` designates.
    pub async fn resolve(
        &self,
        spec: &ArchiveSpec,
        nightly_prefix: &str,
    ) -> anyhow::Result<Archive> {
        let glob = format!("{nightly_prefix}*");
        match spec {
            ArchiveSpec::Latest => self.list(&glob, Some(1)).await?.pop().ok_or_else(|| {
                precondition(format!(
                    "there is no nightly archive (`{glob}`) in {}",
                    self.repository()
                ))
                .with_hint("`csi env backups` lists every archive; name one with --archive NAME")
                .into()
            }),
            ArchiveSpec::OnOrBefore(day) => {
                let nightly = self.list(&glob, None).await?;
                let oldest = nightly.first().map(|a| a.name.clone());
                nightly
                    .into_iter()
                    .rev()
                    .find(|a| a.start.with_timezone(&Local).date_naive() <= *day)
                    .ok_or_else(|| {
                        let hint = match oldest {
                            Some(name) => format!("the oldest nightly archive is {name}"),
                            None => format!("there is no nightly archive (`{glob}`) at all"),
                        };
                        precondition(format!("no nightly archive was made on or before {day}"))
                            .with_hint(hint)
                            .into()
                    })
            }
            ArchiveSpec::Name(name) => {
                let all = self.list("*", None).await?;
                if let Some(found) = all.iter().find(|a| &a.name == name) {
                    return Ok(found.clone());
                }
                let nearest = nearest(name, all.iter().map(|a| a.name.as_str()));
                let hint = if nearest.is_empty() {
                    "the repository has no archive at all".to_owned()
                } else {
                    format!("nearest names: {}", nearest.join(", "))
                };
                Err(usage(format!(
                    "no archive named `{name}` in {}",
                    self.repository()
                ))
                .with_hint(hint)
                .into())
            }
        }
    }

    /// Every archive with its dump's size (`borg info --json`), newest first.
    pub async fn list_with_sizes(&self) -> anyhow::Result<Vec<ArchiveInfo>> {
        #[derive(Deserialize)]
        struct InfoJson {
            archives: Vec<InfoArchive>,
        }
        #[derive(Deserialize)]
        struct InfoArchive {
            name: String,
            start: String,
            stats: Option<Stats>,
        }
        #[derive(Deserialize)]
        struct Stats {
            original_size: u64,
        }
        let output = self
            .command()
            .args(["info", "--json", "--glob-archives", "*"])
            .arg(format!("--lock-wait={LOCK_WAIT_SECONDS}"))
            .arg(self.repository())
            .output()
            .await?;
        let parsed: InfoJson = serde_json::from_slice(&output.stdout)
            .map_err(|e| anyhow::anyhow!("unexpected output from borg info: {e}"))?;
        let mut archives = parsed
            .archives
            .into_iter()
            .map(|a| {
                Ok(ArchiveInfo {
                    start: parse_local_time(&a.start)?,
                    size: a.stats.map(|s| s.original_size),
                    name: a.name,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        archives.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| b.name.cmp(&a.name)));
        Ok(archives)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ArchiveInfo {
    pub name: String,
    pub start: DateTime<Utc>,
    /// The dump's size in bytes.
    pub size: Option<u64>,
}

/// Up to three names closest to `wanted`.
pub fn nearest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> =
        names.map(|n| (strsim::levenshtein(wanted, n), n)).collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| n.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(ArchiveSpec::parse("latest"), ArchiveSpec::Latest);
        assert_eq!(
            ArchiveSpec::parse("2026-11-19"),
            ArchiveSpec::OnOrBefore(NaiveDate::from_ymd_opt(2026, 11, 19).unwrap())
        );
        assert_eq!(
            ArchiveSpec::parse("pgdump_2026-11-19T04:00:00"),
            ArchiveSpec::Name("pgdump_2026-11-19T04:00:00".into())
        );
    }

    #[test]
    fn kinds_and_names() {
        assert_eq!(archive_kind("pgdump_x", "pgdump_"), "nightly");
        assert_eq!(archive_kind("pre-restore-x", "pgdump_"), "safety");
        assert_eq!(archive_kind("pre-patch-x", "pgdump_"), "safety");
        assert_eq!(archive_kind("pre-upgrade-x", "pgdump_"), "safety");
        assert_eq!(archive_kind("manual", "pgdump_"), "other");
        assert_eq!(
            nearest(
                "pgdump_2026-11-18",
                [
                    "pgdump_2026-11-19T04:00:00",
                    "x",
                    "pgdump_2026-11-18T04:00:00"
                ]
                .into_iter()
            ),
            [
                "pgdump_2026-11-18T04:00:00",
                "pgdump_2026-11-19T04:00:00",
                "x"
            ]
        );
    }
}
