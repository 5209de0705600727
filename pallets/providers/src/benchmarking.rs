//! Benchmarks of the provider registry's calls, at their worst case: the
//! longest peer id and the most, longest multiaddrs, the most cells of the
//! sampling index written, in a large registry.
//!
//! A weight change at slot `s` writes the Fenwick cells on the path from
//! `s + 1` up to the tree's size. Slot 0's path is every power of two, the
//! longest there is; a slot just past a power of two comes next, one cell
//! short. So `update` and `unbond` change the provider in slot 0 beside
//! `MaxProviders - 1` others; `withdraw` empties slot 0 and moves into it
//! the provider of the last slot, the registry's size chosen so that the two
//! paths together cover the most cells; and `register` fills the registry
//! to the largest size whose next slot is one short of the longest path
//! (with `MaxProviders - 1` providers registered, the new slot's path would
//! be the tree's last cell alone when `MaxProviders` is a power of two).

use super::*;
use frame_support::traits::fungible::Mutate;
use frame_support::BoundedVec;
use frame_system::RawOrigin;
use polkadot_sdk::frame_benchmarking::v2::*;
use sp_runtime::traits::{Get, Saturating};
use std::collections::BTreeSet;

/// Stake, capacity, price and the longest endpoint for `capacity` bytes.
pub(crate) fn terms<T: Config>(
    capacity: u64,
) -> (
    BalanceOf<T>,
    u64,
    BalanceOf<T>,
    PeerIdOf<T>,
    MultiaddrsOf<T>,
) {
    let peer_id = BoundedVec::truncate_from(vec![1; T::MaxPeerIdLen::get() as usize]);
    let addr = BoundedVec::truncate_from(vec![2; T::MaxMultiaddrLen::get() as usize]);
    let multiaddrs = BoundedVec::truncate_from(vec![addr; T::MaxMultiaddrs::get() as usize]);
    (
        Pallet::<T>::required_stake(capacity),
        capacity,
        1u32.into(),
        peer_id,
        multiaddrs,
    )
}

/// Gives `who` plenty more than `stake`.
pub(crate) fn fund<T: Config>(who: &T::AccountId, stake: BalanceOf<T>) {
    let plenty = stake.saturating_mul(1_000u32.into());
    T::Currency::set_balance(who, plenty);
}

/// Slots in the sampling index, as the pallet sizes it.
fn index_size<T: Config>() -> u32 {
    T::MaxProviders::get().next_power_of_two()
}

/// Every provider's weight together. Its cell is on every slot's path, so
/// the checks below read no key the call did not touch, and the reads and
/// writes counted with checks on are those of the call.
fn total_weight<T: Config>() -> u128 {
    fenwick::total(&StoredTree::<T>::default(), index_size::<T>())
}

/// The distinct cells that changing the weights of `slots` writes.
fn cells_written<T: Config>(slots: &[u32]) -> usize {
    /// Records which cells are set, over an all-zero tree.
    struct Written(BTreeSet<u32>);
    impl fenwick::Cells for Written {
        fn cell(&self, _: u32) -> u128 {
            0
        }
        fn set_cell(&mut self, i: u32, _: u128) {
            self.0.insert(i);
        }
    }
    let mut written = Written(BTreeSet::new());
    for &slot in slots {
        fenwick::add(&mut written, index_size::<T>(), slot, 1);
    }
    written.0.len()
}

/// Registers `count` providers besides the caller, each with free capacity
/// (so with weight in the index).
fn others<T: Config>(count: u32) {
    for i in 0..count {
        let other: T::AccountId = account("provider", i, 0);
        <Pallet<T> as ProviderRegistry<_>>::register_for_benchmark(&other, GIB, 1u32.into());
    }
}

