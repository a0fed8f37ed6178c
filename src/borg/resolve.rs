//! Which archive the operator means: an exact name, `latest`, or a day (the newest
//! archive at or before it). `latest` and days only consider the nightly series (the
//! configured prefix), so a safety archive never becomes "latest".

use chrono::{DateTime, Local, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::archives::parse_local_time;
use super::extract::{DUMP_ITEM, LOCK_WAIT_SECONDS};
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
                on_or_before(self.list(&glob, None).await?, *day, &glob)
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
        let mut archives = self
            .info(&["--glob-archives", "*"])
            .await?
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

    /// The archive `spec` designates and the size of its dump, in one borg call
    /// (`borg info`, which names each archive with its start, its number of files, its
    /// size and the command that made it): a nightly or csi archive holds one file,
    /// made with `--stdin-name database-all.sql`, so that call proves the dump is there
    /// and gives its size. Only an archive made otherwise costs a second call (its
    /// items listed), and an unknown name a listing of the names nearest to it.
    pub async fn resolve_dump(
        &self,
        spec: &ArchiveSpec,
        nightly_prefix: &str,
    ) -> anyhow::Result<(Archive, u64)> {
        let glob = format!("{nightly_prefix}*");
        let info = match spec {
            ArchiveSpec::Name(name) => {
                let archive = self.archive_ref(name);
                match self.info(&[archive.as_str()]).await {
                    Ok(info) => info,
                    Err(e)
                        if e.to_string()
                            .contains(&format!("Archive {name} does not exist")) =>
                    {
                        // Only now the names, for the nearest ones.
                        return Err(self.resolve(spec, nightly_prefix).await.err().unwrap_or(e));
                    }
                    Err(e) => return Err(e),
                }
            }
            // The newest few: an interrupted create's checkpoint may be among them.
            ArchiveSpec::Latest => {
                let newest = self.nightly_info(&glob, Some(3)).await?;
                if newest.is_empty() {
                    self.nightly_info(&glob, None).await?
                } else {
                    newest
                }
            }
            ArchiveSpec::OnOrBefore(_) => self.nightly_info(&glob, None).await?,
        };
        let mut archives = info
            .iter()
            .map(|a| {
                Ok(Archive {
                    name: a.name.clone(),
                    start: parse_local_time(&a.start)?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        archives.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.name.cmp(&b.name)));
        let archive = self.choose(spec, &glob, archives)?;
        let listed = info.iter().find(|a| a.name == archive.name);
        let size = match listed.and_then(InfoArchive::dump_size) {
            Some(size) => size,
            None => self.dump_size(&archive.name).await?,
        };
        Ok((archive, size))
    }

    /// `borg info --json` of nightly archives (the newest `last`), checkpoints left out
    /// (`borg info` lists them, unlike `borg list`).
    async fn nightly_info(
        &self,
        glob: &str,
        last: Option<usize>,
    ) -> anyhow::Result<Vec<InfoArchive>> {
        let last = last.map(|n| format!("--last={n}"));
        let mut args = vec!["--glob-archives", glob];
        if let Some(last) = &last {
            args.push(last);
        }
        let mut info = self.info(&args).await?;
        info.retain(|a| !is_checkpoint(&a.name));
        Ok(info)
    }

    async fn info(&self, args: &[&str]) -> anyhow::Result<Vec<InfoArchive>> {
        let mut cmd = self
            .command()
            .args(["info", "--json"])
            .arg(format!("--lock-wait={LOCK_WAIT_SECONDS}"))
            .args(args.iter().copied());
        if !args.iter().any(|a| a.contains("::")) {
            cmd = cmd.arg(self.repository());
        }
        let output = cmd.output().await?;
        let parsed: InfoJson = serde_json::from_slice(&output.stdout)
            .map_err(|e| anyhow::anyhow!("unexpected output from borg info: {e}"))?;
        Ok(parsed.archives)
    }

    /// Which of `archives` (oldest first) `spec` designates.
    fn choose(
        &self,
        spec: &ArchiveSpec,
        glob: &str,
        archives: Vec<Archive>,
    ) -> anyhow::Result<Archive> {
        match spec {
            ArchiveSpec::Name(name) => archives
                .into_iter()
                .find(|a| &a.name == name)
                .ok_or_else(|| anyhow::anyhow!("borg info did not list archive {name}")),
            ArchiveSpec::Latest => archives.into_iter().last().ok_or_else(|| {
                precondition(format!(
                    "there is no nightly archive (`{glob}`) in {}",
                    self.repository()
                ))
                .with_hint("`csi env backups` lists every archive; name one with --archive NAME")
                .into()
            }),
            ArchiveSpec::OnOrBefore(day) => on_or_before(archives, *day, glob),
        }
    }
}

#[derive(Deserialize)]
struct InfoJson {
    archives: Vec<InfoArchive>,
}

#[derive(Deserialize)]
struct InfoArchive {
    name: String,
    start: String,
    stats: Option<Stats>,
    #[serde(default)]
    command_line: Vec<String>,
}

#[derive(Deserialize)]
struct Stats {
    original_size: u64,
    #[serde(default)]
    nfiles: u64,
}

impl InfoArchive {
    /// The dump's size, when borg's own account proves the archive is one dump: a
    /// single file, made from stdin named `database-all.sql`.
    fn dump_size(&self) -> Option<u64> {
        let stats = self.stats.as_ref()?;
        let named = self
            .command_line
            .windows(2)
            .any(|w| w[0] == "--stdin-name" && w[1] == DUMP_ITEM)
            || self
                .command_line
                .iter()
                .any(|a| a.strip_prefix("--stdin-name=") == Some(DUMP_ITEM));
        (stats.nfiles == 1 && named).then_some(stats.original_size)
    }
}

/// `NAME.checkpoint` or `NAME.checkpoint.N`: what an interrupted `borg create` leaves.
fn is_checkpoint(name: &str) -> bool {
    match name.rsplit_once(".checkpoint") {
        Some((_, rest)) => {
            rest.is_empty()
                || rest
                    .strip_prefix('.')
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        }
        None => false,
    }
}

/// The newest of `nightly` (oldest first) dumped on or before `day` (local time).
fn on_or_before(nightly: Vec<Archive>, day: NaiveDate, glob: &str) -> anyhow::Result<Archive> {
    let oldest = nightly.first().map(|a| a.name.clone());
    nightly
        .into_iter()
        .rev()
        .find(|a| a.start.with_timezone(&Local).date_naive() <= day)
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
    fn checkpoints_are_recognised() {
        for name in ["pgdump_x.checkpoint", "pgdump_x.checkpoint.2"] {
            assert!(is_checkpoint(name), "{name}");
        }
        for name in ["pgdump_x", "pgdump_x.checkpointy", "pgdump_x.checkpoint.a"] {
            assert!(!is_checkpoint(name), "{name}");
        }
    }

    #[test]
    fn one_info_proves_a_dump_only_for_one_file_named_so() {
        let info = |nfiles: u64, command: &[&str]| InfoArchive {
            name: "a".into(),
            start: "2026-11-20T04:00:00.000000".into(),
            stats: Some(Stats {
                original_size: 42,
                nfiles,
            }),
            command_line: command.iter().map(|s| s.to_string()).collect(),
        };
        let nightly = [
            "borg",
            "create",
            "--stdin-name",
            "database-all.sql",
            "r::a",
            "-",
        ];
        assert_eq!(info(1, &nightly).dump_size(), Some(42));
        assert_eq!(
            info(
                1,
                &[
                    "borg",
                    "create",
                    "--stdin-name=database-all.sql",
                    "r::a",
                    "-"
                ]
            )
            .dump_size(),
            Some(42)
        );
        assert_eq!(info(2, &nightly).dump_size(), None);
        assert_eq!(
            info(
                1,
                &["borg", "create", "--stdin-name", "other.sql", "r::a", "-"]
            )
            .dump_size(),
            None
        );
        assert_eq!(
            info(1, &["borg", "create", "r::a", "/var/dump.sql"]).dump_size(),
            None
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
