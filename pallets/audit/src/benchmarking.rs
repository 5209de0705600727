//! Benchmarks of the audit pallet at their worst cases: `submit_proof` with a
//! full-depth proof (a shard of `MAX_SHARD_SIZE`) that fails, slashing the
//! provider and ejecting it; the block hook at a period's start closing a
//! missed challenge of every holder (each ejected) and drawing `MaxDraws`
//! times for each, in vain, from shards of pending orders, in a block whose
//! VRF signature it verifies.

use super::*;
use frame_support::traits::Hooks;
use frame_support::BoundedVec;
use frame_system::RawOrigin;
use mosaic_primitives::erasure::MAX_SHARD_SIZE;
use mosaic_primitives::merkle::{self, ShardRoot, LEAF_SIZE, MAX_LEAVES};
use pallet_mosaic_market::ShardIndex;
use pallet_mosaic_providers::ProviderRegistry;
use polkadot_sdk::frame_benchmarking::v2::*;
use polkadot_sdk::sp_core::{crypto::Pair as _, sr25519};
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

    /// The first block of a period with `h` providers holding shards (at
    /// least a segment's width, so that orders can be stored).
    #[benchmark]
    fn on_initialize(h: Linear<8, { T::Providers::max_providers() }>) {
        for i in 0..h {
            let holder: T::AccountId = account("holder", i, 0);
            T::Providers::register_for_benchmark(&holder, 1 << 40, 1u32.into());
        }
        T::Shards::spread_for_benchmark();
        let holders = T::Shards::holders();
        assert!(holders.len() >= h as usize, "every provider holds a shard");
        let missed = Challenge {
            period: 0,
            order: 0,
            shard: 0,
            leaf: 0,
            root: ShardRoot([0; 32]),
            size: LEAF_SIZE as u32,
        };
        for holder in &holders {
            Challenges::<T>::insert(holder, missed.clone());
            Misses::<T>::insert(holder, T::MaxMisses::get().saturating_sub(1));
        }
        let validator = sr25519::Pair::from_seed(&[1; 32]);
        VrfAuthorities::<T>::put(BoundedVec::truncate_from(vec![validator.public()]));
        let now = T::PeriodLength::get();
        let digest = slot_digest::<T>(1, Some(&validator));
        frame_system::Pallet::<T>::set_block_number(now - 1u32.into());
        frame_system::Pallet::<T>::initialize(&now, &Default::default(), &digest);
        let seed = Randomness::<T>::get();
        #[block]
        {
            Pallet::<T>::on_initialize(now);
        }
        assert_ne!(Randomness::<T>::get(), seed, "the VRF output was absorbed");
        assert_eq!(Challenges::<T>::iter().count(), 0, "no shard is auditable");
        for holder in &holders {
            assert_eq!(Misses::<T>::get(holder), 0, "ejected");
        }
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
