//! Challenges drawn from verified VRF randomness over real objects (put
//! through the client's pipeline, so every piece root on chain is the one a
//! worker computes), spread over each period's draw blocks and weighted by
//! bytes, proofs checked against those roots within the answer window,
//! payment per proven piece, slashing by the bytes at fault, repair and
//! ejection; and the attacks of the audit's threat model, each played as
//! the attacker would.

use std::collections::BTreeSet;

use crate::mock::*;
use crate::{
    Challenge, Challenges, Error, Event, Failure, Misses, ProofsOf, Randomness, Tallies, Tally,
};
use mosaic_primitives::erasure::CodingParams;
use mosaic_primitives::manifest::{Manifest, ShardId};
use mosaic_primitives::memory::MemoryShards;
use mosaic_primitives::piece::{self, PieceProof};
use mosaic_primitives::pipeline::{self, PutOptions, ShardSource};
use pallet_mosaic_market::{Access, HolderIndex, NextOrderId, OrderId, Orders, PieceIndex};
use polkadot_sdk::frame_support::dispatch::{
    DispatchClass, DispatchResultWithPostInfo, GetDispatchInfo,
};
use polkadot_sdk::frame_support::pallet_prelude::Pays;
use polkadot_sdk::frame_support::traits::fungible::{Inspect, InspectHold};
use polkadot_sdk::frame_support::traits::Hooks;
use polkadot_sdk::frame_support::{assert_noop, assert_ok, BoundedVec};
use polkadot_sdk::sp_core::crypto::Pair as _;
use polkadot_sdk::sp_core::sr25519;

const GIB: u64 = 1 << 30;
/// Three segments of 256 KiB coded 2 + 1, the last one 100 KiB: every piece
/// holds shards of 128, 128 and 50 KiB.
const SEGMENT: u32 = 256 * 1024;
const SIZE: u64 = 2 * SEGMENT as u64 + 100 * 1024;
const PIECE_SIZE: u64 = (128 + 128 + 50) * 1024;

fn coding() -> CodingParams {
    CodingParams::with_segment_size(2, 1, SEGMENT).expect("within bounds")
}

/// The test object as its client stores it: the manifest, and every shard
/// and shard-root list its providers hold.
struct Object {
    manifest: Manifest,
    shards: MemoryShards,
}

impl Object {
    fn put() -> Object {
        let object = Object::put_sized(SIZE);
        assert_eq!(object.manifest.segment_count(), 3);
        object
    }

    /// An object of `size` bytes in 256 KiB segments coded 2 + 1.
    fn put_sized(size: u64) -> Object {
        let bytes: Vec<u8> = (0..size)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        let options = PutOptions {
            coding: coding(),
            threads: 1,
            ..PutOptions::public()
        };
        let mut shards = MemoryShards::default();
        let manifest = pipeline::put(&bytes[..], &options, &mut shards).expect("put succeeds");
        Object { manifest, shards }
    }

    /// What the holder of the challenged piece answers: the proof of each
    /// challenged leaf, from the shard of the segment it falls in.
    fn prove(&self, challenge: &Challenge) -> ProofsOf {
        let layout = challenge.layout().expect("a valid layout");
        let proofs = challenge.leaves.iter().map(|leaf| {
            let (segment, leaf) = layout.locate(*leaf).expect("a leaf of the piece");
            self.prove_at(challenge.piece, segment, leaf).into()
        });
        BoundedVec::truncate_from(proofs.collect())
    }

    fn prove_at(&self, piece: u32, segment: u32, leaf: u32) -> PieceProof {
        let index = u8::try_from(piece).expect("a piece of 2 + 1");
        let shard = self
            .shards
            .shard(ShardId { segment, index })
            .expect("put stored every shard");
        let roots = self.shards.shard_roots(index).expect("and every list");
        piece::prove(&shard, &roots, segment, leaf).expect("the leaf exists")
    }
}

/// Registers providers `10..10 + n` with 1 GiB each.
fn register(n: u64) {
    register_with(10..10 + n, GIB);
}

fn register_with(providers: std::ops::Range<AccountId>, capacity: u64) {
    for who in providers {
        assert_ok!(Providers::register(
            RuntimeOrigin::signed(who),
            STAKE,
            capacity,
            1,
            BoundedVec::truncate_from(b"peer".to_vec()),
            BoundedVec::truncate_from(vec![BoundedVec::truncate_from(b"/ip4/127.0.0.1".to_vec())]),
        ));
    }
}

/// Orders `object` stored for `periods` at a price of 1; returns its id.
fn store(object: &Object, periods: u32) -> OrderId {
    let manifest = &object.manifest;
    assert_ok!(Market::store(
        RuntimeOrigin::signed(1),
        BoundedVec::truncate_from(manifest.cid.to_bytes()),
        manifest.stored_size(),
        manifest.coding,
        BoundedVec::truncate_from(manifest.piece_roots.clone()),
        Access::Public { dag_index: 0 },
        periods,
        1,
    ));
    NextOrderId::<Test>::get() - 1
}

