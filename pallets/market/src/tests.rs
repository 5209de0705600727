//! Calls, errors, events and the order lifecycle: placement, payment for
//! proven periods only, refunds, cancellation, expiry, sharing, the indexes
//! and repair.

use std::collections::BTreeSet;

use crate::mock::*;
use crate::{
    Access, AccessOf, CidOf, CodingParams, Deadlines, EndReason, Error, Event, HoldReason,
    HolderIndex, Layout, Leaving, OrderId, OrderOf, OrderState, Orders, PeriodIndex, PieceIndex,
    PieceRoot, ProviderPieceCount, ProviderPieces, RepairCursor, RootsOf, WrappedKey,
};
use mosaic_primitives::encryption::{CipherSuite, PublicKey};
use mosaic_primitives::piece::MAX_SEGMENTS;
use mosaic_primitives::unixfs::file_cid;
use parity_scale_codec::{Encode, MaxEncodedLen};
use polkadot_sdk::frame_support::storage::unhashed;
use polkadot_sdk::frame_support::traits::fungible::{Inspect, InspectHold};
use polkadot_sdk::frame_support::{assert_noop, assert_ok, BoundedVec};
use polkadot_sdk::sp_runtime::{DispatchResult, TokenError};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// 300 KiB in 256 KiB segments coded 2 + 1: two segments, whose shards are
/// 128 KiB and 22 KiB, so each of the three pieces is 150 KiB.
const SIZE: u64 = 300 * KIB;
const PIECES: u32 = 3;
const PIECE_SIZE: u64 = 150 * KIB;
/// Stake for 1 GiB: `MinStake` and one `StakePerGiB`.
const STAKE: Balance = 1_100;
/// Deposit of a public order of the test object: base and three pieces.
const DEPOSIT: Balance = 50 + 3 * 2;

fn coding() -> CodingParams {
    CodingParams::with_segment_size(2, 1, 256 * KIB as u32).unwrap()
}

fn cid() -> CidOf<Test> {
    BoundedVec::truncate_from(file_cid(b"object").to_bytes())
}

fn other_cid() -> CidOf<Test> {
    BoundedVec::truncate_from(file_cid(b"other object").to_bytes())
}

fn roots(n: u32) -> RootsOf<Test> {
    BoundedVec::truncate_from((0..n).map(|i| PieceRoot([i as u8; 32])).collect())
}

/// A made-up file key wrapped to reader `reader`.
fn key(reader: u8) -> WrappedKey {
    WrappedKey {
        recipient: PublicKey([reader; 32]),
        encapped_key: [reader; 32],
        sealed_key: [reader; 48],
    }
}

fn encrypted(readers: &[u8]) -> AccessOf<Test> {
    Access::Encrypted {
        suite: CipherSuite::ChaCha20Poly1305,
        keys: BoundedVec::truncate_from(readers.iter().map(|r| key(*r)).collect()),
    }
}

/// Registers `who` with `capacity` bytes at `price`, staking what that needs.
fn register(who: AccountId, capacity: u64, price: Balance) {
    assert_ok!(Providers::register(
        RuntimeOrigin::signed(who),
        Providers::required_stake(capacity),
        capacity,
        price,
        BoundedVec::truncate_from(b"peer".to_vec()),
        BoundedVec::truncate_from(vec![BoundedVec::truncate_from(b"/ip4/127.0.0.1".to_vec())]),
    ));
}

/// Registers providers `10..10 + n` with 1 GiB at `price`.
fn providers(n: u64, price: Balance) {
    for who in 10..10 + n {
        register(who, GIB, price);
    }
}

/// `store` of the test object by `owner` for `periods` at `max_price`.
fn store_call(owner: AccountId, periods: u32, max_price: Balance) -> DispatchResult {
    store_with(
        owner,
        cid(),
        Access::Public { dag_index: 0 },
        periods,
        max_price,
    )
}

fn store_with(
    owner: AccountId,
    cid: CidOf<Test>,
    access: AccessOf<Test>,
    periods: u32,
    max_price: Balance,
) -> DispatchResult {
    Market::store(
        RuntimeOrigin::signed(owner),
        cid,
        SIZE,
        coding(),
        roots(PIECES),
        access,
        periods,
        max_price,
    )
}

fn last_order() -> OrderId {
    crate::NextOrderId::<Test>::get() - 1
}

fn store(owner: AccountId, periods: u32) -> OrderId {
    assert_ok!(store_call(owner, periods, 1));
    last_order()
}

fn order(id: OrderId) -> OrderOf<Test> {
    Orders::<Test>::get(id).expect("the order exists")
}

fn provider_of(id: OrderId, piece: u32) -> AccountId {
    order(id).pieces[piece as usize].provider
}

fn holders(id: OrderId) -> Vec<AccountId> {
    order(id).pieces.iter().map(|p| p.provider).collect()
}

/// The holder list as the audit pallet reads it, after checking it against
/// the orders: dense, each entry's position recorded, no provider twice, and
/// exactly the providers the orders place pieces on.
fn holder_list() -> Vec<AccountId> {
    let count = Market::holder_count();
    let list: Vec<AccountId> = (0..count)
        .map(|index| Market::holder_at(index).expect("no gap below the count"))
        .collect();
    assert_eq!(Market::holder_at(count), None, "nothing past the end");
    for (index, who) in list.iter().enumerate() {
        assert_eq!(HolderIndex::<Test>::get(who), Some(index as u32));
    }
    let placed: BTreeSet<AccountId> = Orders::<Test>::iter()
        .flat_map(|(_, order)| order.pieces.into_iter().map(|piece| piece.provider))
        .collect();
    assert_eq!(
        distinct(&list),
        list.len(),
        "a provider listed twice: {list:?}"
    );
    assert_eq!(list.iter().copied().collect::<BTreeSet<_>>(), placed);
    list
}

fn confirm_all(id: OrderId) {
    for piece in 0..order(id).pieces.len() as u32 {
        assert_ok!(Market::confirm(
            RuntimeOrigin::signed(provider_of(id, piece)),
            id,
            piece
        ));
    }
}

fn escrow_held(who: AccountId) -> Balance {
    Balances::balance_on_hold(&RuntimeHoldReason::Market(HoldReason::Escrow), &who)
}

fn deposit_held(who: AccountId) -> Balance {
    Balances::balance_on_hold(&RuntimeHoldReason::Market(HoldReason::Deposit), &who)
}

/// What a provider registered by [`providers`] earned.
fn earned(who: AccountId) -> Balance {
    Balances::balance(&who) - (ENDOWMENT - STAKE)
}

/// One period of one piece at price 1.
fn piece_period() -> Balance {
    PIECE_SIZE * PERIOD
}

/// One period of the whole object at price 1.
fn per_period() -> Balance {
    u64::from(PIECES) * piece_period()
}

fn used(who: AccountId) -> u64 {
    pallet_mosaic_providers::Providers::<Test>::get(who)
        .map(|p| p.used)
        .unwrap_or_default()
}

fn events() -> Vec<Event<Test>> {
    System::events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Market(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn distinct(accounts: &[AccountId]) -> usize {
    accounts.iter().collect::<BTreeSet<_>>().len()
}

#[test]
fn store_places_each_piece_on_its_own_provider_and_holds_escrow() {
    ExtBuilder.run(|| {
        providers(4, 1);
        let id = store(1, 3);
        let record = order(id);
        assert_eq!(record.pieces.len() as u32, PIECES);
        assert_eq!(record.piece_size, PIECE_SIZE);
        assert_eq!(
            Layout::new(coding(), SIZE).unwrap().piece_size(),
            PIECE_SIZE
        );
        assert_eq!(record.escrow, 3 * per_period());
        assert_eq!(escrow_held(1), 3 * per_period());
        assert_eq!(deposit_held(1), DEPOSIT);
        assert_eq!(record.deposit, DEPOSIT);
        assert_eq!(distinct(&holders(id)), PIECES as usize);
        for (number, piece) in record.pieces.iter().enumerate() {
            assert_eq!(piece.root, PieceRoot([number as u8; 32]));
            assert_eq!(piece.price, 1);
            assert!(!piece.confirmed);
            assert_eq!(
                ProviderPieces::<Test>::get(piece.provider, piece.slot),
                Some((id, number as u32))
            );
            assert_eq!(used(piece.provider), PIECE_SIZE);
        }
        let idle: Vec<_> = (10..14).filter(|w| !holders(id).contains(w)).collect();
        assert_eq!(idle.len(), 1);
        assert_eq!(used(idle[0]), 0);
        assert_eq!(
            record.state,
            OrderState::Pending {
                deadline: 1 + CONFIRM_WINDOW
            }
        );
        assert_eq!(
            Deadlines::<Test>::get(1 + CONFIRM_WINDOW).to_vec(),
            vec![id]
        );
        assert_eq!(
            events().last(),
            Some(&Event::Stored {
                order: id,
                owner: 1,
                pieces: PIECES,
                escrow: 3 * per_period()
            })
        );
    });
}

/// The CID of a public object of several chunks: a dag-pb root.
fn dag_pb_cid() -> CidOf<Test> {
    BoundedVec::truncate_from(file_cid(&[1; 600 * 1024]).to_bytes())
}

#[test]
fn a_pack_records_its_dag_index() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let access = Access::Public { dag_index: SIZE };
        assert_ok!(store_with(1, dag_pb_cid(), access.clone(), 3, 1));
        assert_eq!(Orders::<Test>::get(last_order()).unwrap().access, access);
    });
}

