//! Writing secrets to disk: readable by the owner only (0600) from the
//! first byte, fsynced, and in place atomically, so a crash leaves the old
//! file or the whole new one, never a torn or world-readable secret.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why a secret could not be written.
#[derive(Debug, thiserror::Error)]
#[error("secret file {path}: {source}")]
pub struct SecretFileError {
    /// The file.
    pub path: PathBuf,
    /// The OS error (`AlreadyExists` when it would be overwritten).
    #[source]
    pub source: std::io::Error,
}

/// Writes `secret` to a new file at `path` (mode 0600, fsynced, directory
/// fsynced); never overwrites an existing file. Creates missing parent
/// directories with mode 0700.
pub fn write_new(path: &Path, secret: &[u8]) -> Result<(), SecretFileError> {
    // A hard link fails if `path` exists, where a rename would replace it.
    write(path, secret, |tmp| {
        fs::hard_link(tmp, path)?;
        fs::remove_file(tmp)
    })
}

/// Writes `secret` to `path` as [`write_new`] does, replacing a file that
/// is there.
pub fn replace(path: &Path, secret: &[u8]) -> Result<(), SecretFileError> {
    write(path, secret, |tmp| fs::rename(tmp, path))
}

/// Writes `secret` to a temporary file beside `path` (0600, fsynced), puts
/// it in place with `place`, and fsyncs the directory.
fn write(
    path: &Path,
    secret: &[u8],
    place: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), SecretFileError> {
    let error = |source| SecretFileError {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(error)?;
    }
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let _ = fs::remove_file(&tmp);
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(secret)?;
        file.sync_all()?;
        place(&tmp)?;
        File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        error(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secrets_are_owner_only_complete_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/secret");
        write_new(&path, b"first").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let error = write_new(&path, b"second").unwrap_err();
        assert_eq!(error.source.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"first");
        assert!(!dir.path().join("a/b/secret.tmp").exists());
        replace(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