/// Every provider of `order` confirms its piece.
fn confirm_all(order: OrderId) {
    let pieces = Orders::<Test>::get(order).expect("stored").pieces;
    for (number, piece) in pieces.iter().enumerate() {
        assert_ok!(Market::confirm(
            RuntimeOrigin::signed(piece.provider),
            order,
            number as u32
        ));
    }
}

/// Stores `object` for `periods` and confirms it once the current period's
/// draw blocks are over: live, and first challenged, from the next period.
fn live_order(object: &Object, periods: u32) -> OrderId {
    let now = System::block_number();
    run_to(now - now % PERIOD + DRAW_BLOCKS);
    let order = store(object, periods);
    confirm_all(order);
    order
}

fn holder(order: OrderId, piece: u32) -> AccountId {
    Orders::<Test>::get(order).expect("stored").pieces[piece as usize].provider
}

/// The market's holder list, in the order the draw blocks visit it.
fn holder_list() -> Vec<AccountId> {
    (0..Market::holder_count())
        .map(|index| Market::holder_at(index).expect("a dense list"))
        .collect()
}

/// Runs through `period`'s draw blocks: every holder has been visited.
fn run_through_draws(period: u32) {
    run_to(u64::from(period) * PERIOD + DRAW_BLOCKS - 1);
}

/// The block in which holder `who`, where it stands now, is visited in
/// `period`, once every holder was visited in the period before: visits go
/// round the holder list from the cursor, `⌈holders / draw blocks⌉` a
/// draw block.
fn visit_block(who: AccountId, period: u32) -> u64 {
    let index = u64::from(HolderIndex::<Test>::get(who).expect("a holder"));
    let count = u64::from(Market::holder_count());
    let cursor = u64::from(crate::VisitRound::<Test>::get().next) % count;
    let share = count.div_ceil(DRAW_BLOCKS);
    u64::from(period) * PERIOD + (index + count - cursor) % count / share
}

/// Runs block by block to `to`, the `honest` providers answering each
/// challenge in the block it is drawn.
fn run_answering(object: &Object, honest: &[AccountId], to: u64) {
    while System::block_number() < to {
        run_to(System::block_number() + 1);
        for who in honest {
            for challenge in challenges(*who) {
                assert_ok!(answer(object, *who, &challenge));
            }
        }
    }
}

/// `who`'s open challenges.
fn challenges(who: AccountId) -> Vec<Challenge> {
    Challenges::<Test>::iter_prefix_values(who).collect()
}

/// `who`'s only open challenge.
fn challenge(who: AccountId) -> Challenge {
    let mut open = challenges(who);
    assert_eq!(open.len(), 1, "one challenge for {who}");
    open.remove(0)
}

fn submit(who: AccountId, challenge: &Challenge, proofs: ProofsOf) -> DispatchResultWithPostInfo {
    Audit::submit_proof(
        RuntimeOrigin::signed(who),
        challenge.order,
        challenge.piece,
        proofs,
    )
}

/// Answers `challenge` of `who` honestly.
fn answer(object: &Object, who: AccountId, challenge: &Challenge) -> DispatchResultWithPostInfo {
    submit(who, challenge, object.prove(challenge))
}

fn stake(who: AccountId) -> Balance {
    Balances::balance_on_hold(
        &RuntimeHoldReason::Providers(pallet_mosaic_providers::HoldReason::ProviderStake),
        &who,
    )
}

fn audit_events() -> Vec<Event<Test>> {
    audit_events_since(0)
}

