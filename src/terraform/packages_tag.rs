//! The instance-init packages tag, as the old apply script computed it:
//! `git-hash-<first 8 hex of HEAD>`, with `-changed` when the work tree is dirty.

use std::path::Path;

use crate::error::{precondition, CsiError};
use crate::process::Cmd;

pub async fn from_git(dir: &Path, allow_dirty: bool) -> Result<String, CsiError> {
    let head = git(dir, &["rev-parse", "HEAD"]).await?;
    let short: String = head.trim().chars().take(8).collect();
    let dirty = !git(dir, &["status", "--porcelain"])
        .await?
        .trim()
        .is_empty();
    if dirty && !allow_dirty {
        return Err(precondition(format!(
            "the git work tree at {} has uncommitted changes",
            dir.display()
        ))
        .with_hint("commit them, pass --allow-dirty (tag gets `-changed`), or give --tag"));
    }
    Ok(format!(
        "git-hash-{short}{}",
        if dirty { "-changed" } else { "" }
    ))
}

async fn git(dir: &Path, args: &[&str]) -> Result<String, CsiError> {
    let output = Cmd::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .await
        .map_err(|e| {
            precondition(format!("cannot compute the packages tag from git: {e}"))
                .with_hint("give the tag with --tag")
        })?;
    Ok(output.stdout_text())
}
