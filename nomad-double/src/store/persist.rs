//! Optional JSON persistence of the whole state (`--state-file`).

use super::Store;
use std::io;
use std::path::Path;

/// Loads the state file, or a fresh store when it does not exist yet.
pub fn load(path: &Path) -> io::Result<Store> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("state file {}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Store::new()),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("state file {}: {e}", path.display()),
        )),
    }
}

/// Writes the state atomically (temporary file, then rename).
pub fn save(path: &Path, store: &Store) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec(store).map_err(io::Error::other)?;
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| io::Error::new(e.kind(), format!("state file {}: {e}", path.display())))
}
