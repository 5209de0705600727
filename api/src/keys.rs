//! Account keys: from a key file or a secret URI.
//!
//! A key file holds one 32-byte secret seed as `0x`-prefixed hex on one line,
//! the form Substrate's `subkey` prints as "secret seed", and is created with
//! mode 0600. From the seed come:
//!
//! * the sr25519 account key, expanded as `sp-core` does (ed25519-style
//!   expansion of a mini secret key), so the account matches what
//!   Substrate tooling derives from the same seed;
//! * the X25519 encryption key, HPKE's `DeriveKeyPair(seed)`, whose labelled
//!   HKDF keeps it independent of the signing key.
//!
//! A secret URI (`//Alice`, a mnemonic with hard derivations) gives a seed
//! the same way `subkey` does, so `--suri //Alice` is the account Substrate
//! tooling calls Alice, with an encryption key of its own.

use std::path::Path;

use mosaic_primitives::encryption::{PublicKey as EncryptionKey, SecretKey};
use mosaic_runtime::AccountId;
use polkadot_sdk::sp_core::crypto::Ss58Codec;
use polkadot_sdk::sp_core::{sr25519, Pair};
use ring::rand::{SecureRandom, SystemRandom};
use schnorrkel::{ExpansionMode, MiniSecretKey};
use zeroize::Zeroizing;

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold a `0x` + 64 hex digit seed.
    #[error("key file {0} does not hold a 0x-prefixed 32-byte hex seed")]
    Format(String),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The secret URI does not parse, or derives softly (no seed).
    #[error("`{0}` is not a secret URI with a seed (e.g. `//Alice` or a mnemonic with `//` derivations)")]
    Suri(String),
    /// Neither or both of a key file and a secret URI were given.
    #[error("give the account with --key FILE or --suri URI (`//Alice` on a development chain)")]
    Missing,
}

/// An account's secret seed and the keys derived from it.
pub struct AccountKey {
    seed: Zeroizing<[u8; 32]>,
}

impl AccountKey {
    /// A new random key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(seed.as_mut())
            .map_err(|_| KeyError::Random)?;
        Ok(AccountKey { seed })
    }

    /// A key from its seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        AccountKey {
            seed: Zeroizing::new(seed),
        }
    }

    /// The secret seed; the account's sr25519 key is the one `sp-core`
    /// derives from it.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// A key from a secret URI, as `subkey` derives it.
    pub fn from_suri(suri: &str) -> Result<Self, KeyError> {
        match sr25519::Pair::from_string_with_seed(suri, None) {
            Ok((_, Some(seed))) => Ok(Self::from_seed(seed)),
            _ => Err(KeyError::Suri(suri.into())),
        }
    }

    /// The key a command was given: a key file or a secret URI.
    pub fn from_args(file: Option<&Path>, suri: Option<&str>) -> Result<Self, KeyError> {
        match (file, suri) {
            (Some(file), None) => Self::load(file),
            (None, Some(suri)) => Self::from_suri(suri),
            _ => Err(KeyError::Missing),
        }
    }

    /// The account's sr25519 key pair.
    pub fn pair(&self) -> sr25519::Pair {
        sr25519::Pair::from_seed(&self.seed)
    }

    /// The account.
    pub fn account_id(&self) -> AccountId {
        AccountId::from(self.account_public())
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let format = || KeyError::Format(path.display().to_string());
        let hex = text.trim().strip_prefix("0x").ok_or_else(format)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex, seed.as_mut()).map_err(|_| format())?;
        Ok(AccountKey { seed })
    }

    /// Writes a new key file readable by its owner only; never overwrites.
    pub fn save_new(&self, path: &Path) -> Result<(), KeyError> {
        let line = Zeroizing::new(format!("0x{}\n", hex::encode(self.seed.as_ref())));
        crate::secret_file::write_new(path, line.as_bytes()).map_err(|e| KeyError::Io {
            path: path.display().to_string(),
            source: e.source,
        })
    }

    /// The sr25519 account public key.
    pub fn account_public(&self) -> [u8; 32] {
        MiniSecretKey::from_bytes(self.seed.as_ref())
            .expect("any 32 bytes are a mini secret key; qed")
            .expand_to_keypair(ExpansionMode::Ed25519)
            .public
            .to_bytes()
    }

    /// The account's SS58 address.
    pub fn address(&self) -> String {
        self.account_id().to_ss58check()
    }

    /// The secret key files are encrypted to.
    pub fn encryption_secret(&self) -> SecretKey {
        SecretKey::from_seed(&self.seed)
    }

    /// The public key others encrypt to this account with.
    pub fn encryption_public(&self) -> EncryptionKey {
        self.encryption_secret().public()
    }
}

/// Parses a 32-byte encryption public key given as hex (`0x` optional).
pub fn parse_encryption_key(text: &str) -> Option<EncryptionKey> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim().trim_start_matches("0x"), &mut key).ok()?;
    Some(EncryptionKey(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alice_has_her_well_known_address() {
        // //Alice's secret seed and SS58 address as Substrate tooling prints them.
        let seed = hex::decode("e5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a")
            .unwrap();
        let alice = AccountKey::from_seed(seed.try_into().unwrap());
        assert_eq!(
            alice.address(),
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
        );
        let from_suri = AccountKey::from_suri("//Alice").unwrap();
        assert_eq!(from_suri.seed(), alice.seed());
        assert_eq!(from_suri.pair().public().0, alice.account_public());
        assert!(matches!(
            AccountKey::from_suri("/soft"),
            Err(KeyError::Suri(_))
        ));
        assert!(matches!(
            AccountKey::from_args(None, None),
            Err(KeyError::Missing)
        ));
    }

    #[test]
    fn key_files_round_trip_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let key = AccountKey::generate().unwrap();
        key.save_new(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = AccountKey::load(&path).unwrap();
        assert_eq!(loaded.address(), key.address());
        assert_eq!(loaded.encryption_public(), key.encryption_public());
        assert!(matches!(key.save_new(&path), Err(KeyError::Io { .. })));

        std::fs::write(&path, "0x1234\n").unwrap();
        assert!(matches!(AccountKey::load(&path), Err(KeyError::Format(_))));
    }
}