#[test]
fn store_rejects_bad_input_and_changes_nothing() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let origin = || RuntimeOrigin::signed(1);
        let store = |size: u64, coding: CodingParams, roots: RootsOf<Test>| {
            Market::store(
                origin(),
                cid(),
                size,
                coding,
                roots,
                Access::Public { dag_index: 0 },
                3,
                1,
            )
        };
        let garbage = BoundedVec::truncate_from(b"not a cid".to_vec());
        assert_noop!(
            store_with(1, garbage, Access::Public { dag_index: 0 }, 3, 1),
            Error::<Test>::InvalidCid
        );
        let mut bad = coding();
        bad.segment_size = 1000;
        assert_noop!(
            store(SIZE, bad, roots(PIECES)),
            Error::<Test>::InvalidCoding
        );
        assert_noop!(
            store(0, coding(), roots(PIECES)),
            Error::<Test>::EmptyObject
        );
        assert_noop!(
            store(MAX_SEGMENTS as u64 * 256 * KIB + 1, coding(), roots(PIECES)),
            Error::<Test>::TooLarge
        );
        assert_noop!(store_call(1, 0, 1), Error::<Test>::InvalidPeriods);
        assert_noop!(store_call(1, 101, 1), Error::<Test>::InvalidPeriods);
        assert_noop!(
            store(SIZE, coding(), roots(PIECES - 1)),
            Error::<Test>::WrongPieceCount
        );
        // 9 + 8 pieces, one more than `MaxPieces`.
        let wide = CodingParams::with_segment_size(9, 8, 256 * KIB as u32).unwrap();
        assert_noop!(store(SIZE, wide, roots(16)), Error::<Test>::TooManyPieces);
        // Encrypted, but wrapped to nobody.
        assert_noop!(
            store_with(1, cid(), encrypted(&[]), 3, 1),
            Error::<Test>::InvalidAccess
        );
        // A DAG index under a raw root, or longer than the object.
        let pack = |dag_index| Access::Public { dag_index };
        assert_noop!(
            store_with(1, cid(), pack(1), 3, 1),
            Error::<Test>::InvalidAccess
        );
        assert_noop!(
            store_with(1, dag_pb_cid(), pack(SIZE + 1), 3, 1),
            Error::<Test>::InvalidAccess
        );
        // Price below every provider's.
        assert_noop!(store_call(1, 3, 0), Error::<Test>::NoProviders);
        // An owner who cannot pay.
        assert_noop!(store_call(99, 3, 1), TokenError::FundsUnavailable);
        assert_eq!(crate::NextOrderId::<Test>::get(), 0);
    });
}

#[test]
fn objects_up_to_the_segment_bound_are_accepted() {
    ExtBuilder.run(|| {
        providers(3, 1);
        // Exactly `MAX_SEGMENTS` segments is a valid layout (here too large
        // for these providers); one byte more is not.
        let largest = Layout::max_stored_size(&coding());
        assert_eq!(largest, MAX_SEGMENTS as u64 * 256 * KIB);
        assert_eq!(
            Market::quote(largest, coding(), 0, 3, u64::MAX),
            Err(Error::<Test>::NoProviders.into())
        );
        assert_eq!(
            Market::quote(largest + 1, coding(), 0, 3, u64::MAX),
            Err(Error::<Test>::TooLarge.into())
        );
        // A quote wrapping the key to more readers than an order may hold.
        assert_eq!(
            Market::quote(SIZE, coding(), 3, 3, 1),
            Err(Error::<Test>::InvalidAccess.into())
        );
    });
}

#[test]
fn piece_roots_must_match_the_coding_before_anything_is_placed() {
    ExtBuilder.run(|| {
        // No provider at all: a mismatched root list is refused for what it
        // is, not after a placement that the call's weight (by the roots
        // given) did not pay for.
        assert_noop!(
            Market::store(
                RuntimeOrigin::signed(1),
                cid(),
                SIZE,
                coding(),
                roots(2),
                Access::Public { dag_index: 0 },
                3,
                1
            ),
            Error::<Test>::WrongPieceCount
        );
        assert_noop!(store_call(1, 3, 1), Error::<Test>::NoProviders);
    });
}

#[test]
fn an_order_no_set_of_providers_can_serve_is_rejected() {
    ExtBuilder.run(|| {
        // Two providers cannot give three pieces three homes.
        providers(2, 1);
        assert_noop!(store_call(1, 3, 1), Error::<Test>::NoProviders);
        // Nor can a third without room for a piece.
        register(12, 100 * KIB, 1);
        assert_noop!(store_call(1, 3, 1), Error::<Test>::NoProviders);
        register(13, PIECE_SIZE, 1);
        let id = store(1, 3);
        assert!(holders(id).contains(&13));
        assert!(!holders(id).contains(&12));
        assert_eq!(used(13), PIECE_SIZE);
    });
}

#[test]
fn placement_draws_distinct_providers_at_or_below_the_price_bound() {
    ExtBuilder.run(|| {
        // Prices 1, 2, 3, 1, 2, 3, …: a third of the providers too dear.
        let price = |who: AccountId| 1 + (who - 10) % 3;
        for who in 10..19 {
            register(who, GIB, price(who));
        }
        let mut placed = BTreeSet::new();
        for round in 0..8u8 {
            Randomness::set([round; 32]);
            let id = last_order_after(store_call(1, 2, 2));
            let record = order(id);
            assert_eq!(distinct(&holders(id)), PIECES as usize);
            for piece in &record.pieces {
                assert!(price(piece.provider) <= 2, "{} is too dear", piece.provider);
                assert_eq!(
                    piece.price,
                    price(piece.provider),
                    "the provider's own price"
                );
            }
            let escrow: Balance =
                record.pieces.iter().map(|p| p.price).sum::<Balance>() * PIECE_SIZE * PERIOD * 2;
            assert_eq!(record.escrow, escrow);
            placed.extend(holders(id));
        }
        // The draws vary: more providers were used than one order needs.
        assert!(placed.len() > PIECES as usize, "{placed:?}");
        Randomness::set([0; 32]);
    });
}

fn last_order_after(result: DispatchResult) -> OrderId {
    assert_ok!(result);
    last_order()
}

#[test]
fn placement_favours_free_capacity() {
    ExtBuilder.run(|| {
        // Provider 10 has a thousand times the room of the others.
        register(10, 1_000 * MIB, 1);
        for who in 11..16 {
            register(who, MIB, 1);
        }
        for round in 0..6u8 {
            Randomness::set([round; 32]);
            let id = store(1, 2);
            assert!(holders(id).contains(&10), "order {id}: {:?}", holders(id));
        }
        Randomness::set([0; 32]);
    });
}

