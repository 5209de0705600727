//! The worker's libp2p identity: an ed25519 key at
//! `<base path>/network/secret_ed25519` (32 raw bytes, mode 0600), created
//! by the first `register` or `run`, so the peer id on chain stays right.

use std::path::{Path, PathBuf};

use libp2p_identity::Keypair;

/// Why the identity could not be had.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Reading or writing the key file failed.
    #[error("worker key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an ed25519 secret.
    #[error("worker key file {0} is not a 32-byte ed25519 secret; move it away to make a new identity (the peer id on chain must then be updated)")]
    Invalid(PathBuf),
}

/// Where the key lives under `base`.
pub fn key_path(base: &Path) -> PathBuf {
    base.join("network").join("secret_ed25519")
}

/// Loads the key under `base`, or creates and stores a new one.
pub fn load_or_create(base: &Path) -> Result<Keypair, IdentityError> {
    let path = key_path(base);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let mut secret: [u8; 32] = bytes
                .try_into()
                .map_err(|_| IdentityError::Invalid(path.clone()))?;
            Keypair::ed25519_from_bytes(&mut secret).map_err(|_| IdentityError::Invalid(path))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = libp2p_identity::ed25519::Keypair::generate();
            mosaic_api::secret_file::write_new(&path, key.secret().as_ref()).map_err(|e| {
                IdentityError::Io {
                    path: path.clone(),
                    source: e.source,
                }
            })?;
            Ok(key.into())
        }
        Err(source) => Err(IdentityError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_survives_a_restart_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap().public().to_peer_id();
        assert_eq!(
            load_or_create(dir.path()).unwrap().public().to_peer_id(),
            first
        );
        let mode = std::fs::metadata(key_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(key_path(dir.path()), b"short").unwrap();
        assert!(matches!(
            load_or_create(dir.path()),
            Err(IdentityError::Invalid(_))
        ));
    }
}
