//! The built dashboard on this machine: a directory (`dist/`) or a tarball of one.
//! Inspected before anything is sent: the index file must be there, at the top or
//! under one wrapping folder (which the web host strips when unpacking).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::error::{usage, CsiError};
use crate::process::Cmd;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Directory,
    Tarball,
}

/// What will be deployed.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub path: PathBuf,
    pub kind: SourceKind,
    /// Regular files in the directory, or members of the tarball.
    pub files: usize,
    /// Bytes of the files (directory) or of the tarball itself.
    pub bytes: u64,
    /// Leading path components the web host's tar strips (`./dist/index.html`: 2).
    pub strip: usize,
    /// The index file's content, which verification compares.
    #[serde(skip)]
    pub index: Vec<u8>,
}

pub async fn inspect(path: &Path, index: &str) -> anyhow::Result<Source> {
    let meta = fs_err::metadata(path).map_err(|e| {
        usage(format!("cannot read the dashboard build: {e}"))
            .with_hint("give the build output: a directory such as dist/ or a tarball of it")
    })?;
    if meta.is_dir() {
        inspect_directory(path, index)
    } else {
        inspect_tarball(path, index, meta.len()).await
    }
}

fn inspect_directory(dir: &Path, index: &str) -> anyhow::Result<Source> {
    let index_path = dir.join(index);
    if !index_path.is_file() {
        return Err(missing_index(dir, index).into());
    }
    let (files, bytes) = count_files(dir)?;
    Ok(Source {
        path: dir.to_path_buf(),
        kind: SourceKind::Directory,
        files,
        bytes,
        // `tar -C dir -cf - .` names members `./...`: nothing to strip but the `.`.
        strip: 1,
        index: fs_err::read(&index_path)?,
    })
}

fn count_files(dir: &Path) -> anyhow::Result<(usize, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for entry in fs_err::read_dir(dir)? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        if kind.is_dir() {
            let (f, b) = count_files(&entry.path())?;
            files += f;
            bytes += b;
        } else {
            files += 1;
            bytes += fs_err::symlink_metadata(entry.path())?.len();
        }
    }
    Ok((files, bytes))
}

async fn inspect_tarball(path: &Path, index: &str, size: u64) -> anyhow::Result<Source> {
    let listing = Cmd::new("tar")
        .arg("-tf")
        .arg(path)
        .output()
        .await
        .map_err(|e| {
            usage(format!(
                "{} is neither a directory nor a tarball tar can read: {e}",
                path.display()
            ))
        })?
        .stdout_text();
    let members: Vec<&str> = listing.lines().filter(|l| !l.is_empty()).collect();
    let (member, strip) = find_index(&members, index).ok_or_else(|| missing_index(path, index))?;
    let content = Cmd::new("tar")
        .arg("-xOf")
        .arg(path)
        .arg(member)
        .output()
        .await
        .with_context(|| format!("reading {member} from {}", path.display()))?
        .stdout;
    Ok(Source {
        path: path.to_path_buf(),
        kind: SourceKind::Tarball,
        files: members.iter().filter(|m| !m.ends_with('/')).count(),
        bytes: size,
        strip,
        index: content,
    })
}

/// The shallowest member named `index`, and how many leading components to strip so
/// that it lands at the top; every other member must be under the same folder.
pub fn find_index<'a>(members: &[&'a str], index: &str) -> Option<(&'a str, usize)> {
    let member = members
        .iter()
        .filter(|m| m.rsplit('/').next() == Some(index))
        .min_by_key(|m| m.matches('/').count())?;
    let prefix = &member[..member.len() - index.len()];
    let inside = |m: &&str| m.starts_with(prefix) || prefix.starts_with(*m);
    if !members.iter().all(inside) {
        return None;
    }
    Some((member, prefix.matches('/').count()))
}

fn missing_index(path: &Path, index: &str) -> CsiError {
    usage(format!(
        "{} has no {index} at its top (nor under a single folder)",
        path.display()
    ))
    .with_hint("give the build output folder (e.g. dist/) or a tarball of it; the index file name is dashboard.index")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_may_be_wrapped_in_one_folder() {
        let flat = ["index.html", "assets/", "assets/a.js"];
        assert_eq!(find_index(&flat, "index.html"), Some(("index.html", 0)));
        let dotted = ["./", "./index.html", "./assets/a.js"];
        assert_eq!(find_index(&dotted, "index.html"), Some(("./index.html", 1)));
        let wrapped = [
            "./dist/",
            "./dist/assets/",
            "./dist/assets/index.html",
            "./dist/index.html",
        ];
        assert_eq!(
            find_index(&wrapped, "index.html"),
            Some(("./dist/index.html", 2))
        );
    }

    #[test]
    fn files_outside_the_index_folder_or_no_index_are_refused() {
        let stray = ["dist/index.html", "dist/a.js", "README"];
        assert_eq!(find_index(&stray, "index.html"), None);
        assert_eq!(find_index(&["a.js"], "index.html"), None);
        assert_eq!(find_index(&["myindex.html"], "index.html"), None);
    }
}