#[test]
fn placement_follows_the_chain_randomness() {
    fn placement() -> Vec<AccountId> {
        Market::quote(SIZE, coding(), 0, 3, 1)
            .unwrap()
            .pieces
            .into_iter()
            .map(|(who, _)| who)
            .collect()
    }
    /// Providers of the first order stored on a fresh chain with `seed`.
    fn first_order(seed: [u8; 32]) -> Vec<AccountId> {
        let mut placed = Vec::new();
        ExtBuilder.run(|| {
            providers(9, 1);
            Randomness::set(seed);
            placed = holders(store(1, 3));
            Randomness::set([0; 32]);
        });
        placed
    }
    ExtBuilder.run(|| {
        providers(9, 1);
        Randomness::set([1; 32]);
        let quoted = placement();
        assert_eq!(placement(), quoted, "same randomness, same draw");
        let id = store(1, 3);
        assert_eq!(holders(id), quoted, "stored as quoted");
        let draws: BTreeSet<Vec<AccountId>> = (0..8u8)
            .map(|seed| {
                Randomness::set([seed; 32]);
                placement()
            })
            .collect();
        assert!(draws.len() >= 6, "{draws:?}");
        Randomness::set([0; 32]);
    });
    assert_eq!(first_order([7; 32]), first_order([7; 32]));
    assert_ne!(first_order([7; 32]), first_order([8; 32]));
}

#[test]
fn confirmations_make_an_order_live() {
    ExtBuilder.run(|| {
        providers(4, 1);
        let id = store(1, 3);
        let first = provider_of(id, 0);
        let other = (10..14).find(|w| *w != first).unwrap();
        assert_noop!(
            Market::confirm(RuntimeOrigin::signed(other), id, 0),
            Error::<Test>::NotAssigned
        );
        assert_noop!(
            Market::confirm(RuntimeOrigin::signed(first), 9, 0),
            Error::<Test>::UnknownOrder
        );
        assert_noop!(
            Market::confirm(RuntimeOrigin::signed(first), id, PIECES),
            Error::<Test>::UnknownPiece
        );
        assert_ok!(Market::confirm(RuntimeOrigin::signed(first), id, 0));
        assert_noop!(
            Market::confirm(RuntimeOrigin::signed(first), id, 0),
            Error::<Test>::AlreadyConfirmed
        );
        assert_eq!(order(id).confirmed, 1);
        assert!(matches!(order(id).state, OrderState::Pending { .. }));
        assert!(!Market::piece_ref(&first, 0).unwrap().auditable, "pending");
        for piece in 1..PIECES {
            assert_ok!(Market::confirm(
                RuntimeOrigin::signed(provider_of(id, piece)),
                id,
                piece
            ));
        }
        // Block 1 is in period 0, so payment starts with period 1.
        assert_eq!(order(id).state, OrderState::Live { start: 1, end: 4 });
        assert_eq!(order(id).due, 4 * PERIOD);
        assert_eq!(
            events().last(),
            Some(&Event::Live {
                order: id,
                start: 1,
                end: 4
            })
        );
        assert!(Deadlines::<Test>::get(1 + CONFIRM_WINDOW).is_empty());
        assert_eq!(Deadlines::<Test>::get(4 * PERIOD).to_vec(), vec![id]);
        let audited = Market::piece_ref(&first, 0).unwrap();
        assert!(audited.auditable);
        assert_eq!((audited.order, audited.piece), (id, 0));
        assert_eq!(audited.root, PieceRoot([0; 32]));
        assert_eq!(audited.layout, Layout::new(coding(), SIZE).unwrap());
    });
}

#[test]
fn unconfirmed_orders_are_cancelled_with_a_full_refund() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let id = store(1, 3);
        for piece in 0..PIECES - 1 {
            assert_ok!(Market::confirm(
                RuntimeOrigin::signed(provider_of(id, piece)),
                id,
                piece
            ));
        }
        run_to(CONFIRM_WINDOW);
        assert!(Orders::<Test>::get(id).is_some(), "not before the deadline");
        run_to(1 + CONFIRM_WINDOW);
        assert!(Orders::<Test>::get(id).is_none());
        assert_eq!((escrow_held(1), deposit_held(1)), (0, 0));
        assert_eq!(Balances::balance(&1), ENDOWMENT);
        for who in 10..13 {
            assert_eq!(ProviderPieceCount::<Test>::get(who), 0);
            assert_eq!(used(who), 0);
            assert_eq!(earned(who), 0);
        }
        assert_eq!(
            events().last(),
            Some(&Event::Ended {
                order: id,
                reason: EndReason::Unconfirmed,
                refund: 3 * per_period()
            })
        );
    });
}

/// The audit pallet's verdict that piece `piece` of `id` was proven in
/// `period`.
fn prove(id: OrderId, piece: u32, period: PeriodIndex) {
    <Market as PieceIndex<AccountId>>::proven(id, piece, period);
}

#[test]
fn a_provider_that_never_confirms_loses_its_bond_and_the_order_goes_live_without_it() {
    ExtBuilder.run(|| {
        UnconfirmedSlash::set(polkadot_sdk::sp_runtime::Perbill::from_percent(50));
        ConfirmRounds::set(2);
        providers(4, 1);
        let id = store(1, 3);
        let lazy = provider_of(id, 2);
        let taker = (10..14).find(|w| !holders(id).contains(w)).unwrap();
        for piece in 0..2 {
            assert_ok!(Market::confirm(
                RuntimeOrigin::signed(provider_of(id, piece)),
                id,
                piece
            ));
        }
        let stake = |who| {
            pallet_mosaic_providers::Providers::<Test>::get(who)
                .unwrap()
                .stake
        };
        let before = stake(lazy);
        // The deadline passes: the lazy provider loses half the stake
        // backing its piece (one started GiB), the order gets another
        // window, and the piece moves in the next repair pass.
        run_to(1 + CONFIRM_WINDOW);
        let slashed = before - stake(lazy);
        assert_eq!(slashed, 100 / 2);
        // The owner put up as much for the piece, and loses it too.
        assert!(events().contains(&Event::Unconfirmed {
            order: id,
            piece: 2,
            provider: lazy,
            slashed,
            forfeited: slashed
        }));
        assert_eq!(
            Balances::balance_on_hold(&RuntimeHoldReason::Market(HoldReason::Bond), &1),
            3 * slashed,
            "the owner's share for the moved piece is put up again for the next round"
        );
        assert_eq!(
            Balances::balance(&1) + 3 * slashed + slashed,
            ENDOWMENT - escrow_held(1) - deposit_held(1)
        );
        assert_eq!(
            order(id).state,
            OrderState::Pending {
                deadline: 1 + 2 * CONFIRM_WINDOW
            }
        );
        run_to(2 + CONFIRM_WINDOW);
        assert_eq!(provider_of(id, 2), taker);
        assert_eq!(ProviderPieceCount::<Test>::get(lazy), 0);
        // The taker stores and confirms: the order goes live.
        assert_ok!(Market::confirm(RuntimeOrigin::signed(taker), id, 2));
        assert!(matches!(order(id).state, OrderState::Live { .. }));
        assert_eq!(
            Balances::balance_on_hold(&RuntimeHoldReason::Market(HoldReason::Bond), &1),
            0,
            "released once live"
        );
        // The providers who confirmed kept their stake.
        for piece in 0..2 {
            assert_eq!(stake(provider_of(id, piece)), before);
        }
    });
}

#[test]
fn an_order_never_confirmed_is_cancelled_after_its_rounds() {
    ExtBuilder.run(|| {
        UnconfirmedSlash::set(polkadot_sdk::sp_runtime::Perbill::from_percent(10));
        ConfirmRounds::set(2);
        providers(3, 1);
        let id = store(1, 3);
        // Nobody else can take the pieces: two deadlines pass, each
        // slashing the three providers, then the order is cancelled and
        // the owner refunded in full.
        run_to(1 + 2 * CONFIRM_WINDOW);
        assert!(Orders::<Test>::get(id).is_none());
        let bonds = events()
            .iter()
            .filter(|e| matches!(e, Event::Unconfirmed { .. }))
            .count();
        assert_eq!(bonds, 6);
        // The owner loses its share of each of the six bonds, and is
        // refunded the rest.
        assert_eq!(Balances::balance(&1), ENDOWMENT - 6 * 10);
        for who in 10..13 {
            assert_eq!(ProviderPieceCount::<Test>::get(who), 0);
        }
    });
}