/// The audit events deposited after the first `from` events (of any pallet).
fn audit_events_since(from: usize) -> Vec<Event<Test>> {
    System::events()
        .into_iter()
        .skip(from)
        .filter_map(|r| match r.event {
            RuntimeEvent::Audit(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn market_events() -> Vec<pallet_mosaic_market::Event<Test>> {
    System::events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Market(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Who was challenged among `events`, in order, once per visit.
fn challenged(events: &[Event<Test>]) -> Vec<AccountId> {
    let mut visited: Vec<AccountId> = Vec::new();
    for e in events {
        if let Event::Challenged { provider, .. } = e {
            if visited.last() != Some(provider) {
                visited.push(*provider);
            }
        }
    }
    visited
}

fn failures_of(who: AccountId) -> Vec<Event<Test>> {
    audit_events()
        .into_iter()
        .filter(|e| matches!(e, Event::Failed { provider, .. } if *provider == who))
        .collect()
}

/// What `order` paid `who` in all.
fn paid(order: OrderId, who: AccountId) -> Balance {
    market_events()
        .into_iter()
        .filter_map(|e| match e {
            pallet_mosaic_market::Event::Paid {
                order: o,
                provider,
                amount,
            } if o == order && provider == who => Some(amount),
            _ => None,
        })
        .sum()
}

/// Slashed for failed pieces under a GiB together: a tenth of the stake
/// backing one GiB.
const PIECE_SLASH: Balance = 10;

/// The penalty for failing `bytes` at once, the `misses`-th in a row.
fn penalty(provider: AccountId, bytes: u64, misses: u32) -> Event<Test> {
    Event::Penalized {
        provider,
        bytes,
        slashed: PIECE_SLASH,
        misses,
    }
}

fn penalties_of(who: AccountId) -> Vec<Event<Test>> {
    audit_events()
        .into_iter()
        .filter(|e| matches!(e, Event::Penalized { provider, .. } if *provider == who))
        .collect()
}

#[test]
fn every_block_mixes_a_verified_vrf_output_into_the_randomness() {
    ExtBuilder.run(|| {
        let before = Randomness::<Test>::get();
        run_to(2);
        let after_two = Randomness::<Test>::get();
        assert_ne!(before, after_two);
        run_to(3);
        assert_ne!(after_two, Randomness::<Test>::get());
    });
}

#[test]
#[should_panic(expected = "block lacks the author's VRF signature")]
fn a_block_without_a_vrf_signature_is_invalid() {
    ExtBuilder.run(|| {
        System::initialize(&2, &Default::default(), &digest(2, None));
        Audit::on_initialize(2);
    });
}

#[test]
#[should_panic(expected = "invalid VRF signature")]
fn a_vrf_signature_by_another_key_is_invalid() {
    ExtBuilder.run(|| {
        let mallory = sr25519::Pair::from_string("//Mallory", None).unwrap();
        System::initialize(&2, &Default::default(), &digest(2, Some(&mallory)));
        Audit::on_initialize(2);
    });
}

#[test]
fn honest_providers_are_challenged_and_paid_per_proven_piece() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 3);
        // Periods 1, 2 and 3 are paid; in each, every provider is challenged
        // at its visit, with a deadline `WINDOW` blocks later.
        for period in 1..4u32 {
            let visits: Vec<u64> = (10..13).map(|who| visit_block(who, period)).collect();
            for (who, visit) in (10..13).zip(visits) {
                run_to(visit);
                let challenge = challenge(who);
                assert_eq!(challenge.period, period);
                assert_eq!(challenge.deadline, visit + WINDOW);
                assert_eq!(challenge.order, order);
                assert_eq!(holder(order, challenge.piece), who);
                assert_eq!(
                    challenge.root,
                    object.manifest.piece_roots[challenge.piece as usize]
                );
                assert_eq!(
                    (challenge.coding, challenge.size),
                    (coding(), SIZE),
                    "the challenge carries the order's layout"
                );
                // 306 KiB at a leaf per 64 KiB: five leaves wanted, one per
                // segment at most, so all three segments.
                let layout = challenge.layout().unwrap();
                let segments: BTreeSet<u32> = challenge
                    .leaves
                    .iter()
                    .map(|leaf| layout.locate(*leaf).unwrap().0)
                    .collect();
                assert_eq!(segments, BTreeSet::from([0, 1, 2]));
                assert_eq!(challenge.leaves.len(), 3);
                let before = Balances::balance(&who);
                let info = answer(&object, who, &challenge).unwrap();
                assert_eq!(info.pays_fee, Pays::No, "honest proofs are free");
                assert!(audit_events().contains(&Event::Proven {
                    provider: who,
                    order,
                    piece: challenge.piece,
                    period,
                }));
                assert_eq!(
                    Balances::balance(&who),
                    before + PIECE_SIZE * PERIOD,
                    "paid for period {period} at once"
                );
                assert!(challenges(who).is_empty(), "answered");
            }
        }
        for who in 10..13 {
            assert_eq!(
                Tallies::<Test>::get(who),
                Tally {
                    proven: 3,
                    failed: 0,
                    slashed: 0
                },
                "one proof a period, nothing failed"
            );
        }
        run_through_draws(4);
        assert!(Orders::<Test>::get(order).is_none(), "expired");
        assert_eq!(Market::holder_count(), 0);
        assert!(
            !audit_events().iter().any(|e| matches!(
                e,
                Event::Challenged { challenge, .. } if challenge.period == 4
            )),
            "an expired order is not audited"
        );
        assert_eq!(Challenges::<Test>::iter().count(), 0);
        // Each provider: 3 periods of its piece at price 1, nothing minted.
        for who in 10..13 {
            assert_eq!(
                Balances::balance(&who),
                ENDOWMENT - STAKE + 3 * PIECE_SIZE * PERIOD
            );
            assert_eq!(stake(who), STAKE);
            assert_eq!(
                pallet_mosaic_market::Earned::<Test>::get(who),
                3 * PIECE_SIZE * PERIOD
            );
        }
        assert_eq!(Balances::balance(&1), ENDOWMENT - 9 * PIECE_SIZE * PERIOD);
    });
}

#[test]
fn only_confirmed_pieces_of_live_orders_are_challenged() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        // Stored so that its confirmation window spans period 1's visits.
        run_to(PERIOD - 1);
        let order = store(&object, 3);
        assert_eq!(holder_list().len(), 3, "every provider holds a piece");
        // Two of three confirm: the order stays pending, and neither the
        // unconfirmed piece nor the confirmed ones are challenged when the
        // holders are visited.
        run_to(PERIOD);
        let pieces = Orders::<Test>::get(order).expect("stored").pieces;
        for (number, piece) in pieces.iter().enumerate().skip(1) {
            assert_ok!(Market::confirm(
                RuntimeOrigin::signed(piece.provider),
                order,
                number as u32
            ));
        }
        let last_visit = (10..13)
            .map(|who| visit_block(who, 1))
            .max()
            .expect("three holders");
        run_to(last_visit);
        assert!(Orders::<Test>::get(order).is_some(), "not yet cancelled");
        assert_eq!(Challenges::<Test>::iter().count(), 0);
        assert!(challenged(&audit_events()).is_empty());
        // Once live, each is challenged at its visit in the next period.
        assert_ok!(Market::confirm(
            RuntimeOrigin::signed(pieces[0].provider),
            order,
            0
        ));
        run_through_draws(2);
        for who in 10..13 {
            let challenge = challenge(who);
            assert_eq!(challenge.period, 2);
            assert_ok!(answer(&object, who, &challenge));
        }
    });
}

