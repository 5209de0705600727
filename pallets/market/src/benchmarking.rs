//! Benchmarks of the market's calls over orders of up to `MaxShardsPerOrder`
//! shards (4 + 2 coding, 256 KiB segments), with eight providers.

use super::*;
use frame_support::traits::fungible::Mutate;
use frame_support::BoundedVec;
use frame_system::RawOrigin;
use mosaic_primitives::erasure::MIN_SEGMENT_SIZE;
use pallet_mosaic_providers::ProviderRegistry;
use polkadot_sdk::frame_benchmarking::v2::*;
use sp_runtime::traits::{Bounded, Get};

const PROVIDERS: u32 = 8;
const WIDTH: u32 = 6;

fn coding() -> CodingParams {
    CodingParams::with_segment_size(4, 2, MIN_SEGMENT_SIZE).expect("within bounds; qed")
}

/// Registers the providers and a funded owner.
fn setup<T: Config>() -> T::AccountId {
    for i in 0..PROVIDERS {
        let provider: T::AccountId = account("provider", i, 0);
        T::Providers::register_for_benchmark(&provider, 1 << 40, 1u32.into());
    }
    let owner: T::AccountId = whitelisted_caller();
    // Far more than any order costs, far from overflowing total issuance.
    T::Currency::set_balance(&owner, BalanceOf::<T>::max_value() / 64u32.into());
    owner
}

/// Segments for component `s`, within the runtime's shard bound.
fn segments<T: Config>(s: u32) -> u32 {
    s.clamp(1, T::MaxShardsPerOrder::get() / WIDTH)
}

fn object<T: Config>(segments: u32) -> (CidOf<T>, u64, RootsOf<T>) {
    let cid = BoundedVec::truncate_from(mosaic_primitives::unixfs::file_cid(b"bench").to_bytes());
    let roots = (0..segments * WIDTH)
        .map(|i| ShardRoot([i as u8; 32]))
        .collect::<Vec<_>>();
    (
        cid,
        u64::from(segments) * u64::from(MIN_SEGMENT_SIZE),
        BoundedVec::truncate_from(roots),
    )
}

/// A stored order of `segments` segments, confirmed except `unconfirmed` shards.
fn order<T: Config>(owner: &T::AccountId, segments: u32, unconfirmed: u32) -> OrderId {
    let (cid, size, roots) = object::<T>(segments);
    Pallet::<T>::store(
        RawOrigin::Signed(owner.clone()).into(),
        cid,
        size,
        coding(),
        roots,
        10,
        1u32.into(),
    )
    .expect("providers and funds are set up; qed");
    let id = NextOrderId::<T>::get() - 1;
    for number in 0..(segments * WIDTH).saturating_sub(unconfirmed) {
        let provider = Shards::<T>::get(id, number).expect("stored; qed").provider;
        Pallet::<T>::confirm(RawOrigin::Signed(provider).into(), id, number)
            .expect("assigned; qed");
    }
    id
}

#[benchmarks]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn store(s: Linear<1, 682>) {
        let owner = setup::<T>();
        let (cid, size, roots) = object::<T>(segments::<T>(s));
        #[extrinsic_call]
        _(
            RawOrigin::Signed(owner),
            cid,
            size,
            coding(),
            roots,
            10,
            1u32.into(),
        );
        assert_eq!(NextOrderId::<T>::get(), 1);
    }

    #[benchmark]
    fn confirm(s: Linear<1, 682>) {
        let owner = setup::<T>();
        let segments = segments::<T>(s);
        let id = order::<T>(&owner, segments, 1);
        let last = segments * WIDTH - 1;
        let provider = Shards::<T>::get(id, last).expect("stored; qed").provider;
        #[extrinsic_call]
        _(RawOrigin::Signed(provider), id, last);
        assert!(matches!(
            Orders::<T>::get(id).map(|o| o.state),
            Some(OrderState::Live { .. })
        ));
    }

    #[benchmark]
    fn extend(s: Linear<1, 682>) {
        let owner = setup::<T>();
        let id = order::<T>(&owner, segments::<T>(s), 0);
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, 5);
        assert_eq!(Orders::<T>::get(id).map(|o| o.periods), Some(15));
    }

    #[benchmark]
    fn delete(s: Linear<1, 682>) {
        let owner = setup::<T>();
        let id = order::<T>(&owner, segments::<T>(s), 0);
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id);
        assert!(Orders::<T>::get(id).is_none());
    }

    #[benchmark]
    fn claim(s: Linear<1, 682>) {
        let owner = setup::<T>();
        let id = order::<T>(&owner, segments::<T>(s), 0);
        let provider = Shards::<T>::get(id, 0).expect("stored; qed").provider;
        frame_system::Pallet::<T>::set_block_number(Pallet::<T>::period_start(5));
        #[extrinsic_call]
        _(RawOrigin::Signed(provider), id);
        assert!(Orders::<T>::get(id).is_some());
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
