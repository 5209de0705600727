//! The validator's keys, one file each under `<base>/chains/<id>/keystore`,
//! in Substrate's layout: the file name is the hex key type followed by the
//! hex public key, and the file holds the secret URI as a JSON string.
//!
//! Key types: `aura` (ed25519, block seals), `gran` (ed25519, finality votes)
//! and `mvrf` (sr25519, the audit randomness VRF).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use polkadot_sdk::sp_core::crypto::{KeyTypeId, Pair};
use polkadot_sdk::sp_core::{ed25519, sr25519};

/// Block authoring.
pub const AURA: KeyTypeId = KeyTypeId(*b"aura");
/// GRANDPA finality.
pub const GRANDPA: KeyTypeId = KeyTypeId(*b"gran");
/// The audit VRF.
pub const VRF: KeyTypeId = KeyTypeId(*b"mvrf");

/// Why a key could not be stored or used.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// Not one of `aura`, `gran`, `mvrf`.
    #[error("unsupported key type {0:?}: expected aura, gran or mvrf")]
    UnsupportedKeyType(String),
    /// The secret URI does not give a key.
    #[error("invalid secret URI")]
    InvalidSuri,
    /// The public key given does not belong to the secret.
    #[error("the public key does not match the secret URI")]
    PublicMismatch,
    /// The key file could not be written or read.
    #[error("keystore {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The signature scheme of a key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// ed25519.
    Ed25519,
    /// sr25519.
    Sr25519,
}

/// The scheme of a key type, or an error for types this node does not use.
pub fn scheme(key_type: KeyTypeId) -> Result<Scheme, KeystoreError> {
    match key_type {
        AURA | GRANDPA => Ok(Scheme::Ed25519),
        VRF => Ok(Scheme::Sr25519),
        other => Err(KeystoreError::UnsupportedKeyType(
            String::from_utf8_lossy(&other.0).into_owned(),
        )),
    }
}

/// Parses a four-letter key type.
pub fn key_type(name: &str) -> Result<KeyTypeId, KeystoreError> {
    let bytes: [u8; 4] = name
        .as_bytes()
        .try_into()
        .map_err(|_| KeystoreError::UnsupportedKeyType(name.into()))?;
    let key_type = KeyTypeId(bytes);
    scheme(key_type)?;
    Ok(key_type)
}

/// The public key of `suri` under the scheme of `key_type`.
pub fn public_of(key_type: KeyTypeId, suri: &str) -> Result<Vec<u8>, KeystoreError> {
    Ok(match scheme(key_type)? {
        Scheme::Ed25519 => ed25519::Pair::from_string(suri, None)
            .map_err(|_| KeystoreError::InvalidSuri)?
            .public()
            .to_vec(),
        Scheme::Sr25519 => sr25519::Pair::from_string(suri, None)
            .map_err(|_| KeystoreError::InvalidSuri)?
            .public()
            .to_vec(),
    })
}

/// The keys, on disk (or only in memory for `--tmp`-less tests).
pub struct Keystore {
    dir: Option<PathBuf>,
    keys: RwLock<HashMap<(KeyTypeId, Vec<u8>), String>>,
}

impl Keystore {
    /// A keystore that lives only in memory.
    pub fn in_memory() -> Self {
        Keystore {
            dir: None,
            keys: RwLock::new(HashMap::new()),
        }
    }

