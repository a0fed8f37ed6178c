//! Putting csi's own binary on the ssh host: content-addressed by its sha256 in a
//! private folder of the ssh user (`${XDG_CACHE_HOME:-~/.cache}/csi`, mode 0700),
//! reused when present, verified after copying (written under a temporary name, its
//! sha256 checked on the host, then renamed), so a half-copied or altered file is
//! never run.

use std::io::Read as _;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::{precondition, CsiError};
use crate::ssh::Session;

/// The host's cache folder, as the host's shell expands it.
const HOST_DIR: &str = "${XDG_CACHE_HOME:-$HOME/.cache}/csi";

/// The binary to ship: `CSI_AGENT_BINARY` (a csi built for the host, e.g. a static
/// musl build for an older libc), else this one.
fn binary() -> Result<PathBuf, CsiError> {
    if let Some(path) = crate::env_vars::get(crate::env_vars::CSI_AGENT_BINARY) {
        return Ok(PathBuf::from(path));
    }
    // The running binary itself, even when its file was replaced since it started
    // (a rebuild or an upgrade during the operation).
    let running = PathBuf::from("/proc/self/exe");
    if running.exists() {
        return Ok(running);
    }
    std::env::current_exe()
        .map_err(|e| precondition(format!("cannot find csi's own binary to ship: {e}")))
}

fn sha256_of(path: &PathBuf) -> Result<String, CsiError> {
    let cannot =
        |e: std::io::Error| precondition(format!("cannot read {} to ship it: {e}", path.display()));
    let mut file = fs_err::File::open(path).map_err(cannot)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(cannot)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The binary's path on the host (for its shell), shipped if it was not there yet.
pub async fn ship(session: &Session) -> anyhow::Result<String> {
    let local = binary()?;
    let path = local.clone();
    let sha = tokio::task::spawn_blocking(move || sha256_of(&path)).await??;
    let remote = format!("\"{HOST_DIR}/csi-{sha}\"");
    let present = session
        .remote(&format!(
            "if [ -x {remote} ]; then echo present; else echo absent; fi"
        ))
        .output_any_status()
        .await?;
    if !present.status.success() {
        return Err(session
            .failure(&present.stderr, "looking for csi on the host")
            .into());
    }
    if present.stdout_text().trim() == "present" {
        return Ok(remote);
    }
    let script = format!(
        "set -e; umask 077; d=\"{HOST_DIR}\"; mkdir -p \"$d\"; chmod 700 \"$d\"; \
         t=\"$d/.csi-{sha}.$$\"; trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; \
         s=$(sha256sum < \"$t\"); s=${{s%% *}}; \
         if [ \"$s\" != {sha} ]; then echo \"the copy has sha256 $s, not {sha}\" >&2; exit 3; fi; \
         chmod 700 \"$t\"; mv -f \"$t\" \"$d/csi-{sha}\"; trap - EXIT"
    );
    let mut copy = session
        .remote(&script)
        .spawn_piped(true, false, |line| tracing::info!("shipping csi: {line}"))?;
    let mut stdin = copy.stdin_pipe()?;
    let sent = tokio::task::spawn_blocking(move || {
        let mut file = fs_err::File::open(&local)?;
        std::io::copy(&mut file, &mut stdin)
    })
    .await?;
    let finished = copy.wait().await?;
    if !finished.success() {
        return Err(session
            .failure(&finished.stderr_tail, "copying csi to the host")
            .into());
    }
    let bytes = sent?;
    tracing::info!(
        "shipped csi ({bytes} bytes, sha256 {sha}) to {}",
        session.destination()
    );
    Ok(remote)
}
