//! Challenges drawn from verified VRF randomness over a real object (put
//! through the client's pipeline, so every piece root on chain is the one a
//! worker computes) and spread over each period's draw blocks, proofs
//! checked against those roots, rewards, slashing, ejection and payment for
//! proven periods.

use std::collections::BTreeSet;

use crate::mock::*;
use crate::{
    Challenge, Challenges, Error, Event, Failure, History, Misses, ProofHistory, Randomness,
    HISTORY_PERIODS,
};
use mosaic_primitives::erasure::CodingParams;
use mosaic_primitives::manifest::{Manifest, ShardId};
use mosaic_primitives::memory::MemoryShards;
use mosaic_primitives::piece::{self, PieceProof};
use mosaic_primitives::pipeline::{self, PutOptions, ShardSource};
use pallet_mosaic_market::{Access, HolderIndex, NextOrderId, Orders, PieceIndex};
use polkadot_sdk::frame_support::dispatch::DispatchResultWithPostInfo;
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
        let bytes: Vec<u8> = (0..SIZE)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        let options = PutOptions {
            coding: coding(),
            recipients: Vec::new(),
            key: None,
            threads: 1,
        };
        let mut shards = MemoryShards::default();
        let manifest = pipeline::put(&bytes[..], &options, &mut shards).expect("put succeeds");
        assert_eq!(manifest.segment_count(), 3);
        Object { manifest, shards }
    }

    /// What the holder of the challenged piece answers: the proof of the
    /// challenged leaf, from the shard of the segment it falls in.
    fn prove(&self, challenge: &Challenge) -> PieceProof {
        let layout = challenge.layout().expect("a valid layout");
        let (segment, leaf) = layout.locate(challenge.leaf).expect("a leaf of the piece");
        self.prove_at(challenge.piece, segment, leaf)
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
fn store(object: &Object, periods: u32) -> u64 {
    let manifest = &object.manifest;
    assert_ok!(Market::store(
        RuntimeOrigin::signed(1),
        BoundedVec::truncate_from(manifest.cid.to_bytes()),
        manifest.stored_size(),
        manifest.coding,
        BoundedVec::truncate_from(manifest.piece_roots.clone()),
        Access::Public,
        periods,
        1,
    ));
    NextOrderId::<Test>::get() - 1
}

/// Every provider of `order` confirms its piece.
fn confirm_all(order: u64) {
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
fn live_order(object: &Object, periods: u32) -> u64 {
    let now = System::block_number();
    run_to(now - now % PERIOD + DRAW_BLOCKS);
    let order = store(object, periods);
    confirm_all(order);
    order
}

fn holder(order: u64, piece: u32) -> AccountId {
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
/// `period`.
fn visit_block(who: AccountId, period: u32) -> u64 {
    let index = HolderIndex::<Test>::get(who).expect("a holder");
    u64::from(period) * PERIOD + u64::from(index) % DRAW_BLOCKS
}

/// Runs block by block to `to`, the `honest` providers answering each
/// challenge in the block it is drawn.
fn run_answering(object: &Object, honest: &[AccountId], to: u64) {
    while System::block_number() < to {
        run_to(System::block_number() + 1);
        for who in honest {
            if Challenges::<Test>::get(who).is_some() {
                assert_ok!(answer(object, *who));
            }
        }
    }
}

fn challenge(who: AccountId) -> Challenge {
    Challenges::<Test>::get(who).expect("a challenge")
}

fn submit(who: AccountId, proof: PieceProof) -> DispatchResultWithPostInfo {
    Audit::submit_proof(
        RuntimeOrigin::signed(who),
        BoundedVec::truncate_from(proof.leaf),
        BoundedVec::truncate_from(proof.shard_path),
        BoundedVec::truncate_from(proof.piece_path),
    )
}

/// Answers `who`'s open challenge honestly.
fn answer(object: &Object, who: AccountId) -> DispatchResultWithPostInfo {
    submit(who, object.prove(&challenge(who)))
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

/// Who was challenged among `events`, in order.
fn challenged(events: &[Event<Test>]) -> Vec<AccountId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Challenged { provider, .. } => Some(*provider),
            _ => None,
        })
        .collect()
}

fn failures_of(who: AccountId) -> Vec<Event<Test>> {
    audit_events()
        .into_iter()
        .filter(|e| matches!(e, Event::Failed { provider, .. } if *provider == who))
        .collect()
}

/// Every provider of `order` claims in period 2: those who `proved` period
/// 1 get its payment (beside their reward), the one who `missed` nothing.
fn assert_period_one_paid(order: u64, missed: AccountId, proved: &[AccountId]) {
    for piece in 0..3 {
        assert_ok!(Market::claim(
            RuntimeOrigin::signed(holder(order, piece)),
            order
        ));
    }
    assert_eq!(Balances::balance(&missed), ENDOWMENT - STAKE);
    for who in proved {
        assert_eq!(
            Balances::balance(who),
            ENDOWMENT - STAKE + REWARD + PIECE_SIZE * PERIOD
        );
    }
}

/// A provider's failure while its stake is whole: a tenth of it burnt.
fn failure(provider: AccountId, period: u32, failure: Failure, misses: u32) -> Event<Test> {
    Event::Failed {
        provider,
        period,
        failure,
        slashed: STAKE / 10,
        misses,
    }
}

#[test]
fn proof_history_slides_and_counts() {
    let mut history = ProofHistory::default();
    history.record(3);
    history.record(5);
    assert_eq!(history.count(0, 10), 2);
    assert_eq!(history.count(4, 5), 0);
    assert_eq!(history.count(5, 6), 1);
    history.record(3 + HISTORY_PERIODS);
    assert_eq!(history.base, 4);
    assert_eq!(
        history.count(0, 1_000),
        2,
        "period 3 slid out, 5 and 131 stay"
    );
    history.record(1);
    assert_eq!(history.count(0, 1_000), 2, "too old to record");
    history.record(10_000);
    assert_eq!(history.count(0, 20_000), 1);
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
fn honest_providers_are_challenged_rewarded_and_paid() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 3);
        // Periods 1, 2 and 3 are paid; in each, every provider is challenged
        // within the draw blocks.
        for period in 1..4u32 {
            run_through_draws(period);
            for who in 10..13 {
                let challenge = challenge(who);
                assert_eq!(challenge.period, period);
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
                let info = answer(&object, who).unwrap();
                assert_eq!(info.pays_fee, Pays::No, "honest proofs are free");
                assert!(audit_events().contains(&Event::Proven {
                    provider: who,
                    period,
                    reward: REWARD,
                }));
                assert!(Challenges::<Test>::get(who).is_none(), "answered");
            }
        }
        for who in 10..13 {
            assert_eq!(History::<Test>::get(who).count(0, 10), 3);
            assert_eq!(History::<Test>::get(who).count(1, 4), 3);
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
        // Each provider: 3 rewards plus 3 periods of its piece at price 1.
        let per_provider = 3 * REWARD + 3 * PIECE_SIZE * PERIOD;
        for who in 10..13 {
            assert_eq!(Balances::balance(&who), ENDOWMENT - STAKE + per_provider);
            assert_eq!(stake(who), STAKE);
            // Both tallies: rewards here, escrow payments in the market.
            assert_eq!(crate::Rewarded::<Test>::get(who), 3 * REWARD);
            assert_eq!(
                pallet_mosaic_market::Earned::<Test>::get(who),
                3 * PIECE_SIZE * PERIOD
            );
        }
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
        for piece in &pieces[1..] {
            assert!(
                visit_block(piece.provider, 1) > PERIOD,
                "visited after confirming"
            );
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
            assert_eq!(challenge(who).period, 2);
            assert_ok!(answer(&object, who));
        }
    });
}

