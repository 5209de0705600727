//! Benchmarks of the provider registry's calls, at their worst case: the
//! longest peer id and the most, longest multiaddrs.

use super::*;
use frame_support::traits::fungible::Mutate;
use frame_support::BoundedVec;
use frame_system::RawOrigin;
use polkadot_sdk::frame_benchmarking::v2::*;
use sp_runtime::traits::{Get, Saturating};

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

#[benchmarks]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn register() {
        let caller: T::AccountId = whitelisted_caller();
        let (stake, capacity, price, peer_id, multiaddrs) = terms::<T>(GIB);
        fund::<T>(&caller, stake);
        #[extrinsic_call]
        _(
            RawOrigin::Signed(caller.clone()),
            stake,
            capacity,
            price,
            peer_id,
            multiaddrs,
        );
        assert!(Providers::<T>::contains_key(&caller));
    }

    #[benchmark]
    fn update() {
        let caller: T::AccountId = whitelisted_caller();
        <Pallet<T> as ProviderRegistry<_>>::register_for_benchmark(&caller, GIB, 1u32.into());
        let (stake, capacity, price, peer_id, multiaddrs) = terms::<T>(2 * GIB);
        #[extrinsic_call]
        _(
            RawOrigin::Signed(caller.clone()),
            stake,
            capacity,
            price,
            peer_id,
            multiaddrs,
        );
        assert_eq!(
            Providers::<T>::get(&caller).map(|p| p.capacity),
            Some(2 * GIB)
        );
    }

    #[benchmark]
    fn unbond() {
        let caller: T::AccountId = whitelisted_caller();
        <Pallet<T> as ProviderRegistry<_>>::register_for_benchmark(&caller, GIB, 1u32.into());
        #[extrinsic_call]
        _(RawOrigin::Signed(caller.clone()));
        assert!(matches!(
            Providers::<T>::get(&caller).map(|p| p.status),
            Some(ProviderStatus::Unbonding { .. })
        ));
    }

    #[benchmark]
    fn withdraw() {
        let caller: T::AccountId = whitelisted_caller();
        <Pallet<T> as ProviderRegistry<_>>::register_for_benchmark(&caller, GIB, 1u32.into());
        Pallet::<T>::unbond(RawOrigin::Signed(caller.clone()).into()).expect("registered; qed");
        frame_system::Pallet::<T>::set_block_number(Pallet::<T>::unbonding_end());
        #[extrinsic_call]
        _(RawOrigin::Signed(caller.clone()));
        assert!(!Providers::<T>::contains_key(&caller));
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
