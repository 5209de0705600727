//! A libp2p identity kept in a file: an ed25519 secret as 32 raw bytes (as
//! Substrate keeps a node key), mode 0600, created on first use, so that a
//! node's, a worker's or a gateway's peer id stays the same across
//! restarts.

use std::path::{Path, PathBuf};

use libp2p_identity::{ed25519, Keypair};

/// Why the identity could not be had.
#[derive(Debug, thiserror::Error)]
pub enum P2pKeyError {
    /// Reading or writing the key file failed.
    #[error("cannot read or write the libp2p key file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold an ed25519 secret.
    #[error("libp2p key file {0} is not a 32-byte ed25519 secret; move it away to make a new identity (a new peer id)")]
    Invalid(PathBuf),
    /// The secret given is not an ed25519 secret.
    #[error("the libp2p key is not a 32-byte ed25519 secret")]
    InvalidSecret,
}

/// The key from 32 secret bytes.
pub fn from_secret(mut secret: [u8; 32]) -> Result<Keypair, P2pKeyError> {
    Keypair::ed25519_from_bytes(&mut secret).map_err(|_| P2pKeyError::InvalidSecret)
}

/// Loads the key at `path`, or creates one there (0600, fsynced, never
/// overwriting a file).
pub fn load_or_create(path: &Path) -> Result<Keypair, P2pKeyError> {
    let io = |source| P2pKeyError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let invalid = || P2pKeyError::Invalid(path.to_owned());
            let mut secret: [u8; 32] = bytes.try_into().map_err(|_| invalid())?;
            Keypair::ed25519_from_bytes(&mut secret).map_err(|_| invalid())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = ed25519::Keypair::generate();
            crate::secret_file::write_new(path, key.secret().as_ref()).map_err(|e| io(e.source))?;
            Ok(key.into())
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_id_survives_a_restart_the_file_is_private_and_bad_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network/secret_ed25519");
        let first = load_or_create(&path).unwrap().public().to_peer_id();
        assert_eq!(load_or_create(&path).unwrap().public().to_peer_id(), first);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let other = dir.path().join("other");
        assert_ne!(load_or_create(&other).unwrap().public().to_peer_id(), first);
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(P2pKeyError::Invalid(_))
        ));
        assert!(load_or_create(dir.path()).is_err(), "a directory is no key");
    }
}