#[test]
fn without_a_challenge_there_is_nothing_to_prove() {
    ExtBuilder.run(|| {
        register(3);
        assert_noop!(
            Audit::submit_proof(
                RuntimeOrigin::signed(10),
                BoundedVec::new(),
                BoundedVec::new(),
                BoundedVec::new()
            ),
            Error::<Test>::NoChallenge
        );
    });
}

#[test]
fn challenged_leaves_span_the_whole_piece_and_honest_proofs_verify_in_every_segment() {
    ExtBuilder.run(|| {
        let object = Object::put();
        let layout = object.manifest.layout().expect("a non-empty object");
        assert_eq!(layout.piece_leaves(), PIECE_SIZE / 1024);
        register(3);
        live_order(&object, 30);
        let mut segments = BTreeSet::new();
        let mut leaves = BTreeSet::new();
        for period in 1..=30 {
            run_through_draws(period);
            for who in 10..13 {
                let challenge = challenge(who);
                assert!(challenge.leaf < layout.piece_leaves());
                let (segment, _) = layout.locate(challenge.leaf).expect("within the piece");
                segments.insert(segment);
                leaves.insert(challenge.leaf);
                let info = answer(&object, who).unwrap();
                assert_eq!(info.pays_fee, Pays::No, "leaf {}", challenge.leaf);
            }
        }
        assert_eq!(
            segments,
            BTreeSet::from([0, 1, 2]),
            "the short last segment is challenged too"
        );
        assert!(leaves.len() > 45, "90 draws over 306 leaves");
        assert!(!audit_events()
            .iter()
            .any(|e| matches!(e, Event::Failed { .. })));
    });
}

