//! Benchmarks of the market's calls and block hook, each at its worst case:
//!
//! - orders of up to `MaxPieces` pieces (`n / 2` data shards, the rest
//!   parity) of an 8 GiB object at 64 MiB segments, to show that an object's
//!   size costs nothing: an order's records are `O(k + m)`;
//! - placement among `max_providers` registered providers, which draws from
//!   the sampling tree without a scan;
//! - every piece's provider proven for every period, so that each
//!   settlement pays;
//! - deadline lists crowded, so that scheduling tries every block it may and
//!   unscheduling searches a full list;
//! - every slot a deleted, expired or moved piece leaves in a provider's list
//!   refilled from another order of `MaxPieces` pieces, which is rewritten.

use super::*;
use frame_support::traits::fungible::Mutate;
use frame_support::traits::Hooks;
use frame_support::BoundedVec;
use frame_system::pallet_prelude::BlockNumberFor;
use frame_system::RawOrigin;
use mosaic_primitives::encryption::PublicKey;
use mosaic_primitives::erasure::{MAX_DATA_SHARDS, MAX_PARITY_SHARDS, MAX_SEGMENT_SIZE};
use mosaic_primitives::merkle::LEAF_SIZE;
use mosaic_primitives::piece::MAX_SEGMENTS;
use pallet_mosaic_providers::ProviderRegistry;
use polkadot_sdk::frame_benchmarking::v2::*;
use sp_runtime::traits::{Bounded, Get, Saturating};

/// Stored bytes of the benchmarks' objects: 8 GiB, 128 segments of 64 MiB.
const SIZE: u64 = 8 << 30;
/// Room of each provider the benchmarks register: any piece fits.
const CAPACITY: u64 = 1 << 40;
/// Periods each order buys.
const PERIODS: u32 = 10;

/// `k + m = n` for `n` in `2..=128`: half data shards (rounded down), the
/// rest parity, at the largest segment size.
fn coding(n: u32) -> CodingParams {
    let data = (n / 2).max(1);
    let parity = n.saturating_sub(data);
    CodingParams::with_segment_size(data as u8, parity as u8, MAX_SEGMENT_SIZE)
        .expect("MaxPieces is at most 64 + 64, so each half is within bounds; qed")
}

/// Registers `count` providers named `name`, each with `CAPACITY` at price 1.
fn providers<T: Config>(name: &'static str, count: u32) -> Vec<T::AccountId> {
    (0..count)
        .map(|i| {
            let provider: T::AccountId = account(name, i, 0);
            T::Providers::register_for_benchmark(&provider, CAPACITY, 1u32.into());
            provider
        })
        .collect()
}

/// A funded owner, with far more than any order costs and far from
/// overflowing total issuance.
fn owner<T: Config>() -> T::AccountId {
    let owner: T::AccountId = whitelisted_caller();
    T::Currency::set_balance(&owner, BalanceOf::<T>::max_value() / 64u32.into());
    owner
}

/// A made-up file key wrapped to reader `reader`.
fn key(reader: u32) -> WrappedKey {
    let byte = reader as u8;
    WrappedKey {
        recipient: PublicKey([byte; 32]),
        encapped_key: [byte; 32],
        sealed_key: [byte; 48],
    }
}

/// Public for no reader, else encrypted to `readers` readers.
fn access<T: Config>(readers: u32) -> AccessOf<T> {
    if readers == 0 {
        return Access::Public { dag_index: 0 };
    }
    Access::Encrypted {
        suite: CipherSuite::ChaCha20Poly1305,
        keys: BoundedVec::truncate_from((0..readers).map(key).collect()),
    }
}

fn cid<T: Config>() -> CidOf<T> {
    BoundedVec::truncate_from(mosaic_primitives::unixfs::file_cid(b"bench").to_bytes())
}

fn roots<T: Config>(n: u32) -> RootsOf<T> {
    BoundedVec::truncate_from((0..n).map(|i| PieceRoot([i as u8; 32])).collect())
}

/// Stores `size` bytes coded `coding` for `owner`, wrapped to `readers`
/// readers, at any price; returns the order.
fn store_object<T: Config>(
    owner: &T::AccountId,
    coding: CodingParams,
    size: u64,
    readers: u32,
    periods: u32,
) -> Result<OrderId, sp_runtime::DispatchError> {
    Pallet::<T>::store(
        RawOrigin::Signed(owner.clone()).into(),
        cid::<T>(),
        size,
        coding,
        roots::<T>(coding.total_shards() as u32),
        access::<T>(readers),
        periods,
        BalanceOf::<T>::max_value(),
    )?;
    Ok(NextOrderId::<T>::get() - 1)
}

