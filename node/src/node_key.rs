//! The node's libp2p identity: an ed25519 key kept at
//! `<chain dir>/network/secret_ed25519` (32 raw bytes, as Substrate keeps
//! it, mode 0600), created on first start, so the peer id stays the same across
//! restarts. `--node-key` overrides it.

use std::path::Path;

use libp2p_identity::{Keypair, PeerId};

/// Why the node key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum NodeKeyError {
    /// Reading or writing the key file failed.
    #[error("node key file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not an ed25519 secret.
    #[error("the node key is not a 32-byte ed25519 secret")]
    Invalid,
}

/// The key from 32 secret bytes.
pub fn from_secret(mut secret: [u8; 32]) -> Result<Keypair, NodeKeyError> {
    Keypair::ed25519_from_bytes(&mut secret).map_err(|_| NodeKeyError::Invalid)
}

/// Loads the key at `path`, or creates and stores a new one.
pub fn load_or_create(path: &Path) -> Result<Keypair, NodeKeyError> {
    let io = |source| NodeKeyError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => from_secret(bytes.try_into().map_err(|_| NodeKeyError::Invalid)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = libp2p_identity::ed25519::Keypair::generate();
            mosaic_api::secret_file::write_new(path, key.secret().as_ref())
                .map_err(|e| io(e.source))?;
            Ok(key.into())
        }
        Err(e) => Err(io(e)),
    }
}

/// The peer id of a key.
pub fn peer_id(key: &Keypair) -> PeerId {
    key.public().to_peer_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_id_survives_a_restart_and_bad_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network/secret_ed25519");
        let first = peer_id(&load_or_create(&path).unwrap());
        assert_eq!(peer_id(&load_or_create(&path).unwrap()), first);
        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(load_or_create(&path), Err(NodeKeyError::Invalid)));
    }
}
