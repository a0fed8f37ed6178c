//! A child that outlives csi: `restart-waves --detach` starts csi again in the
//! background. It is the one child not waited for, so it does not go through `Cmd`
//! (which drains pipes and reports the exit status); it still lives here, so that
//! every process csi starts is started by this module.

use std::ffi::OsString;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

/// Starts `program args` with input from /dev/null and both outputs appended to `log`;
/// returns its pid. Not waited for on purpose: it outlives this process and is reaped
/// by init.
pub fn spawn_detached(program: &Path, args: &[OsString], log: File) -> std::io::Result<u32> {
    let err = log.try_clone()?;
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()?;
    Ok(child.id())
}