/// A pending order of the benchmarks' object in `n` pieces.
fn place<T: Config>(owner: &T::AccountId, n: u32, readers: u32) -> OrderId {
    store_object::<T>(owner, coding(n), SIZE, readers, PERIODS)
        .expect("providers and funds are set up; qed")
}

fn order<T: Config>(id: OrderId) -> OrderOf<T> {
    Orders::<T>::get(id).expect("the benchmark stored it; qed")
}

/// The last period an order stored now and confirmed at once pays for.
fn end_period<T: Config>() -> PeriodIndex {
    Pallet::<T>::current_period() + 1 + PERIODS
}

/// Confirms every piece of `id` but the last `unconfirmed`.
fn confirm_all<T: Config>(id: OrderId, unconfirmed: u32) {
    let record = order::<T>(id);
    let confirmed = record.pieces.len().saturating_sub(unconfirmed as usize);
    for (number, piece) in record.pieces.iter().enumerate().take(confirmed) {
        Pallet::<T>::confirm(
            RawOrigin::Signed(piece.provider.clone()).into(),
            id,
            number as u32,
        )
        .expect("the provider is assigned; qed");
    }
}

/// Fills the deadline lists of the `SCHEDULE_TRIES` blocks from `from` on,
/// but for one place in the last: an order scheduled there tries every
/// block and fills the last one's list.
fn crowd<T: Config>(from: BlockNumberFor<T>) {
    let per_block = T::MaxDeadlinesPerBlock::get();
    for tried in 0..SCHEDULE_TRIES {
        let free = u32::from(tried + 1 == SCHEDULE_TRIES);
        let ids = (0..per_block.saturating_sub(free))
            .map(|i| OrderId::MAX - u64::from(tried * per_block + i))
            .collect::<Vec<_>>();
        Deadlines::<T>::insert(
            from.saturating_add(tried.into()),
            BoundedVec::truncate_from(ids),
        );
    }
}

/// The block an order's deadline or expiry at `at` lands in once
/// [`crowd`]ed.
fn crowded<T: Config>(at: BlockNumberFor<T>) -> BlockNumberFor<T> {
    at.saturating_add((SCHEDULE_TRIES - 1).into())
}

/// Stored bytes whose pieces under `coding` are exactly `piece` bytes, a
/// positive whole number of leaves, at most `MAX_SEGMENTS` full shards.
fn size_of_piece(coding: &CodingParams, piece: u64) -> u64 {
    let leaf = LEAF_SIZE as u64;
    let segment = u64::from(coding.segment_size);
    let shard = coding.shard_size(coding.segment_size as usize) as u64;
    let segments = piece.div_ceil(shard);
    let last = piece - (segments - 1) * shard;
    // A last segment whose shards round up to `last` bytes.
    let tail = if last == shard {
        segment
    } else {
        (last - leaf) * u64::from(coding.data_shards) + 1
    };
    let size = (segments - 1) * segment + tail;
    assert_eq!(
        Layout::new(*coding, size).map(|l| l.piece_size()),
        Ok(piece),
        "{size} bytes make pieces of {piece}"
    );
    size
}

/// Stores orders, confirmed, until every registered provider holds a piece
/// of a live order: the audit pallet's benchmark draws from them. The
/// providers are expected to be registered alike, each with room for at
/// least two leaves.
///
/// Placement draws by free room, so pieces here fill all but a leaf or two
/// of a provider's room: a provider holding one can take no other and is
/// almost never drawn again. Each order then reaches as many new providers
/// as it has pieces, in the widest coding that fits `MaxPieces` and the
/// providers left: `⌈providers / width⌉` orders, at most `max_providers`.
pub(crate) fn spread<T: Config>() {
    let owner = owner::<T>();
    let widest = T::MaxPieces::get().min(u32::from(MAX_DATA_SHARDS) + u32::from(MAX_PARITY_SHARDS));
    let any_price = BalanceOf::<T>::max_value();
    let leaf = LEAF_SIZE as u64;
    let Some(room) = T::Providers::pick(&[0; 32], widest, 0, any_price, &[])
        .iter()
        .map(|offer| offer.free)
        .min()
    else {
        return;
    };
    let fill = room.saturating_sub(leaf) / leaf * leaf;
    if fill < leaf {
        return;
    }
    // Orders are spread over blocks so that their deadlines fit: a block
    // takes `MaxDeadlinesPerBlock` orders.
    let now = frame_system::Pallet::<T>::block_number();
    let (mut offset, mut orders) = (0u32, 0u32);
    let mut room_for = || {
        if orders + 1 > T::MaxDeadlinesPerBlock::get() {
            offset += 1;
            orders = 0;
        }
        orders += 1;
        frame_system::Pallet::<T>::set_block_number(now.saturating_add(offset.into()));
    };
    for round in 0..T::Providers::max_providers() {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&round.to_le_bytes());
        let fresh = T::Providers::pick(&seed, widest, fill, any_price, &[]).len() as u32;
        if fresh == 0 {
            break;
        }
        if fresh == 1 {
            // One provider left: a one-leaf order gives it a piece and
            // another to a provider that kept a leaf of room.
            if ProviderPieceCount::<T>::iter_keys().next().is_some() {
                room_for();
                let tiny =
                    CodingParams::with_segment_size(1, 1, MAX_SEGMENT_SIZE).expect("1 + 1; qed");
                store_object::<T>(&owner, tiny, 1, 0, T::MinPeriods::get())
                    .expect("the last provider and one with a leaf of room; qed");
            }
            break;
        }
        let coding = coding(fresh);
        let shard = coding.shard_size(coding.segment_size as usize) as u64;
        let piece = fill.min(u64::from(MAX_SEGMENTS) * shard);
        room_for();
        store_object::<T>(
            &owner,
            coding,
            size_of_piece(&coding, piece),
            0,
            T::MinPeriods::get(),
        )
        .expect("as many providers without a piece as the order has pieces; qed");
    }
    frame_system::Pallet::<T>::set_block_number(now);
    for (id, record) in Orders::<T>::iter().collect::<Vec<_>>() {
        for (number, piece) in record.pieces.iter().enumerate() {
            Pallet::<T>::confirm(
                RawOrigin::Signed(piece.provider.clone()).into(),
                id,
                number as u32,
            )
            .expect("each provider confirms its own piece; qed");
        }
    }
}