#[test]
fn without_a_challenge_or_with_the_wrong_leaf_count_there_is_nothing_to_prove() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        assert_noop!(
            Audit::submit_proof(RuntimeOrigin::signed(10), 0, 0, BoundedVec::new()),
            Error::<Test>::NoChallenge
        );
        live_order(&object, 3);
        run_through_draws(1);
        let challenge = challenge(10);
        let mut proofs = object.prove(&challenge);
        proofs.pop();
        assert_noop!(
            submit(10, &challenge, proofs),
            Error::<Test>::WrongLeafCount
        );
        // Still open; the right count passes.
        assert_ok!(answer(&object, 10, &challenge));
    });
}

#[test]
fn proofs_are_operational_so_ordinary_transactions_cannot_crowd_them_out() {
    let call = crate::Call::<Test>::submit_proof {
        order: 0,
        piece: 0,
        proofs: BoundedVec::new(),
    };
    assert_eq!(call.get_dispatch_info().class, DispatchClass::Operational);
}

#[test]
fn challenged_leaves_span_the_whole_piece_and_honest_proofs_verify_in_every_segment() {
    ExtBuilder.run(|| {
        let object = Object::put();
        let layout = object.manifest.layout().expect("a non-empty object");
        assert_eq!(layout.piece_leaves(), PIECE_SIZE / 1024);
        register(3);
        live_order(&object, 20);
        let mut leaves = BTreeSet::new();
        while System::block_number() < 20 * PERIOD + DRAW_BLOCKS {
            run_to(System::block_number() + 1);
            for who in 10..13 {
                for challenge in challenges(who) {
                    leaves.extend(challenge.leaves.iter().copied());
                    let info = answer(&object, who, &challenge).unwrap();
                    assert_eq!(info.pays_fee, Pays::No, "leaves {:?}", challenge.leaves);
                }
            }
        }
        assert!(leaves.iter().all(|leaf| *leaf < layout.piece_leaves()));
        // The short last segment's 50 leaves are drawn too.
        assert!(leaves.iter().any(|leaf| *leaf >= 256));
        assert!(leaves.len() > 100, "180 draws over 306 leaves");
        assert!(!audit_events()
            .iter()
            .any(|e| matches!(e, Event::Failed { .. })));
    });
}

