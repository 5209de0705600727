//! Benchmarks of the market's calls and block hook, each at its worst case:
//! orders of up to `MaxShardsPerOrder` shards in the narrowest coding (1 + 1,
//! so the most segments per shard and the most shards per provider), every
//! shard's provider proven for every period so that each settlement pays,
//! and `store` and repairs choosing among `max_providers` registered
//! providers.

use super::*;
use frame_support::traits::fungible::Mutate;
use frame_support::traits::Hooks;
use frame_support::BoundedVec;
use frame_system::RawOrigin;
use mosaic_primitives::erasure::MIN_SEGMENT_SIZE;
use pallet_mosaic_providers::ProviderRegistry;
use polkadot_sdk::frame_benchmarking::v2::*;
use sp_runtime::traits::{Bounded, Get};

/// Shards per segment of the benchmarks' coding.
const WIDTH: u32 = 2;

fn coding() -> CodingParams {
    CodingParams::with_segment_size(1, 1, MIN_SEGMENT_SIZE).expect("within bounds; qed")
}

/// Registers providers `first..first + count`, each with room for any order.
fn providers<T: Config>(first: u32, count: u32) {
    for i in first..first + count {
        let provider: T::AccountId = account("provider", i, 0);
        T::Providers::register_for_benchmark(&provider, 1 << 40, 1u32.into());
    }
}

/// A funded owner, with far more than any order costs and far from
/// overflowing total issuance.
fn owner<T: Config>() -> T::AccountId {
    let owner: T::AccountId = whitelisted_caller();
    T::Currency::set_balance(&owner, BalanceOf::<T>::max_value() / 64u32.into());
    owner
}

/// Segments for `n` shards, within the runtime's shard bound.
fn segments<T: Config>(n: u32) -> u32 {
    (n / WIDTH).clamp(1, T::MaxShardsPerOrder::get() / WIDTH)
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

/// A stored order of `segments` segments, confirmed except `unconfirmed`
/// shards. Once live, each of its providers counts as proven for all its
/// periods.
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
    if let Some(OrderState::Live { start, end }) = Orders::<T>::get(id).map(|o| o.state) {
        for (_, shard) in Shards::<T>::iter_prefix(id) {
            T::Proofs::prove_for_benchmark(&shard.provider, start, end);
        }
    }
    id
}

/// Stores orders, left pending, until every registered provider holds a
/// shard: the audit pallet's benchmark draws from them.
pub(crate) fn spread<T: Config>() {
    let owner = owner::<T>();
    let mut left = T::Providers::offers(0, BalanceOf::<T>::max_value()).len() as u32;
    while left > 0 {
        let segments = segments::<T>(left.div_ceil(WIDTH) * WIDTH);
        order::<T>(&owner, segments, segments * WIDTH);
        left = left.saturating_sub(segments * WIDTH);
    }
}

#[benchmarks]
mod benchmarks {
    use super::*;

    /// `n` shards, with every provider that may register to choose from:
    /// the assignment reads them all.
    #[benchmark]
    fn store(n: Linear<{ WIDTH }, { T::MaxShardsPerOrder::get() }>) {
        providers::<T>(0, T::Providers::max_providers());
        let owner = owner::<T>();
        let (cid, size, roots) = object::<T>(segments::<T>(n));
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

    /// The last confirmation, which makes the order live.
    #[benchmark]
    fn confirm(n: Linear<{ WIDTH }, { T::MaxShardsPerOrder::get() }>) {
        providers::<T>(0, WIDTH);
        let segments = segments::<T>(n);
        let id = order::<T>(&owner::<T>(), segments, 1);
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
    fn extend(n: Linear<{ WIDTH }, { T::MaxShardsPerOrder::get() }>) {
        providers::<T>(0, WIDTH);
        let owner = owner::<T>();
        let segments = segments::<T>(n);
        let id = order::<T>(&owner, segments, 0);
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, 5, segments * WIDTH);
        assert_eq!(Orders::<T>::get(id).map(|o| o.periods), Some(15));
    }

    /// Deletion half way through: every shard is paid, the rest refunded.
    /// Shards are spread over as many providers as may register, each a
    /// record, a list and an account more to write.
    #[benchmark]
    fn delete(n: Linear<{ WIDTH }, { T::MaxShardsPerOrder::get() }>) {
        providers::<T>(0, T::Providers::max_providers());
        let owner = owner::<T>();
        let segments = segments::<T>(n);
        let id = order::<T>(&owner, segments, 0);
        frame_system::Pallet::<T>::set_block_number(Pallet::<T>::period_start(5));
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, segments * WIDTH);
        assert!(Orders::<T>::get(id).is_none());
    }

    /// A provider holding one shard of every segment claims them all.
    #[benchmark]
    fn claim(n: Linear<{ WIDTH }, { T::MaxShardsPerOrder::get() }>) {
        providers::<T>(0, WIDTH);
        let segments = segments::<T>(n);
        let id = order::<T>(&owner::<T>(), segments, 0);
        let provider = Shards::<T>::get(id, 0).expect("stored; qed").provider;
        frame_system::Pallet::<T>::set_block_number(Pallet::<T>::period_start(5));
        #[extrinsic_call]
        _(RawOrigin::Signed(provider.clone()), id, segments * WIDTH);
        let paid = Shards::<T>::get(id, 0).expect("kept; qed").paid_until;
        assert_eq!(paid, 5, "{provider:?} was paid");
    }

    /// The block hook ending an order of `n` shards at its expiry, paying
    /// every shard's provider (as many as may register); no repairs.
    #[benchmark]
    fn end(n: Linear<{ WIDTH }, { T::MaxShardsPerOrder::get() }>) {
        providers::<T>(0, T::Providers::max_providers());
        let id = order::<T>(&owner::<T>(), segments::<T>(n), 0);
        let due = Orders::<T>::get(id).expect("stored; qed").due;
        frame_system::Pallet::<T>::set_block_number(due);
        #[block]
        {
            Pallet::<T>::on_initialize(due);
        }
        assert!(Orders::<T>::get(id).is_none());
    }

    /// `r` shards of an ejected provider moved, each to the least loaded of
    /// every other registered provider.
    #[benchmark]
    fn repair(r: Linear<1, { T::RepairsPerBlock::get() }>) {
        // Two providers hold a shard of each of `r` orders; all the others
        // are free to take them.
        providers::<T>(0, WIDTH);
        let owner = owner::<T>();
        for _ in 0..r {
            order::<T>(&owner, 1, 0);
        }
        providers::<T>(WIDTH, T::Providers::max_providers() - WIDTH);
        let leaving = Shards::<T>::get(0, 0).expect("stored; qed").provider;
        T::Providers::eject(&leaving);
        #[block]
        {
            Pallet::<T>::repair(r);
        }
        assert_eq!(ProviderShardCount::<T>::get(&leaving), 0);
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