#[benchmarks]
mod benchmarks {
    use super::*;

    /// `n` pieces wrapped to `r` readers, among every provider that may
    /// register (placement draws without reading them all), with the
    /// deadline lists crowded.
    #[benchmark]
    fn store(n: Linear<2, { T::MaxPieces::get() }>, r: Linear<0, { T::MaxRecipients::get() }>) {
        providers::<T>("provider", T::Providers::max_providers());
        let owner = owner::<T>();
        let deadline =
            frame_system::Pallet::<T>::block_number().saturating_add(T::ConfirmWindow::get());
        crowd::<T>(deadline);
        let access = access::<T>(r);
        #[extrinsic_call]
        _(
            RawOrigin::Signed(owner),
            cid::<T>(),
            SIZE,
            coding(n),
            roots::<T>(n),
            access,
            PERIODS,
            1u32.into(),
        );
        let stored = order::<T>(0);
        assert_eq!(stored.pieces.len() as u32, n);
        assert_eq!(stored.access.recipients(), r);
        assert_eq!(stored.due, crowded::<T>(deadline));
    }

    /// The last confirmation of an order of `MaxPieces` pieces, which makes
    /// it live: its deadline is unscheduled from a full list, its expiry
    /// scheduled in the last block tried.
    #[benchmark]
    fn confirm() {
        let n = T::MaxPieces::get();
        providers::<T>("provider", n);
        crowd::<T>(
            frame_system::Pallet::<T>::block_number().saturating_add(T::ConfirmWindow::get()),
        );
        let id = place::<T>(&owner::<T>(), n, 0);
        let expiry = Pallet::<T>::period_start(end_period::<T>());
        crowd::<T>(expiry);
        confirm_all::<T>(id, 1);
        let last = n - 1;
        let provider = order::<T>(id).pieces[last as usize].provider.clone();
        #[extrinsic_call]
        _(RawOrigin::Signed(provider), id, last);
        let record = order::<T>(id);
        assert!(matches!(record.state, OrderState::Live { .. }));
        assert_eq!(record.due, crowded::<T>(expiry));
    }

