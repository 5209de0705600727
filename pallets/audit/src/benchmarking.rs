//! Benchmark of `submit_proof` at its worst case: a full-depth proof (a shard
//! of `MAX_SHARD_SIZE`) that fails, slashing the provider and ejecting it.

use super::*;
use frame_support::BoundedVec;
use frame_system::RawOrigin;
use mosaic_primitives::erasure::MAX_SHARD_SIZE;
use mosaic_primitives::merkle::{self, MAX_LEAVES};
use pallet_mosaic_providers::ProviderRegistry;
use polkadot_sdk::frame_benchmarking::v2::*;
use sp_runtime::traits::Get;

#[benchmarks]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn submit_proof() {
        let provider: T::AccountId = whitelisted_caller();
        T::Providers::register_for_benchmark(&provider, 1 << 30, 1u32.into());
        let shard = vec![7u8; MAX_SHARD_SIZE as usize];
        let leaf = MAX_LEAVES - 1;
        let challenge = Challenge {
            period: 0,
            order: 0,
            shard: 0,
            leaf,
            root: merkle::root(&shard).expect("a maximal shard is valid; qed"),
            size: MAX_SHARD_SIZE,
        };
        Challenges::<T>::insert(&provider, challenge);
        Misses::<T>::insert(&provider, T::MaxMisses::get().saturating_sub(1));
        let mut proof = merkle::prove(&shard, leaf).expect("the leaf exists; qed");
        proof.leaf[0] ^= 1;
        #[extrinsic_call]
        _(
            RawOrigin::Signed(provider.clone()),
            BoundedVec::truncate_from(proof.leaf),
            BoundedVec::truncate_from(proof.path),
        );
        assert!(Challenges::<T>::get(&provider).is_none());
        assert_eq!(Misses::<T>::get(&provider), 0, "ejected");
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