#[test]
fn a_bad_proof_is_slashed_for_the_piece_its_periods_forfeited_and_the_piece_moved() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 5);
        register_with(13..14, GIB);
        let cheat = 10;
        // All three holders are visited by block 12, none due before 13.
        run_to(PERIOD + 2);
        let drawn = challenge(cheat);
        let mut proofs = object.prove(&drawn);
        proofs[0].leaf[0] ^= 1;
        let info = submit(cheat, &drawn, proofs).unwrap();
        assert_eq!(info.pays_fee, Pays::Yes, "a bad proof pays its fee");
        assert!(audit_events().contains(&Event::Failed {
            provider: cheat,
            order,
            piece: drawn.piece,
            period: 1,
            failure: Failure::BadProof,
        }));
        assert_eq!(penalties_of(cheat), vec![penalty(cheat, PIECE_SIZE, 1)]);
        assert_eq!(stake(cheat), STAKE - PIECE_SLASH);
        assert_eq!(
            Tallies::<Test>::get(cheat),
            Tally {
                proven: 0,
                failed: 1,
                slashed: PIECE_SLASH
            }
        );
        assert_eq!(Misses::<Test>::get(cheat), 1);
        // The piece goes, in the next block's repair pass, to the only
        // provider holding none of the order, which must rebuild and confirm
        // it; period 1 is never paid to anyone.
        run_to(System::block_number() + 1);
        assert_eq!(holder(order, drawn.piece), 13);
        assert!(
            market_events().contains(&pallet_mosaic_market::Event::Reassigned {
                order,
                piece: drawn.piece,
                from: cheat,
                to: 13,
            })
        );
        assert_eq!(paid(order, cheat), 0);
        assert!(challenges(cheat).is_empty());
        // The other pieces' holders prove and are paid as usual.
        for who in [11, 12] {
            assert_ok!(answer(&object, who, &challenge(who)));
            assert_eq!(paid(order, who), PIECE_SIZE * PERIOD);
        }
    });
}

#[test]
fn a_lazy_provider_that_fetches_its_answer_misses_the_window() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 5);
        let lazy = holder_list()[0];
        let reveal = visit_block(lazy, 1);
        // Nothing is known of its challenge before the block that reveals
        // it.
        run_to(reveal - 1);
        assert!(challenges(lazy).is_empty());
        run_to(reveal);
        let drawn = challenge(lazy);
        // It keeps no data: it fetches the challenged segments' shards from
        // the order's other providers and re-encodes its own, which takes
        // longer than the window. Its proof is then as valid as an honest
        // one, and too late.
        let proofs = object.prove(&drawn);
        run_to(drawn.deadline + 1);
        let info = submit(lazy, &drawn, proofs).unwrap();
        assert_eq!(info.pays_fee, Pays::Yes);
        assert_eq!(
            failures_of(lazy),
            vec![Event::Failed {
                provider: lazy,
                order,
                piece: drawn.piece,
                period: 1,
                failure: Failure::Missed,
            }]
        );
        assert_eq!(penalties_of(lazy), vec![penalty(lazy, PIECE_SIZE, 1)]);
        assert_eq!(paid(order, lazy), 0);
        // One block earlier it would have passed: the deadline is inclusive.
        let other = holder_list()[1];
        run_to(visit_block(other, 2));
        let in_time = challenge(other);
        run_to(in_time.deadline);
        assert_eq!(answer(&object, other, &in_time).unwrap().pays_fee, Pays::No);
    });
}

#[test]
fn a_missed_challenge_is_closed_at_the_next_visit_and_a_piece_missed_twice_repaired() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 5);
        register_with(13..14, GIB);
        let silent = holder_list()[0];
        let mut others: Vec<AccountId> = (10..13).filter(|who| *who != silent).collect();
        run_answering(&object, &others, 2 * PERIOD - 1);
        let piece = challenge(silent).piece;
        assert_eq!(failures_of(silent), vec![], "open until its next visit");
        run_to(visit_block(silent, 2));
        assert_eq!(
            failures_of(silent),
            vec![Event::Failed {
                provider: silent,
                order,
                piece,
                period: 1,
                failure: Failure::Missed,
            }]
        );
        assert_eq!(penalties_of(silent), vec![penalty(silent, PIECE_SIZE, 1)]);
        // One miss may be an offline spell: the piece stays, challenged
        // again. Missed again, it moves to be rebuilt.
        run_to(System::block_number() + 1);
        assert_eq!(holder(order, piece), silent);
        assert_eq!(challenges(silent).len(), 1);
        run_answering(&object, &others, 3 * PERIOD - 1);
        run_to(visit_block(silent, 3) + 1);
        assert_eq!(failures_of(silent).len(), 2);
        assert_eq!(
            penalties_of(silent).last(),
            Some(&penalty(silent, PIECE_SIZE, 2))
        );
        assert_eq!(holder(order, piece), 13, "moved to be rebuilt");
        assert!(
            challenges(silent).is_empty(),
            "it holds nothing more to challenge"
        );
        // The new holder confirms and earns from the next period on: its
        // proofs pay periods 4 and later, never period 3.
        assert_ok!(Market::confirm(RuntimeOrigin::signed(13), order, piece));
        others.push(13);
        run_answering(&object, &others, 5 * PERIOD + DRAW_BLOCKS);
        let last_proven = audit_events()
            .iter()
            .filter_map(|e| match e {
                Event::Proven {
                    provider: 13,
                    period,
                    ..
                } => Some(*period),
                _ => None,
            })
            .max()
            .expect("13 proved its piece");
        assert!(last_proven >= 4);
        assert_eq!(
            paid(order, 13),
            PIECE_SIZE * PERIOD * u64::from(last_proven - 3)
        );
        assert_eq!(paid(order, silent), 0);
    });
}