#[test]
fn a_repaired_piece_not_confirmed_in_time_costs_its_taker_and_moves_again() {
    ExtBuilder.run(|| {
        UnconfirmedSlash::set(polkadot_sdk::sp_runtime::Perbill::from_percent(50));
        providers(5, 1);
        let id = store(1, 10);
        confirm_all(id);
        let leaving = provider_of(id, 0);
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(leaving)));
        run_to(2);
        let taker = provider_of(id, 0);
        assert_ne!(taker, leaving);
        // The taker never rebuilds it: at the window's end it forfeits its
        // bond and the piece moves on to the last provider.
        run_to(2 + CONFIRM_WINDOW);
        assert!(events().iter().any(|e| matches!(
            e,
            Event::Unconfirmed { provider, piece: 0, .. } if *provider == taker
        )));
        run_to(3 + CONFIRM_WINDOW);
        let next = provider_of(id, 0);
        assert!(next != taker && next != leaving);
        // A taker that confirms in time keeps its bond.
        assert_ok!(Market::confirm(RuntimeOrigin::signed(next), id, 0));
        run_to(4 + 2 * CONFIRM_WINDOW);
        assert_eq!(provider_of(id, 0), next);
        assert!(!events().iter().any(|e| matches!(
            e,
            Event::Unconfirmed { provider, .. } if *provider == next
        )));
    });
}

#[test]
fn orders_ending_together_spread_over_the_period_and_past_it_instead_of_failing() {
    ExtBuilder.run(|| {
        // Two orders a block: before, only 16 blocks from the period's first
        // could take the expiries of orders ending together (32 of them),
        // and the 33rd last confirm failed.
        providers(3, 1);
        // Stored and confirmed over the first period's blocks, five a block
        // (their confirm deadlines have room): all end with period 2.
        let mut ids = Vec::new();
        for block in 1..9 {
            run_to(block);
            for _ in 0..5 {
                let id = store(1, 2);
                confirm_all(id);
                ids.push(id);
            }
        }
        let mut dues: Vec<u64> = ids.iter().map(|id| order(*id).due).collect();
        for id in &ids {
            assert!(matches!(order(*id).state, OrderState::Live { end: 3, .. }));
        }
        dues.sort();
        assert!(dues[0] >= 3 * PERIOD, "not before the end");
        assert!(
            *dues.last().unwrap() >= 4 * PERIOD,
            "some spill into the next period: {dues:?}"
        );
        // Past its end an order waits for its block, unaudited.
        let late = ids[ids
            .iter()
            .position(|id| order(*id).due > 3 * PERIOD + 1)
            .unwrap()];
        run_to(3 * PERIOD + 1);
        let provider = provider_of(late, 0);
        let slot = order(late).pieces[0].slot;
        assert!(!Market::piece_ref(&provider, slot).unwrap().auditable);
        run_to(5 * PERIOD);
        assert_eq!(Orders::<Test>::iter().count(), 0, "every one expired");
    });
}

#[test]
fn proven_periods_are_paid_at_once_and_add_up_to_the_price() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let id = store(1, 3);
        confirm_all(id);
        // Each proof pays its piece through its period, at once.
        for period in 1..4 {
            run_to(u64::from(period) * PERIOD);
            for piece in 0..3 {
                prove(id, piece, period);
                assert_eq!(
                    earned(provider_of(id, piece)),
                    u64::from(period) * piece_period()
                );
            }
            assert_eq!(order(id).escrow, u64::from(3 - period) * per_period());
        }
        assert_eq!(escrow_held(1), 0);
        assert!(events().contains(&Event::Paid {
            order: id,
            provider: provider_of(id, 0),
            amount: piece_period()
        }));
        run_to(4 * PERIOD - 1);
        assert!(Orders::<Test>::get(id).is_some(), "not before its end");
        run_to(4 * PERIOD);
        assert!(Orders::<Test>::get(id).is_none(), "expired");
        for who in 10..13 {
            assert_eq!(earned(who), 3 * piece_period());
            assert_eq!(crate::Earned::<Test>::get(who), 3 * piece_period());
            assert_eq!(used(who), 0);
        }
        assert_eq!(Balances::balance(&1), ENDOWMENT - 3 * per_period());
        assert_eq!((escrow_held(1), deposit_held(1)), (0, 0));
        assert_eq!(
            events().last(),
            Some(&Event::Ended {
                order: id,
                reason: EndReason::Expired,
                refund: 0
            })
        );
    });
}

#[test]
fn a_proof_pays_every_period_since_the_last_however_old_and_each_once() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let id = store(1, 100);
        confirm_all(id);
        let worker = provider_of(id, 0);
        // A piece drawn rarely: first proven in period 90, which pays
        // periods 1 to 90 (no window of recent periods to fall out of).
        run_to(90 * PERIOD);
        prove(id, 0, 90);
        assert_eq!(earned(worker), 90 * piece_period());
        assert_eq!(order(id).pieces[0].paid_until, 91);
        // Proving the same period again, or an earlier one, pays nothing.
        prove(id, 0, 90);
        prove(id, 0, 50);
        assert_eq!(earned(worker), 90 * piece_period());
        // Never past the order's end, nor before its start.
        prove(id, 0, 500);
        assert_eq!(earned(worker), 100 * piece_period());
        prove(id, 1, 0);
        assert_eq!(earned(provider_of(id, 1)), 0);
        // A pending order's pieces earn nothing.
        let pending = store(1, 5);
        prove(pending, 0, 3);
        assert_eq!(order(pending).escrow, 5 * per_period());
    });
}

#[test]
fn unproven_periods_are_not_paid_and_go_back_to_the_owner() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let id = store(1, 3);
        confirm_all(id);
        // Only piece 0 is proven, in period 2: periods 1 and 2 are paid; its
        // period 3 and the other pieces' periods, never proven, are not.
        run_to(2 * PERIOD);
        prove(id, 0, 2);
        let proven = provider_of(id, 0);
        run_to(4 * PERIOD);
        let paid = 2 * piece_period();
        assert_eq!(earned(proven), paid);
        let earned_all: Balance = (10..13).map(earned).sum();
        assert_eq!(earned_all, paid);
        assert_eq!(Balances::balance(&1), ENDOWMENT - paid);
        assert_eq!(
            events().last(),
            Some(&Event::Ended {
                order: id,
                reason: EndReason::Expired,
                refund: 3 * per_period() - paid
            })
        );
    });
}

fn fail(id: OrderId, piece: u32, period: PeriodIndex, lost: bool) {
    <Market as PieceIndex<AccountId>>::failed(id, piece, period, lost);
}

#[test]
fn a_failed_piece_forfeits_its_unpaid_periods_and_moves_after_failing_again() {
    ExtBuilder.run(|| {
        providers(4, 1);
        let id = store(1, 8);
        confirm_all(id);
        let failing = provider_of(id, 0);
        let taker = (10..14).find(|w| !holders(id).contains(w)).unwrap();
        run_to(2 * PERIOD);
        prove(id, 0, 1);
        pieces_left();
        // It misses in period 2: period 2 is forfeited, and the piece stays
        // (one miss may be an offline spell).
        run_to(2 * PERIOD + 5);
        fail(id, 0, 2, false);
        assert_eq!(order(id).pieces[0].paid_until, 3, "forfeited at once");
        assert_eq!(order(id).pieces[0].failures, 1);
        run_to(2 * PERIOD + 6);
        assert_eq!(provider_of(id, 0), failing);
        // A proof in period 3 pays period 3 only and clears the count.
        run_to(3 * PERIOD);
        prove(id, 0, 3);
        assert_eq!(earned(failing), 2 * piece_period(), "periods 1 and 3");
        assert_eq!(order(id).pieces[0].failures, 0);
        // Two misses in a row: the piece moves in the next repair pass, and
        // the audit is told.
        run_to(4 * PERIOD);
        fail(id, 0, 4, false);
        run_to(5 * PERIOD);
        fail(id, 0, 5, false);
        assert_eq!(provider_of(id, 0), failing, "queued, not moved yet");
        run_to(5 * PERIOD + 1);
        assert_eq!(provider_of(id, 0), taker);
        assert_eq!(pieces_left(), vec![(failing, id, 0)]);
        assert_eq!(earned(failing), 2 * piece_period());
        let piece = &order(id).pieces[0];
        assert!(!piece.confirmed);
        assert_eq!((piece.paid_until, piece.failures), (6, 0));
        // The taker rebuilds, confirms and earns from period 6.
        assert_ok!(Market::confirm(RuntimeOrigin::signed(taker), id, 0));
        run_to(7 * PERIOD);
        prove(id, 0, 7);
        assert_eq!(earned(taker), 2 * piece_period());
        // A proof that does not verify moves a piece at once.
        let liar = provider_of(id, 1);
        fail(id, 1, 7, true);
        run_to(7 * PERIOD + 1);
        assert_ne!(provider_of(id, 1), liar);
    });
}

