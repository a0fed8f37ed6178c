//! Before a start: are the instance-init packages of the tag where the VMs will fetch
//! them? The apply script asked rclone (`rclone lsf csi:$bucket/instance_init_packages/$tag`,
//! with the operator's own rclone configuration); csi does the same, and refuses.

use crate::error::{precondition, CsiError};
use crate::process::Cmd;

/// `<location>/<tag>`, e.g. `csi:hrsi-prod-packages/instance_init_packages/git-hash-0123abcd`.
pub fn path(location: &str, tag: &str) -> String {
    format!("{}/{tag}", location.trim_end_matches('/'))
}

/// Ok with the path and how many entries it holds; a precondition error naming the path
/// when nothing is there or it cannot be listed.
pub async fn check(location: &str, tag: &str) -> Result<(String, usize), CsiError> {
    let path = path(location, tag);
    let how_to_build = format!(
        "build and upload them with build/build.sh of the system repository (it fills instance_init_packages/{tag}), or give --tag of packages that exist"
    );
    let rclone = crate::terraform::find_program("rclone").ok_or_else(|| {
        precondition("rclone not found: csi checks the init packages with it before a start")
            .with_hint("install rclone (scripts/bootstrap.sh does) and configure its remote")
    })?;
    let output = Cmd::new(rclone)
        .args(["lsf", "--max-depth", "1"])
        .arg(&path)
        .output_any_status()
        .await
        .map_err(|e| precondition(format!("cannot run rclone: {e}")))?;
    if !output.status.success() {
        let said = output
            .stderr
            .lines()
            .rfind(|l| !l.contains("NOTICE"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        return Err(precondition(format!(
            "the init packages of tag {tag} cannot be listed at {path}: {said}; nothing was changed"
        ))
        .with_hint(format!(
            "check the rclone remote and bucket (`rclone lsd {}`); if the packages are missing, {how_to_build}",
            location.split('/').next().unwrap_or(location)
        )));
    }
    let entries = output
        .stdout_text()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    if entries == 0 {
        return Err(precondition(format!(
            "the init packages of tag {tag} are missing: nothing at {path}; nothing was changed"
        ))
        .with_hint(how_to_build));
    }
    Ok((path, entries))
}