#[test]
fn a_bad_leaf_or_path_is_slashed_and_charged() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        live_order(&object, 3);
        run_through_draws(1);
        let honest = |who| object.prove(&challenge(who));
        // 10 changes a byte of the leaf, 11 a hash of the path to the shard
        // root, 12 a hash of the path from it to the piece root.
        let mut bad_leaf = honest(10);
        bad_leaf.leaf[0] ^= 1;
        let mut bad_shard_path = honest(11);
        assert!(!bad_shard_path.shard_path.is_empty());
        bad_shard_path.shard_path[0][5] ^= 1;
        let mut bad_piece_path = honest(12);
        assert!(!bad_piece_path.piece_path.is_empty());
        let top = bad_piece_path.piece_path.len() - 1;
        bad_piece_path.piece_path[top][31] ^= 0x80;
        for (who, proof) in [(10, bad_leaf), (11, bad_shard_path), (12, bad_piece_path)] {
            let info = submit(who, proof).unwrap();
            assert_eq!(info.pays_fee, Pays::Yes);
            assert_eq!(stake(who), STAKE - STAKE / 10);
            assert!(audit_events().contains(&failure(who, 1, Failure::BadProof, 1)));
            assert!(
                Challenges::<Test>::get(who).is_none(),
                "one answer per challenge"
            );
            assert_eq!(History::<Test>::get(who).count(0, 10), 0);
        }
        // Next period 10 proves another leaf than the one asked, a valid
        // proof of the piece but not of the challenge; the others answer
        // honestly and their misses are forgiven.
        run_through_draws(2);
        let asked = challenge(10);
        let layout = asked.layout().unwrap();
        let other = (asked.leaf + 1) % layout.piece_leaves();
        let (segment, leaf) = layout.locate(other).unwrap();
        let info = submit(10, object.prove_at(asked.piece, segment, leaf)).unwrap();
        assert_eq!(info.pays_fee, Pays::Yes);
        assert!(audit_events().contains(&Event::Failed {
            provider: 10,
            period: 2,
            failure: Failure::BadProof,
            slashed: (STAKE - STAKE / 10) / 10,
            misses: 2,
        }));
        assert_eq!(Misses::<Test>::get(10), 2);
        for who in [11, 12] {
            assert_eq!(Misses::<Test>::get(who), 1);
            assert_ok!(answer(&object, who));
            assert_eq!(Misses::<Test>::get(who), 0);
            assert_eq!(History::<Test>::get(who).count(0, 10), 1);
        }
    });
}

