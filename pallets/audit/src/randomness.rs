//! The randomness accumulator: each block's VRF output mixed in, and the
//! pre-runtime digest that carries it.

use crate::*;
use frame_support::pallet_prelude::*;
use polkadot_sdk::sp_core::crypto::VrfPublic;
use polkadot_sdk::sp_core::sr25519::{
    self,
    vrf::{VrfSignature, VrfTranscript},
};
use polkadot_sdk::sp_io::hashing::blake2_256;

impl<T: Config> Pallet<T> {
    /// Mixes this block's VRF output into the accumulator. Panics (the
    /// block is invalid) when VRF keys are registered and the block lacks
    /// a valid VRF signature by its slot's author.
    pub(crate) fn absorb_vrf() {
        let keys = VrfAuthorities::<T>::get();
        let digest = frame_system::Pallet::<T>::digest();
        let pre_runtime = |id: [u8; 4]| {
            digest
                .logs
                .iter()
                .filter_map(|item| item.as_pre_runtime())
                .find_map(|(engine, data)| (engine == id).then_some(data))
        };
        let slot = pre_runtime(polkadot_sdk::sp_consensus_aura::AURA_ENGINE_ID)
            .and_then(|data| u64::decode(&mut &data[..]).ok());
        let signature =
            pre_runtime(VRF_ENGINE_ID).and_then(|data| VrfSignature::decode(&mut &data[..]).ok());
        let (Some(slot), Some(signature)) = (slot, signature) else {
            assert!(keys.is_empty(), "block lacks the author's VRF signature");
            return;
        };
        if keys.is_empty() {
            return;
        }
        let author = &keys[(slot % keys.len() as u64) as usize];
        let previous = Randomness::<T>::get();
        let transcript = vrf_transcript(&previous, slot);
        assert!(
            author.vrf_verify(&transcript.clone().into_sign_data(), &signature),
            "invalid VRF signature"
        );
        let output: [u8; 32] = author
            .make_bytes(VRF_CONTEXT, &transcript, &signature.pre_output)
            .expect("a verified pre-output yields bytes; qed");
        Randomness::<T>::put(blake2_256(&(previous, output).encode()));
    }
}

/// The transcript a block's VRF signs: the previous accumulator and the slot.
pub fn vrf_transcript(previous: &[u8; 32], slot: u64) -> VrfTranscript {
    VrfTranscript::new(
        VRF_LABEL,
        &[
            (b"randomness", &previous[..]),
            (b"slot", &slot.to_le_bytes()),
        ],
    )
}

/// The pre-runtime digest of a block at `slot` whose parent's
/// accumulator is `randomness`: Aura's slot and, if given, `signer`'s
/// VRF signature over [`vrf_transcript`]. The node's author, the
/// runtime's tests and this pallet's tests and benchmarks all build it
/// here.
pub fn pre_digest(
    slot: u64,
    randomness: &[u8; 32],
    signer: Option<&sr25519::Pair>,
) -> sp_runtime::Digest {
    use polkadot_sdk::sp_core::crypto::VrfSecret;
    use sp_runtime::DigestItem;
    let aura = polkadot_sdk::sp_consensus_aura::AURA_ENGINE_ID;
    let mut logs = vec![DigestItem::PreRuntime(aura, slot.encode())];
    if let Some(signer) = signer {
        let transcript = vrf_transcript(randomness, slot);
        let signature = signer.vrf_sign(&transcript.into_sign_data());
        logs.push(DigestItem::PreRuntime(VRF_ENGINE_ID, signature.encode()));
    }
    sp_runtime::Digest { logs }
}

/// The randomness accumulator, for other pallets (the market's
/// placement) to draw from.
pub struct AccumulatedRandomness<T>(PhantomData<T>);

impl<T: Config> Get<[u8; 32]> for AccumulatedRandomness<T> {
    fn get() -> [u8; 32] {
        Randomness::<T>::get()
    }
}
