//! Challenges drawn from verified VRF randomness, proofs checked against real
//! shard roots, rewards, slashing, ejection and payment for proven periods.

use crate::mock::*;
use crate::{
    Challenges, Error, Event, Failure, History, ProofHistory, Randomness, HISTORY_PERIODS,
};
use mosaic_primitives::erasure::CodingParams;
use mosaic_primitives::merkle::{self, ShardRoot};
use mosaic_primitives::unixfs::file_cid;
use pallet_mosaic_market::{Orders, ShardIndex, Shards};
use polkadot_sdk::frame_support::pallet_prelude::Pays;
use polkadot_sdk::frame_support::traits::fungible::{Inspect, InspectHold};
use polkadot_sdk::frame_support::traits::Hooks;
use polkadot_sdk::frame_support::{assert_noop, assert_ok, BoundedVec};
use polkadot_sdk::sp_core::crypto::Pair as _;
use polkadot_sdk::sp_core::sr25519;

const GIB: u64 = 1 << 30;
const SIZE: u64 = 300 * 1024;

/// The bytes of shard `n` of the test object (2 segments of 2 + 1 shards).
fn shard_bytes(n: u32) -> Vec<u8> {
    let len = if n < 3 { 128 * 1024 } else { 22 * 1024 };
    (0..len as u64)
        .map(|i| ((i ^ u64::from(n) << 32).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect()
}

fn register(n: u64) {
    for who in 10..10 + n {
        assert_ok!(Providers::register(
            RuntimeOrigin::signed(who),
            STAKE,
            GIB,
            1,
            BoundedVec::truncate_from(b"peer".to_vec()),
            BoundedVec::truncate_from(vec![BoundedVec::truncate_from(b"/ip4/127.0.0.1".to_vec())]),
        ));
    }
}

/// Stores the test object with real roots for `periods` and confirms it.
fn live_order(periods: u32) -> u64 {
    let roots: Vec<ShardRoot> = (0..6)
        .map(|n| merkle::root(&shard_bytes(n)).unwrap())
        .collect();
    assert_ok!(Market::store(
        RuntimeOrigin::signed(1),
        BoundedVec::truncate_from(file_cid(b"object").to_bytes()),
        SIZE,
        CodingParams::with_segment_size(2, 1, 256 * 1024).unwrap(),
        BoundedVec::truncate_from(roots),
        periods,
        1,
    ));
    let order = pallet_mosaic_market::NextOrderId::<Test>::get() - 1;
    for n in 0..6 {
        let provider = Shards::<Test>::get(order, n).unwrap().provider;
        assert_ok!(Market::confirm(RuntimeOrigin::signed(provider), order, n));
    }
    order
}

/// Answers `who`'s open challenge honestly.
fn answer(who: AccountId) -> polkadot_sdk::frame_support::dispatch::DispatchResultWithPostInfo {
    let challenge = Challenges::<Test>::get(who).expect("a challenge");
    let proof = merkle::prove(&shard_bytes(challenge.shard), challenge.leaf).unwrap();
    Audit::submit_proof(
        RuntimeOrigin::signed(who),
        BoundedVec::truncate_from(proof.leaf),
        BoundedVec::truncate_from(proof.path),
    )
}

fn stake(who: AccountId) -> Balance {
    Balances::balance_on_hold(
        &RuntimeHoldReason::Providers(pallet_mosaic_providers::HoldReason::ProviderStake),
        &who,
    )
}

fn audit_events() -> Vec<Event<Test>> {
    System::events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Audit(e) => Some(e),
            _ => None,
        })
        .collect()
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
        register(3);
        let order = live_order(3);
        // Periods 1, 2 and 3 are paid; each opens with a challenge per provider.
        for period in 1..4u64 {
            run_to(period * PERIOD);
            for who in 10..13 {
                let challenge = Challenges::<Test>::get(who).expect("challenged");
                assert_eq!(u64::from(challenge.period), period);
                let info = answer(who).unwrap();
                assert_eq!(info.pays_fee, Pays::No, "honest proofs are free");
            }
        }
        assert_eq!(
            audit_events()
                .iter()
                .filter(|e| matches!(e, Event::Proven { .. }))
                .count(),
            9
        );
        for who in 10..13 {
            assert_eq!(History::<Test>::get(who).count(0, 10), 3);
        }
        run_to(4 * PERIOD);
        assert!(Orders::<Test>::get(order).is_none(), "expired");
        // Each provider: 3 rewards plus 3 periods of its two shards.
        let per_provider = 3 * REWARD + 3 * (128 + 22) * 1024 * PERIOD;
        for who in 10..13 {
            assert_eq!(Balances::balance(&who), ENDOWMENT - STAKE + per_provider);
            assert_eq!(stake(who), STAKE);
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
                BoundedVec::new()
            ),
            Error::<Test>::NoChallenge
        );
    });
}

#[test]
fn a_bad_proof_is_slashed_and_charged() {
    ExtBuilder.run(|| {
        register(3);
        live_order(3);
        run_to(PERIOD);
        let challenge = Challenges::<Test>::get(10).unwrap();
        let mut proof = merkle::prove(&shard_bytes(challenge.shard), challenge.leaf).unwrap();
        proof.leaf[0] ^= 1;
        let info = Audit::submit_proof(
            RuntimeOrigin::signed(10),
            BoundedVec::truncate_from(proof.leaf),
            BoundedVec::truncate_from(proof.path),
        )
        .unwrap();
        assert_eq!(info.pays_fee, Pays::Yes);
        assert_eq!(stake(10), STAKE - STAKE / 10);
        assert!(audit_events().contains(&Event::Failed {
            provider: 10,
            period: 1,
            failure: Failure::BadProof,
            slashed: STAKE / 10,
            misses: 1,
        }));
        assert!(
            Challenges::<Test>::get(10).is_none(),
            "one answer per challenge"
        );
    });
}

#[test]
fn a_provider_that_stops_proving_is_slashed_ejected_and_replaced() {
    ExtBuilder.run(|| {
        register(4);
        let order = live_order(10);
        let silent = Shards::<Test>::get(order, 0).unwrap().provider;
        for period in 1..=u64::from(MAX_MISSES) {
            run_to(period * PERIOD);
            for who in 10..14 {
                if who != silent && Challenges::<Test>::get(who).is_some() {
                    assert_ok!(answer(who));
                }
            }
        }
        // The misses are counted when the next period opens.
        run_to((u64::from(MAX_MISSES) + 1) * PERIOD);
        let failures: Vec<_> = audit_events()
            .into_iter()
            .filter(|e| matches!(e, Event::Failed { provider, failure: Failure::Missed, .. } if *provider == silent))
            .collect();
        assert_eq!(failures.len(), MAX_MISSES as usize);
        assert!(audit_events().contains(&Event::Ejected { provider: silent }));
        let mut expected = STAKE;
        for _ in 0..MAX_MISSES {
            expected -= expected / 10;
        }
        assert_eq!(stake(silent), expected);
        // Its shards move to the others from the next block on.
        run_to((u64::from(MAX_MISSES) + 1) * PERIOD + 1);
        assert_eq!(Market::shard_count(&silent), 0);
        for n in 0..6 {
            assert_ne!(Shards::<Test>::get(order, n).unwrap().provider, silent);
        }
        // It was never paid for the periods it did not prove.
        assert_eq!(Balances::balance(&silent), ENDOWMENT - STAKE);
    });
}