#[test]
fn a_missed_challenge_is_slashed_and_not_paid() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 3);
        run_through_draws(1);
        for who in [11, 12] {
            assert_ok!(answer(&object, who));
        }
        // Period 1 ends with 10's challenge open; the miss is counted in
        // period 2's draw blocks, by the sweep or at the latest by 10's
        // visit, which draws its next challenge.
        run_to(2 * PERIOD - 1);
        assert!(!audit_events()
            .iter()
            .any(|e| matches!(e, Event::Failed { .. })));
        assert_eq!(challenge(10).period, 1, "open until its period ends");
        run_to(visit_block(10, 2));
        let failures: Vec<_> = audit_events()
            .into_iter()
            .filter(|e| matches!(e, Event::Failed { .. }))
            .collect();
        assert_eq!(failures, vec![failure(10, 1, Failure::Missed, 1)]);
        assert_eq!(stake(10), STAKE - STAKE / 10);
        assert_eq!(Misses::<Test>::get(10), 1);
        assert_eq!(challenge(10).period, 2, "challenged again");
        // Payment for period 1 goes to those who proved it.
        assert_period_one_paid(order, 10, &[11, 12]);
    });
}

#[test]
fn a_provider_that_stops_proving_is_slashed_ejected_and_replaced() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(4);
        let order = live_order(&object, 10);
        let silent = holder(order, 0);
        let spare = (10..14)
            .find(|who| Market::piece_count(who) == 0)
            .expect("three pieces on four providers");
        let others: Vec<AccountId> = (10..14).filter(|who| *who != silent).collect();
        // Each miss is counted at the silent provider's visit in the next
        // period; the last one ejects it.
        let ejection = visit_block(silent, MAX_MISSES + 1);
        run_answering(&object, &others, ejection - 1);
        assert_eq!(Misses::<Test>::get(silent), MAX_MISSES - 1);
        assert!(!audit_events().contains(&Event::Ejected { provider: silent }));
        run_to(ejection);
        assert_eq!(
            failures_of(silent),
            (1..=MAX_MISSES)
                .map(|n| Event::Failed {
                    provider: silent,
                    period: n,
                    failure: Failure::Missed,
                    slashed: (STAKE * 9u64.pow(n - 1)) / 10u64.pow(n),
                    misses: n,
                })
                .collect::<Vec<_>>()
        );
        assert!(audit_events().contains(&Event::Ejected { provider: silent }));
        assert_eq!(Misses::<Test>::get(silent), 0, "counted afresh");
        let mut expected = STAKE;
        for _ in 0..MAX_MISSES {
            expected -= expected / 10;
        }
        assert_eq!(stake(silent), expected);
        // Its piece moves to the only provider without one in the next
        // block, which rebuilds it, confirms it and proves it against the
        // same piece root when challenged for it.
        run_to(ejection + 1);
        assert_eq!(Market::piece_count(&silent), 0);
        assert_eq!(holder(order, 0), spare);
        assert_ok!(Market::confirm(RuntimeOrigin::signed(spare), order, 0));
        let from = System::events().len();
        let next = MAX_MISSES + 2;
        run_answering(&object, &others, u64::from(next) * PERIOD + DRAW_BLOCKS - 1);
        let events = audit_events_since(from);
        let drawn: Vec<&Challenge> = events
            .iter()
            .filter_map(|e| match e {
                Event::Challenged {
                    provider,
                    challenge,
                } if *provider == spare => Some(challenge),
                _ => None,
            })
            .collect();
        assert!(!drawn.is_empty(), "the taker is audited");
        for challenge in drawn {
            assert_eq!((challenge.order, challenge.piece), (order, 0));
            assert_eq!(challenge.root, object.manifest.piece_roots[0]);
        }
        assert!(events.contains(&Event::Proven {
            provider: spare,
            period: next,
            reward: REWARD,
        }));
        assert!(failures_of(spare).is_empty());
        // It was never paid for the periods it did not prove.
        assert_eq!(Balances::balance(&silent), ENDOWMENT - STAKE);
    });
}