#[test]
fn a_provider_that_stops_proving_is_slashed_once_a_visit_for_all_it_failed_and_ejected() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        // Three orders, so that every provider holds a piece of each: its
        // visits draw leaves on several pieces.
        run_to(DRAW_BLOCKS);
        let orders: Vec<OrderId> = (0..3).map(|_| store(&object, 10)).collect();
        orders.iter().for_each(|order| confirm_all(*order));
        let silent = 10;
        let everyone_else = [11, 12];
        run_answering(&object, &everyone_else, PERIOD + DRAW_BLOCKS);
        let drawn = challenges(silent);
        assert!(drawn.len() >= 2, "leaves over several pieces: {drawn:?}");
        let leaves: usize = drawn.iter().map(|c| c.leaves.len()).sum();
        assert_eq!(leaves, crate::mock::LEAVES_PER_PERIOD as usize);
        // Its next visit closes them all: one failure per piece, one slash
        // for their bytes together (under a GiB), one miss.
        run_answering(&object, &everyone_else, 2 * PERIOD + DRAW_BLOCKS);
        let failed: BTreeSet<(OrderId, u32)> = failures_of(silent)
            .iter()
            .map(|e| match e {
                Event::Failed { order, piece, .. } => (*order, *piece),
                _ => unreachable!(),
            })
            .collect();
        let expected: BTreeSet<(OrderId, u32)> = drawn.iter().map(|c| (c.order, c.piece)).collect();
        assert_eq!(failed, expected);
        let bytes = PIECE_SIZE * drawn.len() as u64;
        assert_eq!(penalties_of(silent), vec![penalty(silent, bytes, 1)]);
        assert_eq!(stake(silent), STAKE - PIECE_SLASH);
        assert_eq!(
            Tallies::<Test>::get(silent),
            Tally {
                proven: 0,
                failed: drawn.len() as u32,
                slashed: PIECE_SLASH
            },
            "every expired challenge counts, in one slash"
        );
        // No provider can take the pieces (each order's other two hold
        // theirs): they stay, reported, and it keeps failing until it is
        // ejected at its third visit in a row.
        run_answering(&object, &everyone_else, 4 * PERIOD + DRAW_BLOCKS);
        assert_eq!(Misses::<Test>::get(silent), 0, "reset at ejection");
        assert_eq!(penalties_of(silent).len(), MAX_MISSES as usize);
        assert!(audit_events().contains(&Event::Ejected { provider: silent }));
        assert!(matches!(
            pallet_mosaic_providers::Providers::<Test>::get(silent)
                .unwrap()
                .status,
            pallet_mosaic_providers::ProviderStatus::Ejected { .. }
        ));
        // Once a provider with room registers, the ejected one's pieces move.
        register_with(13..14, GIB);
        run_to(System::block_number() + 2);
        assert_eq!(Market::held_bytes(&silent), 0);
        assert!(orders
            .iter()
            .all(|o| (0..3).all(|p| holder(*o, p) != silent)));
    });
}

#[test]
fn a_provider_that_deleted_its_big_piece_is_caught_however_many_small_ones_it_proves() {
    ExtBuilder.run(|| {
        // One object of 2 MiB (pieces of 1 MiB in 8 segments) and ten of
        // 1 KiB, on the same three providers: each holds 1 MiB + 10 KiB.
        let big = Object::put_sized(8 * u64::from(SEGMENT));
        let small = Object::put_sized(1024);
        register(3);
        run_to(DRAW_BLOCKS);
        let big_order = store(&big, 10);
        confirm_all(big_order);
        let small_orders: Vec<OrderId> = (0..10)
            .map(|_| {
                let order = store(&small, 10);
                confirm_all(order);
                order
            })
            .collect();
        register_with(13..14, GIB);
        let cheat = holder(big_order, 0);
        let object_of = |order: OrderId| if order == big_order { &big } else { &small };
        // The cheat deleted its big piece and answers only for small ones;
        // the others answer everything.
        let mut big_drawn = 0;
        let mut small_drawn = 0;
        while System::block_number() < visit_block(cheat, 3) {
            run_to(System::block_number() + 1);
            for who in 10..13 {
                for challenge in challenges(who) {
                    let is_big = challenge.order == big_order;
                    if who == cheat {
                        if is_big {
                            big_drawn += challenge.leaves.len();
                            continue;
                        }
                        small_drawn += challenge.leaves.len();
                    }
                    assert_ok!(answer(object_of(challenge.order), who, &challenge));
                }
            }
        }
        // Draws follow bytes: the big piece is 99 % of what it holds.
        assert!(
            big_drawn >= 7,
            "{big_drawn} leaves on the big piece, {small_drawn} on small ones"
        );
        // Caught at each next visit, slashed, the piece moved to be rebuilt
        // after the second miss, and never paid for it.
        assert!(failures_of(cheat).iter().any(|e| matches!(
            e,
            Event::Failed { order, failure: Failure::Missed, .. } if *order == big_order
        )));
        assert!(!penalties_of(cheat).is_empty());
        run_to(System::block_number() + 1);
        assert_eq!(holder(big_order, 0), 13);
        assert_eq!(paid(big_order, cheat), 0);
        // Its small pieces are paid for the periods their proofs cover,
        // and no more.
        let small_paid: Balance = small_orders.iter().map(|o| paid(*o, cheat)).sum();
        assert!(small_paid <= 10 * 3 * 1024 * PERIOD, "{small_paid}");
    });
}