#[test]
fn deletion_refunds_exactly_the_unspent_part() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let id = store(1, 5);
        confirm_all(id);
        run_to(2 * PERIOD);
        for piece in 0..3 {
            prove(id, piece, 2);
        }
        run_to(3 * PERIOD + 4);
        assert_noop!(
            Market::delete(RuntimeOrigin::signed(2), id),
            Error::<Test>::NotOwner
        );
        pieces_left();
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), id));
        // Every piece leaves its provider, and the audit is told.
        let mut left = pieces_left();
        left.sort();
        let mut expected: Vec<_> = (0..3).map(|p| (provider_of_in(&left, p), id, p)).collect();
        expected.sort();
        assert_eq!(left, expected);
        // Periods 1 and 2 were proven and paid; 3..6 come back.
        assert_eq!(Balances::balance(&1), ENDOWMENT - 2 * per_period());
        assert_eq!((escrow_held(1), deposit_held(1)), (0, 0));
        for who in 10..13 {
            assert_eq!(earned(who), 2 * piece_period());
            assert_eq!(used(who), 0);
        }
        assert!(Deadlines::<Test>::get(6 * PERIOD).is_empty());
        assert_eq!(
            events().last(),
            Some(&Event::Ended {
                order: id,
                reason: EndReason::Deleted,
                refund: 3 * per_period()
            })
        );
        assert_noop!(
            Market::delete(RuntimeOrigin::signed(1), id),
            Error::<Test>::UnknownOrder
        );
    });
}

/// The provider recorded as leaving piece `piece` in `left`.
fn provider_of_in(left: &[(AccountId, OrderId, u32)], piece: u32) -> AccountId {
    left.iter()
        .find(|(_, _, p)| *p == piece)
        .expect("the piece left")
        .0
}

#[test]
fn the_owner_is_never_one_of_its_orders_providers() {
    ExtBuilder.run(|| {
        // The owner registers as a provider too; among four, every order
        // of three pieces would often draw it.
        providers(3, 1);
        register(1, GIB, 1);
        for _ in 0..10 {
            let id = store(1, 2);
            assert!(!holders(id).contains(&1), "{:?}", holders(id));
        }
        // With too few others, its order cannot be placed rather than land
        // on itself.
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(12)));
        assert_noop!(store_call(1, 2, 1), Error::<Test>::NoProviders);
        // Repair never moves a piece to its owner either.
        let id = store(2, 2);
        confirm_all(id);
        let leaving = provider_of(id, 0);
        if leaving != 1 {
            assert_ok!(Providers::unbond(RuntimeOrigin::signed(leaving)));
            run_to(System::block_number() + 1);
            assert_ne!(provider_of(id, 0), 2);
        }
    });
}

#[test]
fn a_pending_order_can_be_deleted() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let id = store(1, 5);
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), id));
        assert_eq!(Balances::balance(&1), ENDOWMENT);
        assert!(Deadlines::<Test>::get(1 + CONFIRM_WINDOW).is_empty());
        // Its deadline has nothing left to cancel.
        run_to(1 + CONFIRM_WINDOW);
        assert_eq!(
            events()
                .iter()
                .filter(|e| matches!(e, Event::Ended { .. }))
                .count(),
            1
        );
    });
}

#[test]
fn extension_buys_more_periods_at_the_recorded_prices() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let id = store(1, 2);
        assert_noop!(
            Market::extend(RuntimeOrigin::signed(1), id, 1),
            Error::<Test>::NotLive
        );
        confirm_all(id);
        assert_noop!(
            Market::extend(RuntimeOrigin::signed(2), id, 1),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Market::extend(RuntimeOrigin::signed(1), 9, 1),
            Error::<Test>::UnknownOrder
        );
        assert_noop!(
            Market::extend(RuntimeOrigin::signed(1), id, 99),
            Error::<Test>::InvalidPeriods
        );
        assert_noop!(
            Market::extend(RuntimeOrigin::signed(1), id, 0),
            Error::<Test>::InvalidPeriods
        );
        // A provider raising its price does not change the deal.
        assert_ok!(Providers::update(
            RuntimeOrigin::signed(10),
            STAKE,
            GIB,
            9,
            BoundedVec::truncate_from(b"peer".to_vec()),
            BoundedVec::truncate_from(vec![BoundedVec::truncate_from(b"/ip4/127.0.0.1".to_vec())]),
        ));
        assert_ok!(Market::extend(RuntimeOrigin::signed(1), id, 3));
        assert_eq!(escrow_held(1), 5 * per_period());
        assert_eq!(order(id).periods, 5);
        assert_eq!(order(id).state, OrderState::Live { start: 1, end: 6 });
        assert_eq!(
            events().last(),
            Some(&Event::Extended {
                order: id,
                end: 6,
                escrow: 3 * per_period()
            })
        );
        assert_eq!(Deadlines::<Test>::get(6 * PERIOD).to_vec(), vec![id]);
        assert!(Deadlines::<Test>::get(3 * PERIOD).is_empty());
        // It now expires at its new end.
        run_to(3 * PERIOD);
        assert!(Orders::<Test>::get(id).is_some());
        run_to(6 * PERIOD);
        assert!(Orders::<Test>::get(id).is_none());
    });
}

#[test]
fn share_wraps_the_key_to_one_more_reader_for_a_deposit() {
    ExtBuilder.run(|| {
        providers(3, 1);
        assert_ok!(store_with(1, cid(), encrypted(&[1]), 3, 1));
        let id = last_order();
        assert_eq!(deposit_held(1), DEPOSIT + 3);
        assert_noop!(
            Market::share(RuntimeOrigin::signed(2), id, key(2)),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Market::share(RuntimeOrigin::signed(1), 9, key(2)),
            Error::<Test>::UnknownOrder
        );
        assert_ok!(Market::share(RuntimeOrigin::signed(1), id, key(2)));
        assert_eq!(order(id).access, encrypted(&[1, 2]));
        assert_eq!(order(id).deposit, DEPOSIT + 2 * 3);
        assert_eq!(deposit_held(1), DEPOSIT + 2 * 3);
        assert_eq!(
            events().last(),
            Some(&Event::Shared {
                order: id,
                recipients: 2
            })
        );
        // `MaxRecipients` is 2.
        assert_noop!(
            Market::share(RuntimeOrigin::signed(1), id, key(3)),
            Error::<Test>::TooManyRecipients
        );
        let public = store(1, 3);
        assert_noop!(
            Market::share(RuntimeOrigin::signed(1), public, key(2)),
            Error::<Test>::NotEncrypted
        );
        // Ending the order gives the sharing deposits back too.
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), id));
        assert_eq!(deposit_held(1), DEPOSIT);
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), public));
        assert_eq!(Balances::balance(&1), ENDOWMENT);
    });
}

#[test]
fn sharing_needs_funds_for_the_deposit() {
    ExtBuilder.run(|| {
        providers(3, 1);
        assert_ok!(store_with(1, cid(), encrypted(&[1]), 3, 1));
        let id = last_order();
        // Owner 1 spends all it has left but the existential deposit.
        let spendable = Balances::balance(&1) - Balances::minimum_balance();
        assert_ok!(Balances::transfer_allow_death(
            RuntimeOrigin::signed(1),
            2,
            spendable
        ));
        assert_noop!(
            Market::share(RuntimeOrigin::signed(1), id, key(2)),
            TokenError::FundsUnavailable
        );
    });
}

