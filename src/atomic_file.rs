//! Replacing a file so that a crash leaves either the old or the new contents: job
//! files, and the state files that let an upgrade or a wave restart resume.

use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Writes `contents` to a temporary file in the same directory, fsyncs it, renames it
/// over `path` and fsyncs the directory. The permission bits of the file being replaced
/// are kept (0644 for a new file), and so are its owner and group when the process may
/// set them. A symbolic link is followed: its target is replaced, the link stays.
pub fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    let target = resolve(path)?;
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let original = match fs_err::metadata(&target) {
        Ok(metadata) => Some(metadata),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let name = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| with_path(e, "creating a temporary file in", &dir))?;
    let temp_path = temp.path().to_path_buf();
    let file = temp.as_file_mut();
    file.write_all(contents.as_bytes())
        .map_err(|e| with_path(e, "writing", &temp_path))?;
    let mode = original.as_ref().map_or(0o644, |m| m.mode() & 0o7777);
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| with_path(e, "setting the permissions of", &temp_path))?;
    if let Some(original) = &original {
        // Best effort: only root may give a file away.
        let _ = std::os::unix::fs::fchown(&*file, Some(original.uid()), Some(original.gid()));
    }
    file.sync_all()
        .map_err(|e| with_path(e, "syncing", &temp_path))?;
    temp.persist(&target)
        .map_err(|e| with_path(e.error, "renaming the temporary file over", &target))?;
    fs_err::File::open(&dir)?.sync_all()?;
    Ok(())
}

/// The file to replace: `path`, or the file a symbolic link at `path` points to.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    match fs_err::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs_err::canonicalize(path),
        _ => Ok(path.to_path_buf()),
    }
}

fn with_path(error: io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{doing} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::write_atomically;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn replaces_contents_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.nomad");
        fs_err::write(&path, "old").unwrap();
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&path, "new").unwrap();
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "new");
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = fs_err::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn new_file_and_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.nomad");
        write_atomically(&path, "x").unwrap();
        let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644);

        let link = dir.path().join("link.nomad");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        write_atomically(&link, "y").unwrap();
        assert!(fs_err::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "y");
    }

    #[test]
    fn errors_name_the_path() {
        let err =
            write_atomically(std::path::Path::new("/nonexistent-dir/x.nomad"), "x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir"), "{err}");
    }
}