#[test]
fn a_client_deleting_after_a_challenge_costs_the_provider_nothing() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 5);
        run_through_draws(1);
        assert_eq!(Challenges::<Test>::iter().count(), 3);
        // The owner deletes the order once the challenges are out: its
        // providers may drop the pieces at once.
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), order));
        assert_eq!(Challenges::<Test>::iter().count(), 0, "all withdrawn");
        for who in 10..13 {
            assert!(audit_events().iter().any(|e| matches!(
                e,
                Event::Withdrawn { provider, order: o, .. } if *provider == who && *o == order
            )));
        }
        run_through_draws(2);
        for who in 10..13 {
            assert!(
                failures_of(who).is_empty() && penalties_of(who).is_empty(),
                "{who} slashed for a piece it no longer holds"
            );
            assert_eq!(Misses::<Test>::get(who), 0);
            assert_eq!(stake(who), STAKE);
        }
    });
}

#[test]
fn a_provider_left_with_nothing_leaves_no_audit_state() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 5);
        let silent = holder_list()[0];
        let others: Vec<AccountId> = (10..13).filter(|who| *who != silent).collect();
        run_answering(&object, &others, 2 * PERIOD + DRAW_BLOCKS);
        assert_eq!(Misses::<Test>::get(silent), 1);
        assert!(crate::LastVisit::<Test>::get(silent).is_some());
        // Its only order is deleted: it holds nothing, and what the audit
        // kept of it goes (a provider that withdraws keeps nothing here).
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), order));
        assert_eq!(Misses::<Test>::get(silent), 0);
        assert!(crate::LastVisit::<Test>::get(silent).is_none());
        assert_eq!(crate::LastVisit::<Test>::iter().count(), 0);
    });
}

#[test]
fn a_piece_that_moves_away_takes_its_challenge_with_it() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 5);
        register_with(13..14, GIB);
        run_through_draws(1);
        let leaving = 10;
        let piece = challenge(leaving).piece;
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(leaving)));
        run_to(System::block_number() + 1);
        assert_eq!(holder(order, piece), 13);
        assert!(challenges(leaving).is_empty());
        run_through_draws(2);
        assert!(failures_of(leaving).is_empty());
    });
}

#[test]
fn visits_go_round_the_holder_list_a_share_per_draw_block_once_a_period() {
    ExtBuilder.run(|| {
        let object = Object::put();
        let draw_blocks = Audit::draw_blocks();
        assert_eq!(u64::from(draw_blocks), DRAW_BLOCKS);
        let providers = everyone_holds_a_live_piece(&object);
        let list = holder_list();
        let holders = list.len();
        assert!(holders as u32 > draw_blocks);
        let share = holders.div_ceil(draw_blocks as usize);
        for period in 1..4u32 {
            run_to(u64::from(period) * PERIOD - 1);
            let start = crate::VisitRound::<Test>::get().next as usize % holders;
            let mut drawn = Vec::new();
            for offset in 0..PERIOD as usize {
                let from = System::events().len();
                run_to(u64::from(period) * PERIOD + offset as u64);
                let events = audit_events_since(from);
                let block: Vec<AccountId> = challenged(&events);
                // Draw block `j` visits the `j`-th share of the list from
                // where the round starts; the second half of the period
                // draws nothing.
                let visited: Vec<AccountId> = (offset * share..(offset + 1) * share)
                    .filter(|at| *at < holders && (offset as u64) < DRAW_BLOCKS)
                    .map(|at| list[(start + at) % holders])
                    .collect();
                assert_eq!(block, visited, "period {period}, offset {offset}");
                for who in &block {
                    for challenge in challenges(*who) {
                        assert_eq!(challenge.period, period);
                        assert_ok!(answer(&object, *who, &challenge));
                    }
                }
                drawn.extend(block);
            }
            assert_eq!(drawn.len(), list.len(), "nobody twice in period {period}");
            assert_eq!(drawn.iter().copied().collect::<BTreeSet<_>>(), providers);
        }
        assert!(!audit_events()
            .iter()
            .any(|e| matches!(e, Event::Failed { .. })));
    });
}