#[test]
fn indexes_list_orders_by_owner_and_cid_and_pieces_by_provider() {
    /// Every page of `read`, `limit` at a time, following `after`.
    fn pages(limit: u32, read: impl Fn(Option<OrderId>, u32) -> Vec<OrderId>) -> Vec<OrderId> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = read(after, limit);
            assert!(page.len() <= limit as usize);
            let Some(last) = page.last() else {
                break;
            };
            after = Some(*last);
            all.extend(page);
        }
        all
    }
    ExtBuilder.run(|| {
        providers(3, 1);
        let mut mine = Vec::new();
        for i in 0..5 {
            let cid = if i % 2 == 0 { cid() } else { other_cid() };
            assert_ok!(store_with(1, cid, Access::Public { dag_index: 0 }, 3, 1));
            mine.push(last_order());
        }
        assert_ok!(store_with(
            2,
            other_cid(),
            Access::Public { dag_index: 0 },
            3,
            1
        ));
        let theirs = last_order();

        let sorted = |mut ids: Vec<OrderId>| {
            ids.sort();
            ids
        };
        for limit in [1, 2, 5] {
            let listed = pages(limit, |after, limit| Market::orders_of(&1, after, limit));
            assert_eq!(listed.len(), 5, "no order twice");
            assert_eq!(sorted(listed), mine);
        }
        assert_eq!(sorted(Market::orders_of(&1, None, u32::MAX)), mine);
        assert_eq!(Market::orders_of(&1, None, 0), Vec::<OrderId>::new());
        assert_eq!(Market::orders_of(&2, None, 10), vec![theirs]);
        assert!(Market::orders_of(&3, None, 10).is_empty());
        let by_cid = pages(1, |after, limit| {
            Market::orders_by_cid(&cid(), after, limit)
        });
        assert_eq!(sorted(by_cid), vec![mine[0], mine[2], mine[4]]);
        let by_other = pages(2, |after, limit| {
            Market::orders_by_cid(&other_cid(), after, limit)
        });
        assert_eq!(sorted(by_other), vec![mine[1], mine[3], theirs]);

        // Three providers, three pieces an order: each holds one of each.
        for who in 10..13 {
            let held = Market::pieces_of(&who, 0, 100);
            assert_eq!(held.len(), 6);
            assert_eq!(ProviderPieceCount::<Test>::get(who), 6);
            for (id, piece) in &held {
                assert_eq!(provider_of(*id, *piece), who);
            }
            assert_eq!(Market::pieces_of(&who, 2, 3), held[2..5].to_vec());
            assert!(Market::pieces_of(&who, 6, 10).is_empty());
            assert!(Market::pieces_of(&who, u32::MAX, u32::MAX).is_empty());
        }
        assert_eq!(
            holder_list().into_iter().collect::<BTreeSet<_>>(),
            (10..13).collect()
        );

        // An ended order leaves every index, and the lists stay dense.
        let gone = mine[1];
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), gone));
        assert!(!Market::orders_of(&1, None, 10).contains(&gone));
        assert!(!Market::orders_by_cid(&other_cid(), None, 10).contains(&gone));
        for who in 10..13 {
            let held = Market::pieces_of(&who, 0, 100);
            assert_eq!(held.len(), 5);
            assert!(held.iter().all(|(id, _)| *id != gone));
            for (slot, (id, piece)) in held.iter().enumerate() {
                assert_eq!(order(*id).pieces[*piece as usize].slot, slot as u32);
            }
        }
        // Cancellation at the deadlines empties them all.
        run_to(1 + CONFIRM_WINDOW + 16);
        assert!(Market::orders_of(&1, None, 10).is_empty());
        assert!(Market::orders_of(&2, None, 10).is_empty());
        assert!(Market::orders_by_cid(&cid(), None, 10).is_empty());
        assert!(Market::orders_by_cid(&other_cid(), None, 10).is_empty());
        assert!(holder_list().is_empty());
        assert_eq!(HolderIndex::<Test>::iter().count(), 0);
        for who in 10..13 {
            assert!(Market::pieces_of(&who, 0, 100).is_empty());
            assert_eq!(ProviderPieces::<Test>::iter_prefix(who).count(), 0);
        }
    });
}

#[test]
fn the_holder_list_follows_providers_gaining_their_first_piece_and_losing_their_last() {
    ExtBuilder.run(|| {
        // Each provider has room for one piece, so that which providers an
        // order lands on is forced.
        let one_piece = |who: AccountId| register(who, PIECE_SIZE, 1);
        (10..13).for_each(one_piece);
        assert!(holder_list().is_empty());
        // Providers join in piece order as they gain their first piece, and
        // leave when a never-confirmed order is cancelled.
        let cancelled = store(1, 3);
        assert_eq!(holder_list(), holders(cancelled));
        run_to(1 + CONFIRM_WINDOW);
        assert!(Orders::<Test>::get(cancelled).is_none());
        assert!(holder_list().is_empty());

        let first = store(1, 2);
        confirm_all(first);
        (13..16).for_each(one_piece);
        let second = store(1, 3);
        confirm_all(second);
        let mut expected = holders(first);
        expected.extend(holders(second));
        assert_eq!(holder_list(), expected);

        // A leaving provider's piece moves to the only provider with room:
        // the last holder takes the leaver's place and the taker is added
        // at the end.
        one_piece(16);
        let leaving = provider_of(first, 0);
        assert_eq!(HolderIndex::<Test>::get(leaving), Some(0));
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(leaving)));
        run_to(System::block_number() + 1);
        assert_eq!(provider_of(first, 0), 16);
        assert_ok!(Market::confirm(RuntimeOrigin::signed(16), first, 0));
        expected.swap_remove(0);
        expected.push(16);
        assert_eq!(holder_list(), expected);
        assert_eq!(HolderIndex::<Test>::get(leaving), None);

        // Deleting an order takes off every provider it was the last piece
        // of; expiry the rest.
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), second));
        let remaining = holder_list();
        assert_eq!(
            remaining.iter().copied().collect::<BTreeSet<_>>(),
            holders(first).into_iter().collect()
        );
        let due = order(first).due;
        assert_eq!(due, 3 * PERIOD + first % PERIOD, "spread by its id");
        run_to(due - 1);
        assert_eq!(holder_list(), remaining, "unchanged until the order ends");
        run_to(due);
        assert!(Orders::<Test>::get(first).is_none(), "expired");
        assert!(holder_list().is_empty());
        assert_eq!(HolderIndex::<Test>::iter().count(), 0);
    });
}

#[test]
fn a_several_gib_order_is_as_small_on_chain_as_a_tiny_one() {
    ExtBuilder.run(|| {
        // Free storage, so that the owner's balance does not bound the size.
        MinPrice::set(0);
        for who in 10..16 {
            register(who, 4 * GIB, 0);
        }
        let coding = CodingParams::default();
        assert_eq!(
            (
                coding.data_shards,
                coding.parity_shards,
                coding.segment_size
            ),
            (4, 2, 8 * MIB as u32)
        );
        let mut stored = Vec::new();
        for size in [5 * GIB, 5 * MIB] {
            assert_ok!(Market::store(
                RuntimeOrigin::signed(1),
                cid(),
                size,
                coding,
                roots(6),
                encrypted(&[1, 2]),
                3,
                0,
            ));
            stored.push(last_order());
        }
        let (big, small) = (stored[0], stored[1]);
        let layout = Layout::new(coding, 5 * GIB).unwrap();
        assert_eq!(layout.segment_count(), 640);
        assert_eq!(order(big).size, 5 * GIB);
        assert_eq!(order(big).piece_size, 5 * GIB / 4);
        assert_eq!(order(small).piece_size, 5 * MIB / 4);
        assert_eq!(order(big).pieces.len(), 6);
        assert_eq!(order(small).pieces.len(), 6);
        let encoded = |id: OrderId| {
            unhashed::get_raw(&Orders::<Test>::hashed_key_for(id))
                .expect("stored")
                .len()
        };
        assert_eq!(encoded(big), encoded(small));
        assert!(encoded(big) <= OrderOf::<Test>::max_encoded_len());
        assert_eq!(encoded(big), order(big).encode().len());

        confirm_all(big);
        assert_eq!(order(big).state, OrderState::Live { start: 1, end: 4 });
        assert_eq!(encoded(big), encoded(small), "live or pending alike");
        // Six providers, six pieces each order: each books one of each.
        for who in 10..16 {
            assert_eq!(used(who), 5 * GIB / 4 + 5 * MIB / 4);
        }
        run_to(4 * PERIOD);
        assert!(Orders::<Test>::get(big).is_none());
        assert!(Orders::<Test>::get(small).is_none());
        for who in 10..16 {
            assert_eq!(used(who), 0);
        }
    });
}