    /// More periods for a live order of `n` pieces, moved from a full
    /// deadline list to the last block tried.
    #[benchmark]
    fn extend(n: Linear<2, { T::MaxPieces::get() }>) {
        providers::<T>("provider", n);
        let owner = owner::<T>();
        let id = place::<T>(&owner, n, 0);
        let last = end_period::<T>();
        crowd::<T>(Pallet::<T>::period_start(last));
        confirm_all::<T>(id, 0);
        let extended = Pallet::<T>::period_start(last + PERIODS);
        crowd::<T>(extended);
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, PERIODS);
        let record = order::<T>(id);
        assert_eq!(record.periods, 2 * PERIODS);
        assert_eq!(record.due, crowded::<T>(extended));
    }

    /// Deletion half way through an order of `n` pieces: the escrow
    /// refunded, each provider's list refilled from an order of `MaxPieces`
    /// pieces, and every provider found leaving, with its repair cursor
    /// rewound.
    #[benchmark]
    fn delete(n: Linear<2, { T::MaxPieces::get() }>) {
        providers::<T>("provider", T::MaxPieces::get());
        let owner = owner::<T>();
        let id = place::<T>(&owner, n, 0);
        crowd::<T>(Pallet::<T>::period_start(end_period::<T>()));
        confirm_all::<T>(id, 0);
        let other = place::<T>(&owner, T::MaxPieces::get(), 0);
        for piece in order::<T>(id).pieces.iter() {
            Leaving::<T>::insert(
                &piece.provider,
                RepairCursor {
                    slot: 1,
                    retrying: false,
                },
            );
        }
        frame_system::Pallet::<T>::set_block_number(Pallet::<T>::period_start(5));
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id);
        assert!(Orders::<T>::get(id).is_none());
        assert!(
            order::<T>(other).pieces.iter().all(|p| p.slot == 0),
            "each freed slot was refilled"
        );
        let rewound = Leaving::<T>::iter()
            .filter(|(_, cursor)| cursor.slot == 0)
            .count() as u32;
        assert_eq!(rewound, n);
    }

    /// The last key an order of `MaxPieces` pieces may hold.
    #[benchmark]
    fn share() {
        let n = T::MaxPieces::get();
        let readers = T::MaxRecipients::get();
        providers::<T>("provider", n);
        let owner = owner::<T>();
        let id = place::<T>(&owner, n, readers.saturating_sub(1).max(1));
        #[extrinsic_call]
        _(RawOrigin::Signed(owner), id, key(readers));
        assert_eq!(order::<T>(id).access.recipients(), readers);
    }

    /// The block hook ending an order of `n` pieces at its expiry: every
    /// piece paid, each provider's list refilled from an order of
    /// `MaxPieces` pieces; no repairs.
    #[benchmark]
    fn end(n: Linear<2, { T::MaxPieces::get() }>) {
        providers::<T>("provider", T::MaxPieces::get());
        let owner = owner::<T>();
        let id = place::<T>(&owner, n, 0);
        confirm_all::<T>(id, 0);
        let other = place::<T>(&owner, T::MaxPieces::get(), 0);
        let due = order::<T>(id).due;
        frame_system::Pallet::<T>::set_block_number(due);
        #[block]
        {
            Pallet::<T>::on_initialize(due);
        }
        assert!(Orders::<T>::get(id).is_none());
        assert!(
            order::<T>(other).pieces.iter().all(|p| p.slot == 0),
            "each freed slot was refilled"
        );
    }

    /// The confirm deadline of an order of `n` pieces none of which was
    /// confirmed, with another round to go: every provider slashed, the
    /// owner's share of each bond burnt and put up again, each piece queued
    /// to move behind a queue of failed pieces all but full, and the order
    /// rescheduled in the last block tried.
    #[benchmark]
    fn unconfirmed(n: Linear<2, { T::MaxPieces::get() }>) {
        providers::<T>("provider", T::MaxPieces::get());
        let id = place::<T>(&owner::<T>(), n, 0);
        let due = order::<T>(id).due;
        let queued = T::MaxFailedPieces::get().saturating_sub(n);
        FailedPieces::<T>::put(BoundedVec::truncate_from(
            (0..queued)
                .map(|i| (OrderId::MAX - u64::from(i), 0, account("failed", i, 0)))
                .collect(),
        ));
        crowd::<T>(due.saturating_add(T::ConfirmWindow::get()));
        frame_system::Pallet::<T>::set_block_number(due);
        #[block]
        {
            Pallet::<T>::on_initialize(due);
        }
        if T::ConfirmRounds::get() > 1 {
            assert_eq!(order::<T>(id).rounds, 1, "another round");
            assert_eq!(FailedPieces::<T>::get().len() as u32, queued + n);
        } else {
            assert!(Orders::<T>::get(id).is_none(), "no round left: cancelled");
        }
    }

    /// `r` pieces of an ejected provider moved, each from an order of
    /// `MaxPieces` pieces (all its providers excluded from the draw) to one
    /// of the other registered providers, after paying the leaving one and
    /// refilling its slot from another order.
    #[benchmark]
    fn repair(r: Linear<1, { T::RepairsPerBlock::get() }>) {
        let width = T::MaxPieces::get().min(T::Providers::max_providers() - 1);
        providers::<T>("holder", width);
        let owner = owner::<T>();
        let first = NextOrderId::<T>::get();
        for _ in 0..r {
            let id = place::<T>(&owner, width, 0);
            confirm_all::<T>(id, 0);
        }
        providers::<T>("taker", T::Providers::max_providers() - width);
        let leaving = order::<T>(first).pieces[0].provider.clone();
        frame_system::Pallet::<T>::set_block_number(Pallet::<T>::period_start(5));
        T::Providers::eject(&leaving);
        #[block]
        {
            Pallet::<T>::repair(r);
        }
        assert_eq!(ProviderPieceCount::<T>::get(&leaving), 0);
        for id in first..first + u64::from(r) {
            assert!(order::<T>(id).pieces.iter().all(|p| p.provider != leaving));
        }
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
