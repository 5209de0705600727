//! Each transaction signature verified once per node, not three times.
//!
//! A node checks a transaction's signature when the transaction enters its
//! pool, again when it builds a block with it, and again when it imports a
//! block that carries it; sr25519 verification was about half of all the
//! work of authoring and importing full blocks (issue 17). A node may keep
//! what it has verified: a verification is a pure function of the
//! signature, the signer and the message, so a remembered success answers
//! exactly as verifying again would, and blocks are valid or invalid just
//! as before (consensus does not depend on any node's cache).
//!
//! [`Signature`] is the runtime's transaction signature: a
//! [`MultiSignature`] with the same encoding and the same type information
//! (clients and the metadata see `MultiSignature`), whose
//! [`verify`](Verify::verify) first asks the node's [`SignatureCache`]
//! (registered by [`native`](crate::native) as an externalities extension)
//! and records each success there. Only successes are recorded; a call with
//! no cache registered verifies as usual. The cache is keyed by a BLAKE2-256
//! hash of the signature, the signer and the message, and holds at most
//! [`SignatureCache::CAPACITY`] entries, the least recently used leaving
//! first, whatever is sent to the node.

use std::sync::{Arc, Mutex};

use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::sp_externalities::{decl_extension, with_externalities, ExternalitiesExt};
use polkadot_sdk::sp_io::hashing::blake2_256;
use polkadot_sdk::sp_runtime::traits::{IdentifyAccount, Lazy, Verify};
use polkadot_sdk::sp_runtime::{AccountId32, MultiSignature, MultiSigner};
use scale_info::TypeInfo;
use schnellru::{ByLength, LruMap};

/// Signatures a node has verified: shared by its pool, its block builder
/// and its block import. A default cache is off (remembers nothing).
#[derive(Clone, Default)]
pub struct SignatureCache(Option<Arc<Mutex<Entries>>>);

/// Verification keys, least recently used first out.
type Entries = LruMap<[u8; 32], ()>;

impl SignatureCache {
    /// Entries kept: 2 MiB or so, several full pools' worth of transfers.
    pub const CAPACITY: u32 = 65_536;

    /// A cache of [`Self::CAPACITY`] entries.
    pub fn new() -> Self {
        SignatureCache(Some(Arc::new(Mutex::new(LruMap::new(ByLength::new(
            Self::CAPACITY,
        ))))))
    }