#[test]
fn a_leaving_providers_pieces_are_moved_to_others() {
    ExtBuilder.run(|| {
        providers(4, 1);
        let ids = [store(1, 5), store(1, 5)];
        for id in ids {
            confirm_all(id);
        }
        let leaving = provider_of(ids[0], 0);
        let held = ProviderPieceCount::<Test>::get(leaving);
        assert!(held > 0);
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(leaving)));
        assert_eq!(Leaving::<Test>::get(leaving), Some(RepairCursor::default()));
        run_to(2);
        assert_eq!(ProviderPieceCount::<Test>::get(leaving), 0);
        assert_eq!(used(leaving), 0);
        run_to(3);
        assert_eq!(Leaving::<Test>::get(leaving), None, "done");
        for id in ids {
            assert!(!holders(id).contains(&leaving));
            assert_eq!(distinct(&holders(id)), PIECES as usize);
        }
        let moved = events()
            .iter()
            .filter(|e| matches!(e, Event::Reassigned { from, .. } if *from == leaving))
            .count() as u32;
        assert_eq!(moved, held);
        // The new holders must confirm; the orders stay live meanwhile, and
        // an unconfirmed piece is not audited.
        let unconfirmed: u32 = ids.iter().map(|id| PIECES - order(*id).confirmed).sum();
        assert_eq!(unconfirmed, held);
        for id in ids {
            assert!(matches!(order(id).state, OrderState::Live { .. }));
            for (number, piece) in order(id).pieces.iter().enumerate() {
                if !piece.confirmed {
                    let audited = Market::piece_ref(&piece.provider, piece.slot).unwrap();
                    assert_eq!((audited.order, audited.piece), (id, number as u32));
                    assert!(!audited.auditable);
                    assert_ok!(Market::confirm(
                        RuntimeOrigin::signed(piece.provider),
                        id,
                        number as u32
                    ));
                }
            }
            assert_eq!(order(id).confirmed, PIECES);
        }
    });
}

#[test]
fn a_repaired_piece_is_paid_to_each_provider_for_its_own_proven_periods() {
    ExtBuilder.run(|| {
        providers(4, 1);
        let id = store(1, 5);
        confirm_all(id);
        let leaving = provider_of(id, 0);
        let taker = (10..14).find(|w| !holders(id).contains(w)).unwrap();
        // The provider proves period 1, then leaves in period 2: period 2,
        // never proven, is not paid.
        run_to(PERIOD);
        prove(id, 0, 1);
        run_to(2 * PERIOD + 1);
        pieces_left();
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(leaving)));
        run_to(2 * PERIOD + 2);
        assert_eq!(provider_of(id, 0), taker);
        assert_eq!(pieces_left(), vec![(leaving, id, 0)], "the audit is told");
        assert_eq!(earned(leaving), piece_period(), "paid for period 1");
        assert_ok!(Market::confirm(RuntimeOrigin::signed(taker), id, 0));
        let stayed = holders(id)[1..].to_vec();
        // The taker earns from period 3 on: proven in 5, it is paid 3, 4, 5.
        run_to(5 * PERIOD);
        for piece in 0..3 {
            prove(id, piece, 5);
        }
        run_to(6 * PERIOD);
        assert!(Orders::<Test>::get(id).is_none(), "expired");
        assert_eq!(earned(taker), 3 * piece_period());
        assert_eq!(earned(leaving), piece_period());
        let others: Balance = stayed.iter().map(|w| earned(*w)).sum();
        assert_eq!(others, 2 * 5 * piece_period());
        // Period 2 of the moved piece went back to the owner.
        assert_eq!(
            Balances::balance(&1),
            ENDOWMENT - 5 * per_period() + piece_period()
        );
    });
}

#[test]
fn pieces_nobody_can_take_stay_are_reported_once_and_move_when_someone_can() {
    ExtBuilder.run(|| {
        providers(3, 1);
        // Long enough to outlast the unbonding period.
        let id = store(1, 100);
        confirm_all(id);
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(10)));
        run_to(10);
        // No fourth provider: the piece of 10 stays with it, and is audited.
        assert_eq!(ProviderPieceCount::<Test>::get(10), 1);
        assert!(holders(id).contains(&10));
        let failed = || {
            events()
                .iter()
                .filter(|e| matches!(e, Event::RepairFailed { provider: 10, .. }))
                .count()
        };
        assert_eq!(failed(), 1, "reported once, though tried every block");
        assert!(Leaving::<Test>::get(10).is_some_and(|c| c.retrying));
        assert!(Market::piece_ref(&10, 0).unwrap().auditable);
        // It cannot withdraw while it holds the piece.
        run_to(1 + 1_000);
        assert_noop!(
            Providers::withdraw(RuntimeOrigin::signed(10)),
            pallet_mosaic_providers::Error::<Test>::StillStoring
        );
        // A provider that can take it arrives: the piece moves, and the
        // leaving one may go.
        register(13, GIB, 1);
        run_to(1_003);
        assert_eq!(ProviderPieceCount::<Test>::get(10), 0);
        assert!(holders(id).contains(&13));
        assert_eq!(Leaving::<Test>::get(10), None);
        assert_ok!(Providers::withdraw(RuntimeOrigin::signed(10)));
        assert_eq!(failed(), 1);
    });
}

#[test]
fn a_piece_moved_below_the_repair_cursor_is_still_repaired() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let ids: Vec<_> = (0..5).map(|_| store(1, 20)).collect();
        for id in &ids {
            confirm_all(*id);
        }
        // No fourth provider: the first pass tries three pieces of 10, in
        // vain, and leaves its cursor at slot 3.
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(10)));
        run_to(2);
        assert_eq!(
            Leaving::<Test>::get(10),
            Some(RepairCursor {
                slot: 3,
                retrying: false
            })
        );
        // A taker arrives, and an order ends: its slot 0 of 10 is refilled
        // with 10's last piece, not yet tried. The cursor goes back for it.
        register(13, GIB, 1);
        let last = *Market::pieces_of(&10, 4, 1).first().unwrap();
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), ids[0]));
        assert_eq!(Market::pieces_of(&10, 0, 1), vec![last]);
        assert_eq!(Leaving::<Test>::get(10).map(|c| c.slot), Some(0));
        run_to(4);
        assert_eq!(
            ProviderPieceCount::<Test>::get(10),
            0,
            "every piece of 10 moved"
        );
        assert_eq!(ProviderPieceCount::<Test>::get(13), 4);
    });
}

#[test]
fn repairs_are_bounded_per_block_and_no_leaving_provider_is_dropped() {
    ExtBuilder.run(|| {
        providers(4, 1);
        let ids: Vec<_> = (0..5).map(|_| store(1, 5)).collect();
        // Fifteen pieces over four providers: one holds at least four.
        let leaving = (10..14)
            .max_by_key(|who| ProviderPieceCount::<Test>::get(who))
            .unwrap();
        let held = ProviderPieceCount::<Test>::get(leaving);
        assert!(held >= 4);
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(leaving)));
        let reassigned = || {
            events()
                .iter()
                .filter(|e| matches!(e, Event::Reassigned { .. }))
                .count() as u32
        };
        run_to(2);
        assert_eq!(reassigned(), 3, "RepairsPerBlock");
        assert_eq!(ProviderPieceCount::<Test>::get(leaving), held - 3);
        run_to(3);
        assert_eq!(reassigned(), held.min(6));
        run_to(4);
        assert_eq!(reassigned(), held);
        assert_eq!(ProviderPieceCount::<Test>::get(leaving), 0);
        for id in ids {
            assert_eq!(distinct(&holders(id)), PIECES as usize);
        }
        // More leaving providers than a pass looks at: each is kept.
        for who in 14..19 {
            register(who, GIB, 1);
        }
        for who in 14..19 {
            assert_ok!(Providers::unbond(RuntimeOrigin::signed(who)));
        }
        assert_eq!(Leaving::<Test>::iter().count(), 5);
        // They hold nothing, yet finding that out is a read each: a pass
        // looks at `RepairsPerBlock` of them and is charged for it.
        use crate::weights::WeightInfo;
        use polkadot_sdk::frame_support::traits::{Get, Hooks};
        let db: polkadot_sdk::frame_support::weights::RuntimeDbWeight =
            <Test as polkadot_sdk::frame_system::Config>::DbWeight::get();
        System::set_block_number(5);
        // The deadline cursor and the block's two lists are read and
        // written besides.
        assert_eq!(
            Market::on_initialize(5),
            db.reads_writes(4, 4) + <() as WeightInfo>::repair(3)
        );
        assert_eq!(Leaving::<Test>::iter().count(), 2);
        run_to(6);
        assert_eq!(Leaving::<Test>::iter().count(), 0);
    });
}