#[test]
fn with_more_holders_than_draw_blocks_each_is_challenged_once_a_period_in_its_draw_block() {
    ExtBuilder.run(|| {
        let object = Object::put();
        let draw_blocks = Audit::draw_blocks();
        assert_eq!(u64::from(draw_blocks), DRAW_BLOCKS);
        let providers = everyone_holds_a_live_piece(&object);
        let list = holder_list();
        let holders = list.len() as u32;
        assert!(holders > draw_blocks);
        let most = holders.div_ceil(draw_blocks) as usize;
        for period in 1..4u32 {
            let mut drawn = Vec::new();
            for offset in 0..PERIOD {
                let from = System::events().len();
                run_to(u64::from(period) * PERIOD + offset);
                let events = audit_events_since(from);
                let block: Vec<AccountId> = challenged(&events);
                // Draw block `j` visits holders `j, j + H, …`; the second
                // half of the period draws nothing.
                let visited: Vec<AccountId> = list
                    .iter()
                    .copied()
                    .skip(offset as usize)
                    .step_by(draw_blocks as usize)
                    .filter(|_| offset < DRAW_BLOCKS)
                    .collect();
                assert_eq!(block, visited, "period {period}, offset {offset}");
                assert!(block.len() <= most);
                for who in &block {
                    assert_eq!(challenge(*who).period, period);
                    assert_ok!(answer(&object, *who));
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

/// Registers ten providers, 10 to 19, and stores live orders until each
/// holds a piece; returns them.
fn everyone_holds_a_live_piece(object: &Object) -> BTreeSet<AccountId> {
    register(10);
    let providers: BTreeSet<AccountId> = (10..20).collect();
    for _ in 0..20 {
        if providers.iter().all(|who| Market::piece_count(who) > 0) {
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
            assert!(Market::piece_at(who, 0).expect("a piece").auditable);
        }
        let from = System::events().len();
        run_to(2 * PERIOD - 1);
        assert!(challenged(&audit_events_since(from)).is_empty());
        assert_eq!(Challenges::<Test>::iter().count(), 0);
        run_through_draws(2);
        for who in providers {
            assert_eq!(challenge(who).period, 2);
        }
    });
}

#[test]
fn a_proof_after_its_period_ended_is_a_miss() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 5);
        run_through_draws(1);
        // The last holder is visited last in period 2, so its period 1
        // challenge stays open into period 2.
        let late = *holder_list().last().expect("three holders");
        let proof = object.prove(&challenge(late));
        let others: Vec<AccountId> = (10..13).filter(|who| *who != late).collect();
        // The others answer in the last block of period 1, in time.
        run_to(2 * PERIOD - 1);
        for who in &others {
            assert_eq!(answer(&object, *who).unwrap().pays_fee, Pays::No);
        }
        // Period 2 begins; the late proof arrives before its draw blocks
        // (which would close the challenge) run.
        System::set_block_number(2 * PERIOD);
        assert_eq!(challenge(late).period, 1, "still open");
        let info = submit(late, proof).unwrap();
        assert_eq!(info.pays_fee, Pays::Yes, "charged like a bad proof");
        assert_eq!(
            audit_events().last(),
            Some(&failure(late, 1, Failure::Missed, 1))
        );
        assert_eq!(stake(late), STAKE - STAKE / 10);
        assert_eq!(History::<Test>::get(late).count(0, 10), 0);
        assert!(!audit_events()
            .iter()
            .any(|e| matches!(e, Event::Proven { provider, .. } if *provider == late)));
        assert_noop!(
            submit(late, object.prove_at(0, 0, 0)),
            Error::<Test>::NoChallenge
        );
        // Its visit draws its next challenge and counts nothing twice.
        run_to(visit_block(late, 2));
        assert_eq!(challenge(late).period, 2);
        assert_eq!(failures_of(late).len(), 1);
        assert_eq!(Misses::<Test>::get(late), 1);
        // It is not paid for period 1; the others are.
        assert_period_one_paid(order, late, &others);
    });
}

#[test]
fn a_holder_moved_to_a_later_draw_block_is_not_challenged_twice() {
    ExtBuilder.run(|| {
        let object = Object::put();
        // Each provider has room for one piece: three orders fill nine, and
        // the holder list is their providers, order by order.
        register_with(10..19, PIECE_SIZE);
        let orders: Vec<u64> = (0..3).map(|_| live_order(&object, 5)).collect();
        let by_order: Vec<AccountId> = orders
            .iter()
            .flat_map(|order| (0..3).map(|piece| holder(*order, piece)))
            .collect();
        assert_eq!(holder_list(), by_order);
        let everyone: Vec<AccountId> = (10..19).collect();
        run_answering(&object, &everyone, 2 * PERIOD - 1);
        // Midway through period 2's draws, the middle order is deleted: the
        // last holders move into its places, one of them, already visited
        // and answered, into a draw block still to come.
        let offset = 2;
        let from = System::events().len();
        run_answering(&object, &everyone, 2 * PERIOD + offset);
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), orders[1]));
        let staying = holder_list();
        let proven_and_moved: Vec<AccountId> = staying
            .iter()
            .copied()
            .enumerate()
            .filter(|(index, who)| {
                *index as u64 % DRAW_BLOCKS > offset && History::<Test>::get(who).count(2, 3) == 1
            })
            .map(|(_, who)| who)
            .collect();
        assert!(!proven_and_moved.is_empty(), "the case arises");
        run_answering(&object, &everyone, 3 * PERIOD + DRAW_BLOCKS - 1);
        let events = audit_events_since(from);
        let in_period_2: Vec<AccountId> = events
            .iter()
            .filter_map(|e| match e {
                Event::Challenged {
                    provider,
                    challenge,
                } if challenge.period == 2 => Some(*provider),
                _ => None,
            })
            .collect();
        assert_eq!(
            distinct_count(&in_period_2),
            in_period_2.len(),
            "nobody twice: {in_period_2:?}"
        );
        for who in staying {
            assert!(in_period_2.contains(&who), "{who} is challenged");
        }
        assert!(!events.iter().any(|e| matches!(e, Event::Failed { .. })));
        for who in proven_and_moved {
            assert_eq!(challenge_periods(&events, who), vec![2, 3]);
        }
    });
}

fn distinct_count(accounts: &[AccountId]) -> usize {
    accounts.iter().collect::<BTreeSet<_>>().len()
}

/// The periods of `who`'s challenges among `events`, in order.
fn challenge_periods(events: &[Event<Test>], who: AccountId) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Challenged {
                provider,
                challenge,
            } if *provider == who => Some(challenge.period),
            _ => None,
        })
        .collect()
}

#[test]
fn challenges_on_deleted_pieces_are_swept_without_penalty() {
    ExtBuilder.run(|| {
        let object = Object::put();
        register(3);
        let order = live_order(&object, 5);
        run_through_draws(1);
        assert_eq!(Challenges::<Test>::iter().count(), 3);
        // The owner deletes the order after the challenges were drawn: its
        // providers may drop the pieces at once, and nobody is a holder any
        // more, so no visit closes what is open.
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), order));
        assert!(holder_list().is_empty());
        run_through_draws(2);
        assert_eq!(Challenges::<Test>::iter().count(), 0, "all swept");
        for who in 10..13 {
            assert!(
                failures_of(who).is_empty(),
                "{who} slashed for a piece it no longer holds"
            );
            assert_eq!(Misses::<Test>::get(who), 0);
        }
    });
}