    /// Opens the keystore in `dir`, creating it; files that are not keys are
    /// skipped with a warning.
    pub fn open(dir: &Path) -> Result<Self, KeystoreError> {
        let io = |source| KeystoreError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut keys = HashMap::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            match read_key(&path) {
                Some((key_type, public, suri)) => {
                    keys.insert((key_type, public), suri);
                }
                None => {
                    tracing::warn!(target: "mosaic::keystore", path = %path.display(), "not a key file, skipped")
                }
            }
        }
        Ok(Keystore {
            dir: Some(dir.to_owned()),
            keys: RwLock::new(keys),
        })
    }

    /// Stores the key `suri` as `key_type`; if `public` is given it must be
    /// the key's. Returns the public key.
    pub fn insert(
        &self,
        key_type: KeyTypeId,
        suri: &str,
        public: Option<&[u8]>,
    ) -> Result<Vec<u8>, KeystoreError> {
        let derived = public_of(key_type, suri)?;
        if public.is_some_and(|p| p != derived) {
            return Err(KeystoreError::PublicMismatch);
        }
        if let Some(dir) = &self.dir {
            let path = dir.join(file_name(key_type, &derived));
            let contents = serde_json::to_string(suri).expect("a string serializes; qed");
            mosaic_api::secret_file::replace(&path, contents.as_bytes()).map_err(|e| {
                KeystoreError::Io {
                    path,
                    source: e.source,
                }
            })?;
        }
        self.keys
            .write()
            .expect("never poisoned; qed")
            .insert((key_type, derived.clone()), suri.to_owned());
        Ok(derived)
    }

    /// Whether the key is here.
    pub fn has(&self, key_type: KeyTypeId, public: &[u8]) -> bool {
        self.keys
            .read()
            .expect("never poisoned; qed")
            .contains_key(&(key_type, public.to_vec()))
    }

    fn suri(&self, key_type: KeyTypeId, public: &[u8]) -> Option<String> {
        self.keys
            .read()
            .expect("never poisoned; qed")
            .get(&(key_type, public.to_vec()))
            .cloned()
    }

    /// The ed25519 key pair for `public`, if held.
    pub fn ed25519(&self, key_type: KeyTypeId, public: &ed25519::Public) -> Option<ed25519::Pair> {
        let suri = self.suri(key_type, public.as_ref())?;
        ed25519::Pair::from_string(&suri, None).ok()
    }

    /// The sr25519 key pair for `public`, if held.
    pub fn sr25519(&self, key_type: KeyTypeId, public: &sr25519::Public) -> Option<sr25519::Pair> {
        let suri = self.suri(key_type, public.as_ref())?;
        sr25519::Pair::from_string(&suri, None).ok()
    }

    /// Stores the development keys of `seed` (`//Alice` …) for every key
    /// type.
    pub fn insert_dev(&self, seed: &str) -> Result<(), KeystoreError> {
        for key_type in [AURA, GRANDPA, VRF] {
            self.insert(key_type, seed, None)?;
        }
        Ok(())
    }
}

fn file_name(key_type: KeyTypeId, public: &[u8]) -> String {
    format!("{}{}", hex::encode(key_type.0), hex::encode(public))
}

fn read_key(path: &Path) -> Option<(KeyTypeId, Vec<u8>, String)> {
    let name = path.file_name()?.to_str()?;
    let raw = hex::decode(name).ok()?;
    let (key_type, public) = raw.split_first_chunk::<4>()?;
    let key_type = KeyTypeId(*key_type);
    let suri: String = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (public_of(key_type, &suri).ok()? == public).then(|| (key_type, public.to_vec(), suri))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_a_reopen_and_wrong_publics_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keystore = Keystore::open(dir.path()).unwrap();
        let alice = keystore.insert(AURA, "//Alice", None).unwrap();
        assert!(matches!(
            keystore.insert(GRANDPA, "//Bob", Some(&alice)),
            Err(KeystoreError::PublicMismatch)
        ));
        assert!(matches!(
            key_type("babe"),
            Err(KeystoreError::UnsupportedKeyType(_))
        ));
        std::fs::write(dir.path().join("garbage"), b"x").unwrap();
        let reopened = Keystore::open(dir.path()).unwrap();
        let public = ed25519::Public::from_raw(alice.try_into().unwrap());
        assert_eq!(reopened.ed25519(AURA, &public).unwrap().public(), public);
        assert!(reopened.ed25519(GRANDPA, &public).is_none());
    }
}
