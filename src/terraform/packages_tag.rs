//! The instance-init packages tag, formed as the apply script formed it:
//! `git-hash-$(git rev-parse --short=8 HEAD)`, plus `-changed` when
//! `git diff-index --quiet HEAD --` sees changes to tracked files. Untracked files
//! (the `.terraform.lock.hcl` that init writes, a local note) never make it dirty.

use std::path::Path;

use crate::error::{precondition, CsiError};
use crate::process::Cmd;

pub async fn from_git(dir: &Path, allow_dirty: bool) -> Result<String, CsiError> {
    let short = git(dir, &["rev-parse", "--short=8", "HEAD"]).await?;
    if !short.status.success() {
        return Err(precondition(format!(
            "cannot compute the packages tag: {} is not in a git work tree with a commit",
            dir.display()
        ))
        .with_hint("give the tag with --tag"));
    }
    let short = short.stdout_text().trim().to_owned();
    let diff = git(dir, &["diff-index", "--quiet", "HEAD", "--"]).await?;
    let dirty = match diff.status.code() {
        Some(0) => false,
        Some(1) => true,
        _ => {
            return Err(precondition(format!(
                "git diff-index failed in {}: {}",
                dir.display(),
                diff.stderr.trim()
            ))
            .with_hint("give the tag with --tag"))
        }
    };
    if dirty && !allow_dirty {
        return Err(precondition(format!(
            "tracked files of the git work tree at {} have uncommitted changes",
            dir.display()
        ))
        .with_hint("commit them, pass --allow-dirty (tag gets `-changed`), or give --tag"));
    }
    Ok(format!(
        "git-hash-{short}{}",
        if dirty { "-changed" } else { "" }
    ))
}

async fn git(dir: &Path, args: &[&str]) -> Result<crate::process::Output, CsiError> {
    Cmd::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output_any_status()
        .await
        .map_err(|e| {
            precondition(format!("cannot compute the packages tag from git: {e}"))
                .with_hint("give the tag with --tag")
        })
}