    fn entries(&self) -> Option<std::sync::MutexGuard<'_, Entries>> {
        // A panic elsewhere cannot leave the map wrong: each use is one call.
        let map = self.0.as_ref()?;
        Some(map.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn contains(&self, key: &[u8; 32]) -> bool {
        self.entries().is_some_and(|mut map| map.get(key).is_some())
    }

    fn insert(&self, key: [u8; 32]) {
        if let Some(mut map) = self.entries() {
            map.insert(key, ());
        }
    }

    /// How many signatures are remembered.
    pub fn len(&self) -> usize {
        self.entries().map_or(0, |map| map.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

decl_extension! {
    /// The node's [`SignatureCache`], as the runtime finds it.
    pub struct SignatureCacheExt(SignatureCache);
}

/// The runtime's transaction signature: a [`MultiSignature`] (sr25519,
/// ed25519 or ecdsa), verified through the node's [`SignatureCache`].
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen)]
pub struct Signature(pub MultiSignature);

impl TypeInfo for Signature {
    // The same entry in the metadata as MultiSignature itself.
    type Identity = MultiSignature;

    fn type_info() -> scale_info::Type {
        MultiSignature::type_info()
    }
}

impl From<MultiSignature> for Signature {
    fn from(signature: MultiSignature) -> Self {
        Signature(signature)
    }
}

impl Verify for Signature {
    type Signer = MultiSigner;

    fn verify<L: Lazy<[u8]>>(
        &self,
        mut msg: L,
        signer: &<Self::Signer as IdentifyAccount>::AccountId,
    ) -> bool {
        let msg = msg.get();
        let cache = with_externalities(|mut ext| {
            ext.extension::<SignatureCacheExt>()
                .map(|ext| ext.0.clone())
        })
        .flatten()
        .unwrap_or_default();
        let key = key(&self.0, signer, msg);
        if cache.contains(&key) {
            return true;
        }
        let valid = self.0.verify(msg, signer);
        if valid {
            cache.insert(key);
        }
        valid
    }
}

/// What a verification is remembered by.
fn key(signature: &MultiSignature, signer: &AccountId32, msg: &[u8]) -> [u8; 32] {
    blake2_256(&(b"mosaic/verified-signature", signature, signer, msg).encode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use polkadot_sdk::sp_core::{sr25519, Pair};
    use polkadot_sdk::sp_io::TestExternalities;

    fn signed(msg: &[u8]) -> (Signature, AccountId32) {
        let pair = sr25519::Pair::from_seed(&[7; 32]);
        (
            Signature(MultiSignature::Sr25519(pair.sign(msg))),
            pair.public().into(),
        )
    }

    fn with_cache<R>(cache: &SignatureCache, f: impl FnOnce() -> R) -> R {
        let mut ext = TestExternalities::default();
        ext.register_extension(SignatureCacheExt(cache.clone()));
        ext.execute_with(f)
    }

    #[test]
    fn a_success_is_remembered_and_answers_the_same() {
        let cache = SignatureCache::new();
        let (signature, signer) = signed(b"transfer");
        assert!(with_cache(&cache, || signature.verify(&b"transfer"[..], &signer)));
        assert_eq!(cache.len(), 1);
        assert!(cache.contains(&key(&signature.0, &signer, b"transfer")));
        assert!(with_cache(&cache, || signature.verify(&b"transfer"[..], &signer)));
        assert_eq!(cache.len(), 1);
        // What is remembered is not verified again: a triple put in the
        // cache by hand passes although its signature is wrong.
        let (wrong, _) = signed(b"other");
        cache.insert(key(&wrong.0, &signer, b"transfer"));
        assert!(with_cache(&cache, || wrong.verify(&b"transfer"[..], &signer)));
        assert!(!wrong.verify(&b"transfer"[..], &signer));
    }

    #[test]
    fn failures_are_not_remembered_and_a_remembered_signature_proves_nothing_else() {
        let cache = SignatureCache::new();
        let (signature, signer) = signed(b"transfer");
        with_cache(&cache, || {
            assert!(signature.verify(&b"transfer"[..], &signer));
            // Another message, another signer, another signature: each fails.
            assert!(!signature.verify(&b"transfers"[..], &signer));
            let other: AccountId32 = sr25519::Pair::from_seed(&[8; 32]).public().into();
            assert!(!signature.verify(&b"transfer"[..], &other));
            let (forged, _) = signed(b"something else");
            assert!(!forged.verify(&b"transfer"[..], &signer));
        });
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn without_a_cache_a_signature_verifies_as_usual() {
        let (signature, signer) = signed(b"transfer");
        assert!(signature.verify(&b"transfer"[..], &signer));
        assert!(!signature.verify(&b"other"[..], &signer));
        assert!(TestExternalities::default()
            .execute_with(|| signature.verify(&b"transfer"[..], &signer)));
        assert!(SignatureCache::default().is_empty());
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = SignatureCache::new();
        for i in 0..SignatureCache::CAPACITY + 10 {
            cache.insert(blake2_256(&i.to_le_bytes()));
        }
        assert_eq!(cache.len(), SignatureCache::CAPACITY as usize);
        assert!(!cache.contains(&blake2_256(&0u32.to_le_bytes())));
    }

    #[test]
    fn the_signature_is_a_multi_signature_on_the_wire_and_in_the_metadata() {
        let (signature, _) = signed(b"x");
        assert_eq!(signature.encode(), signature.0.encode());
        assert_eq!(
            Signature::decode(&mut &signature.0.encode()[..]),
            Ok(signature)
        );
        let mut registry = scale_info::Registry::new();
        let ours = registry.register_type(&scale_info::meta_type::<Signature>());
        let theirs = registry.register_type(&scale_info::meta_type::<MultiSignature>());
        assert_eq!(ours, theirs);
    }
}