#[test]
fn a_draw_block_stops_at_its_budget_and_the_next_goes_on_from_there() {
    ExtBuilder.run(|| {
        let object = Object::put();
        let providers = everyone_holds_a_live_piece(&object);
        // Room for two visits of the most leaves a block: the rest of the
        // holders wait for the next draw blocks, and every one is visited
        // in the period all the same.
        let most = crate::mock::LEAVES_PER_PERIOD;
        let idle = <() as crate::WeightInfo>::on_initialize(0, 0, 0);
        let visit = <() as crate::WeightInfo>::on_initialize(1, most, 0) - idle;
        crate::mock::VisitWeight::set(visit * 2);
        let period = System::block_number() / PERIOD + 1;
        let mut drawn = Vec::new();
        for offset in 0..DRAW_BLOCKS {
            let from = System::events().len();
            run_to(period * PERIOD + offset);
            let block = challenged(&audit_events_since(from));
            assert!(block.len() <= 2, "{} visits in a block", block.len());
            drawn.extend(block);
        }
        assert_eq!(drawn.len(), providers.len(), "nobody twice, nobody left");
        assert_eq!(drawn.into_iter().collect::<BTreeSet<_>>(), providers);
        // A proof budget below one visit's worst proofs stops the round
        // (the integrity test refuses such a chain; here it shows the check
        // comes before the visit).
        use polkadot_sdk::frame_support::weights::Weight;
        crate::mock::VisitWeight::set(Weight::MAX);
        crate::mock::ProofWeight::set(Weight::zero());
        let from = System::events().len();
        run_to((period + 1) * PERIOD + DRAW_BLOCKS);
        assert!(challenged(&audit_events_since(from)).is_empty());
    });
}

/// Registers ten providers, 10 to 19, and stores live orders until each
/// holds a piece; returns them.
fn everyone_holds_a_live_piece(object: &Object) -> BTreeSet<AccountId> {
    register(10);
    let providers: BTreeSet<AccountId> = (10..20).collect();
    for _ in 0..20 {
        if providers.iter().all(|who| Market::held_bytes(who) > 0) {
            break;
        }
        live_order(object, 5);
    }
    assert_eq!(
        holder_list().into_iter().collect::<BTreeSet<_>>(),
        providers
    );
    providers
}

#[test]
fn nothing_is_drawn_in_the_second_half_of_a_period() {
    ExtBuilder.run(|| {
        let object = Object::put();
        // Ten holders, twice the draw blocks, all of whose pieces are
        // confirmed in the first block after period 1's draws: auditable
        // for the whole second half.
        run_to(PERIOD + DRAW_BLOCKS);
        let providers = everyone_holds_a_live_piece(&object);
        assert_eq!(System::block_number(), PERIOD + DRAW_BLOCKS);
        for who in &providers {
            assert!(Market::piece_at_byte(who, 0).expect("a piece").auditable);
        }
        let from = System::events().len();
        run_to(2 * PERIOD - 1);
        assert!(challenged(&audit_events_since(from)).is_empty());
        assert_eq!(Challenges::<Test>::iter().count(), 0);
        run_through_draws(2);
        for who in providers {
            assert!(challenges(who).iter().all(|c| c.period == 2));
            assert!(!challenges(who).is_empty());
        }
    });
}

#[test]
fn a_holder_moved_in_the_list_is_never_visited_twice_a_period() {
    ExtBuilder.run(|| {
        let object = Object::put();
        // Each provider has room for one piece: three orders fill nine, and
        // the holder list is their providers, order by order.
        register_with(10..19, PIECE_SIZE);
        let orders: Vec<OrderId> = (0..3).map(|_| live_order(&object, 5)).collect();
        let everyone: Vec<AccountId> = (10..19).collect();
        run_answering(&object, &everyone, 2 * PERIOD - 1);
        // Midway through period 2's draws, an order is deleted: the last
        // holders move into its places, some visited already, some not.
        let from = System::events().len();
        run_answering(&object, &everyone, 2 * PERIOD + 2);
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), orders[0]));
        let staying = holder_list();
        run_answering(&object, &everyone, 3 * PERIOD + DRAW_BLOCKS - 1);
        let events = audit_events_since(from);
        for period in [2, 3] {
            let visited: Vec<AccountId> = events
                .iter()
                .filter_map(|e| match e {
                    Event::Challenged {
                        provider,
                        challenge,
                    } if challenge.period == period => Some(*provider),
                    _ => None,
                })
                .collect();
            assert_eq!(
                distinct_count(&visited),
                visited.len(),
                "nobody twice in period {period}: {visited:?}"
            );
            if period == 3 {
                for who in &staying {
                    assert!(visited.contains(who), "{who} is visited in period 3");
                }
            }
        }
        assert!(!events.iter().any(|e| matches!(e, Event::Failed { .. })));
    });
}

fn distinct_count(accounts: &[AccountId]) -> usize {
    accounts.iter().collect::<BTreeSet<_>>().len()
}