#[benchmarks]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn register() {
        // The new provider takes slot `before`. Slot 0's path is the
        // longest, but only an empty registry gives it, and reads from a
        // small state are the cheapest (in a debug run of the runtime's
        // benchmarks, a registry of 8,192 made the call over ten times
        // slower, for one cell less); so the registry is
        // filled to the largest size whose next slot has the longest path
        // of any other slot.
        let before = (1..T::MaxProviders::get())
            .max_by_key(|&count| (cells_written::<T>(&[count]), count))
            .unwrap_or(0);
        others::<T>(before);
        let caller: T::AccountId = whitelisted_caller();
        let (stake, capacity, price, peer_id, multiaddrs) = terms::<T>(GIB);
        fund::<T>(&caller, stake);
        let weight = total_weight::<T>();
        #[extrinsic_call]
        _(
            RawOrigin::Signed(caller.clone()),
            stake,
            capacity,
            price,
            peer_id,
            multiaddrs,
        );
        assert_eq!(Providers::<T>::get(&caller).map(|p| p.slot), Some(before));
        assert_eq!(total_weight::<T>(), weight + u128::from(GIB));
    }

    #[benchmark]
    fn update() {
        let caller: T::AccountId = whitelisted_caller();
        <Pallet<T> as ProviderRegistry<_>>::register_for_benchmark(&caller, GIB, 1u32.into());
        others::<T>(T::MaxProviders::get() - 1);
        let (stake, capacity, price, peer_id, multiaddrs) = terms::<T>(2 * GIB);
        let weight = total_weight::<T>();
        #[extrinsic_call]
        _(
            RawOrigin::Signed(caller.clone()),
            stake,
            capacity,
            price,
            peer_id,
            multiaddrs,
        );
        let record = Providers::<T>::get(&caller).expect("still registered; qed");
        assert_eq!((record.slot, record.capacity), (0, 2 * GIB));
        assert_eq!(total_weight::<T>(), weight + u128::from(GIB));
    }

    #[benchmark]
    fn unbond() {
        let caller: T::AccountId = whitelisted_caller();
        <Pallet<T> as ProviderRegistry<_>>::register_for_benchmark(&caller, GIB, 1u32.into());
        others::<T>(T::MaxProviders::get() - 1);
        let weight = total_weight::<T>();
        #[extrinsic_call]
        _(RawOrigin::Signed(caller.clone()));
        let record = Providers::<T>::get(&caller).expect("still registered; qed");
        assert_eq!(record.slot, 0);
        assert!(matches!(record.status, ProviderStatus::Unbonding { .. }));
        assert_eq!(total_weight::<T>(), weight - u128::from(GIB));
    }

    #[benchmark]
    fn withdraw() {
        // The caller holds slot 0; the provider moved into it comes from
        // slot `count - 1` (none moves if the registry holds only one).
        let count = (1..=T::MaxProviders::get())
            .max_by_key(|&count| (cells_written::<T>(&[0, count - 1]), count))
            .expect("MaxProviders is positive; qed");
        let caller: T::AccountId = whitelisted_caller();
        <Pallet<T> as ProviderRegistry<_>>::register_for_benchmark(&caller, GIB, 1u32.into());
        others::<T>(count - 1);
        let moved: T::AccountId = account("provider", count.saturating_sub(2), 0);
        Pallet::<T>::unbond(RawOrigin::Signed(caller.clone()).into()).expect("registered; qed");
        frame_system::Pallet::<T>::set_block_number(Pallet::<T>::unbonding_end());
        let weight = total_weight::<T>();
        #[extrinsic_call]
        _(RawOrigin::Signed(caller.clone()));
        assert!(!Providers::<T>::contains_key(&caller));
        if count > 1 {
            assert_eq!(Providers::<T>::get(&moved).map(|p| p.slot), Some(0));
            assert_eq!(Slots::<T>::get(count - 1), None);
            // Slot 0 now carries the moved weight: the search for the
            // first unit of weight reads only cells on slot 0's path.
            let tree = StoredTree::<T>::default();
            assert_eq!(
                fenwick::find(&tree, index_size::<T>(), u128::from(GIB) - 1),
                0
            );
        }
        assert_eq!(total_weight::<T>(), weight, "the moved weight is kept");
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