#[test]
fn orders_ending_in_one_block_are_bounded() {
    ExtBuilder.run(|| {
        providers(3, 1);
        // `MaxDeadlinesPerBlock` is 2: the third order waits a block.
        let ids = [store(1, 3), store(1, 3), store(1, 3)];
        let deadline = 1 + CONFIRM_WINDOW;
        assert_eq!(Deadlines::<Test>::get(deadline).to_vec(), ids[..2].to_vec());
        assert_eq!(Deadlines::<Test>::get(deadline + 1).to_vec(), vec![ids[2]]);
        assert_eq!(order(ids[2]).due, deadline + 1);
        assert_eq!(
            order(ids[2]).state,
            OrderState::Pending { deadline },
            "its deadline is the same"
        );
        run_to(deadline);
        assert!(Orders::<Test>::get(ids[0]).is_none());
        assert!(Orders::<Test>::get(ids[1]).is_none());
        assert!(Orders::<Test>::get(ids[2]).is_some());
        run_to(deadline + 1);
        assert!(Orders::<Test>::get(ids[2]).is_none());
    });
}

#[test]
fn deadlines_spill_over_to_later_blocks_until_none_has_room() {
    ExtBuilder.run(|| {
        providers(3, 1);
        // Two orders fit in a block; sixteen blocks are tried.
        let first_deadline = 1 + CONFIRM_WINDOW;
        for _ in 0..32 {
            store(1, 3);
        }
        for block in first_deadline..first_deadline + 16 {
            assert_eq!(Deadlines::<Test>::get(block).len(), 2);
        }
        assert_noop!(store_call(1, 3, 1), Error::<Test>::TooManyDeadlines);
        // Each is still cancelled, at the block it was queued in.
        run_to(first_deadline + 14);
        assert_eq!(Orders::<Test>::iter().count(), 2);
        run_to(first_deadline + 15);
        assert_eq!(Orders::<Test>::iter().count(), 0);
        assert_eq!(Balances::balance(&1), ENDOWMENT);
    });
}

#[test]
fn absurd_prices_overflow_cleanly() {
    ExtBuilder.run(|| {
        providers(3, Balance::MAX / 2);
        assert_noop!(store_call(1, 3, Balance::MAX), Error::<Test>::Overflow);
    });
}

#[test]
fn calls_are_weighed_for_the_most_pieces_and_charged_for_the_orders() {
    use crate::weights::WeightInfo;
    use polkadot_sdk::frame_support::dispatch::GetDispatchInfo;
    ExtBuilder.run(|| {
        providers(3, 1);
        let declared = |call: crate::Call<Test>| call.get_dispatch_info().call_weight;
        // `store` is weighed by the pieces and keys it is given.
        let call = crate::Call::<Test>::store {
            cid: cid(),
            size: SIZE,
            coding: coding(),
            roots: roots(PIECES),
            access: encrypted(&[1, 2]),
            periods: 5,
            max_price: 1,
        };
        assert_eq!(declared(call), <() as WeightInfo>::store(PIECES, 2));
        assert_eq!(
            declared(crate::Call::<Test>::share {
                order: 0,
                key: key(1)
            }),
            <() as WeightInfo>::share()
        );
        let id = store(1, 5);
        confirm_all(id);
        run_to(2 * PERIOD);
        // The others are weighed for `MaxPieces` and refunded down to the
        // order's three.
        let calls = [
            (
                Market::extend(RuntimeOrigin::signed(1), id, 1),
                declared(crate::Call::extend {
                    order: id,
                    periods: 1,
                }),
                <() as WeightInfo>::extend(PIECES),
            ),
            (
                Market::delete(RuntimeOrigin::signed(1), id),
                declared(crate::Call::delete { order: id }),
                <() as WeightInfo>::delete(PIECES),
            ),
        ];
        for (result, declared, actual) in calls {
            assert_eq!(result.unwrap().actual_weight, Some(actual));
            assert!(
                actual.ref_time() < declared.ref_time(),
                "{actual:?} is below {declared:?}"
            );
        }
    });
}

/// The audit pallet's benchmark relies on `spread` reaching every provider.
#[cfg(feature = "runtime-benchmarks")]
#[test]
fn spread_gives_every_registered_provider_a_piece() {
    use pallet_mosaic_providers::ProviderRegistry;
    use polkadot_sdk::frame_benchmarking::account;
    for count in [2, 7, 16] {
        new_test_ext().execute_with(|| {
            let registered: BTreeSet<AccountId> = (0..count)
                .map(|i| {
                    let who = account("holder", i, 0);
                    Providers::register_for_benchmark(&who, 1 << 40, 1);
                    who
                })
                .collect();
            Market::spread_for_benchmark();
            let holders: BTreeSet<_> = (0..Market::holder_count())
                .map(|index| Market::holder_at(index).expect("a dense list"))
                .collect();
            assert_eq!(holders.len() as u32, Market::holder_count(), "no repeats");
            assert_eq!(holders, registered, "{count} providers");
            assert!(
                Orders::<Test>::iter().all(|(_, o)| matches!(o.state, OrderState::Live { .. }))
            );
            Market::do_try_state().expect("market invariants hold");
            Providers::do_try_state().expect("provider invariants hold");
        });
    }
}

#[test]
fn deadlines_past_the_hooks_weight_wait_for_the_next_block_oldest_first() {
    ExtBuilder.run(|| {
        providers(10, 1);
        let wide = |k: u8| {
            let coding = CodingParams::with_segment_size(k, k, 256 * KIB as u32).unwrap();
            assert_ok!(Market::store(
                RuntimeOrigin::signed(1),
                cid(),
                SIZE,
                coding,
                roots(2 * u32::from(k)),
                Access::Public { dag_index: 0 },
                3,
                1,
            ));
            last_order()
        };
        // `MaxDeadlinesPerBlock` is 2: [a, b] at the deadline, [c, d] a
        // block later. The hook may spend, after its reads, what a 10-piece
        // order and a 2-piece one take.
        let deadline = 1 + CONFIRM_WINDOW;
        let [a, b, c, d] = [wide(5), wide(2), wide(5), wide(1)];
        assert_eq!(Deadlines::<Test>::get(deadline).to_vec(), vec![a, b]);
        assert_eq!(Deadlines::<Test>::get(deadline + 1).to_vec(), vec![c, d]);
        use polkadot_sdk::frame_support::traits::Get;
        let db: polkadot_sdk::frame_support::weights::RuntimeDbWeight =
            <Test as polkadot_sdk::frame_system::Config>::DbWeight::get();
        let reads = db.reads_writes(2, 2);
        let budget = reads + Market::deadline_weight(10) + Market::deadline_weight(2);
        DeadlineWeight::set(budget);
        let gone = |id| Orders::<Test>::get(id).is_none();
        // The 4-piece order does not fit after the 10-piece one: it waits.
        run_to(deadline);
        assert!(gone(a) && !gone(b));
        assert_eq!(Deadlines::<Test>::get(deadline).to_vec(), vec![b]);
        assert_eq!(crate::DeadlineCursor::<Test>::get(), Some(deadline));
        // The late list comes first; then nothing more fits.
        System::set_block_number(deadline + 1);
        let spent = Market::handle_deadlines(deadline + 1);
        assert!(spent.all_lte(budget), "{spent} within {budget}");
        assert!(gone(b) && !gone(c));
        assert_eq!(crate::DeadlineCursor::<Test>::get(), Some(deadline + 1));
        // Then the block's own list, exactly within the budget.
        System::set_block_number(deadline + 2);
        assert_eq!(
            Market::handle_deadlines(deadline + 2),
            budget + db.reads_writes(1, 1)
        );
        assert!(gone(c) && gone(d));
        assert_eq!(crate::DeadlineCursor::<Test>::get(), None);
        assert_eq!(Deadlines::<Test>::iter().count(), 0);
        // A budget below the widest order still handles one a block.
        let id = wide(5);
        DeadlineWeight::set(reads);
        run_to(order(id).due);
        assert!(Orders::<Test>::get(id).is_none());
        assert_eq!(Balances::balance(&1), ENDOWMENT);
    });
}
