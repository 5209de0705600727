//! The worker's libp2p identity: an ed25519 key at
//! `<base path>/network/secret_ed25519` ([`mosaic_api::p2p_key`]), created
//! by the first `register` or `run`, so the peer id on chain stays right.

use std::path::{Path, PathBuf};

use libp2p_identity::Keypair;
use mosaic_api::p2p_key::{self, P2pKeyError};

/// Where the key lives under `base`.
pub fn key_path(base: &Path) -> PathBuf {
    base.join("network").join("secret_ed25519")
}

/// Loads the key under `base`, or creates and stores a new one.
pub fn load_or_create(base: &Path) -> Result<Keypair, P2pKeyError> {
    p2p_key::load_or_create(&key_path(base))
}
