//! Calls, errors, events and the order lifecycle: payment for proven periods
//! only, refunds, cancellation, expiry and repair.

use crate::mock::*;
use crate::{
    CodingParams, Deadlines, EndReason, Error, Event, HoldReason, OrderState, Orders,
    ProviderShardCount, RepairQueue, ShardIndex, ShardRoot, Shards,
};
use mosaic_primitives::unixfs::file_cid;
use polkadot_sdk::frame_support::traits::fungible::{Inspect, InspectHold};
use polkadot_sdk::frame_support::{assert_noop, assert_ok, BoundedVec};
use polkadot_sdk::sp_runtime::{DispatchResult, TokenError};

const GIB: u64 = 1 << 30;
/// 300 KiB in 256 KiB segments, 2 + 1 shards: 2 segments, 6 shards of
/// 128 KiB, 128 KiB, 128 KiB, 22 KiB, 22 KiB, 22 KiB.
const SIZE: u64 = 300 * 1024;
const SHARD_BYTES: [u64; 2] = [128 * 1024, 22 * 1024];

fn coding() -> CodingParams {
    CodingParams::with_segment_size(2, 1, 256 * 1024).unwrap()
}

fn cid() -> BoundedVec<u8, polkadot_sdk::frame_support::traits::ConstU32<64>> {
    BoundedVec::truncate_from(file_cid(b"object").to_bytes())
}

fn roots(n: u8) -> crate::RootsOf<Test> {
    BoundedVec::truncate_from((0..n).map(|i| ShardRoot([i; 32])).collect())
}

/// Registers providers `10..10 + n` with 1 GiB at `price`.
fn providers(n: u64, price: Balance) {
    for who in 10..10 + n {
        assert_ok!(Providers::register(
            RuntimeOrigin::signed(who),
            1_100,
            GIB,
            price,
            BoundedVec::truncate_from(b"peer".to_vec()),
            BoundedVec::truncate_from(vec![BoundedVec::truncate_from(b"/ip4/127.0.0.1".to_vec())]),
        ));
    }
}

/// `store` of the test object by `owner` for `periods` at `max_price`.
fn store_call(owner: AccountId, periods: u32, max_price: Balance) -> DispatchResult {
    Market::store(
        RuntimeOrigin::signed(owner),
        cid(),
        SIZE,
        coding(),
        roots(6),
        periods,
        max_price,
    )
}

fn store(owner: AccountId, periods: u32) -> u64 {
    assert_ok!(store_call(owner, periods, 1));
    crate::NextOrderId::<Test>::get() - 1
}

fn escrow_held(who: AccountId) -> Balance {
    Balances::balance_on_hold(&RuntimeHoldReason::Market(HoldReason::Escrow), &who)
}

fn deposit_held(who: AccountId) -> Balance {
    Balances::balance_on_hold(&RuntimeHoldReason::Market(HoldReason::Deposit), &who)
}

/// Price of one period of the whole object at price 1.
fn per_period() -> Balance {
    3 * (SHARD_BYTES[0] + SHARD_BYTES[1]) * PERIOD
}

fn confirm_all(order: u64) {
    for number in 0..6 {
        let provider = Shards::<Test>::get(order, number).unwrap().provider;
        assert_ok!(Market::confirm(
            RuntimeOrigin::signed(provider),
            order,
            number
        ));
    }
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

#[test]
fn store_assigns_distinct_providers_per_segment_and_holds_escrow() {
    ExtBuilder.run(|| {
        providers(4, 1);
        let order = store(1, 3);
        let record = Orders::<Test>::get(order).unwrap();
        assert_eq!(record.shard_count, 6);
        assert_eq!(record.escrow, 3 * per_period());
        assert_eq!(escrow_held(1), 3 * per_period());
        assert_eq!(deposit_held(1), 50 + 6 * 2);
        for segment in 0..2 {
            let mut holders: Vec<_> =
                (0..3).map(|i| Shards::<Test>::get(order, segment * 3 + i).unwrap().provider).collect();
            holders.sort();
            holders.dedup();
            assert_eq!(holders.len(), 3, "segment {segment} shares a provider");
        }
        // Load is spread: 4 providers, 6 shards, nobody holds 3.
        for who in 10..14 {
            assert!(Market::shard_count(&who) <= 2);
        }
        assert!(matches!(record.state, OrderState::Pending { deadline } if deadline == 1 + CONFIRM_WINDOW));
        assert_eq!(
            events().last(),
            Some(&Event::Stored { order, owner: 1, shards: 6, escrow: 3 * per_period() })
        );
    });
}

#[test]
fn store_rejects_bad_input_and_changes_nothing() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let origin = || RuntimeOrigin::signed(1);
        let garbage = BoundedVec::truncate_from(b"not a cid".to_vec());
        assert_noop!(
            Market::store(origin(), garbage, SIZE, coding(), roots(6), 3, 1),
            Error::<Test>::InvalidCid
        );
        let mut bad = coding();
        bad.segment_size = 1000;
        assert_noop!(
            Market::store(origin(), cid(), SIZE, bad, roots(6), 3, 1),
            Error::<Test>::InvalidCoding
        );
        assert_noop!(
            Market::store(origin(), cid(), 0, coding(), roots(0), 3, 1),
            Error::<Test>::EmptyObject
        );
        assert_noop!(store_call(1, 0, 1), Error::<Test>::InvalidPeriods);
        assert_noop!(store_call(1, 101, 1), Error::<Test>::InvalidPeriods);
        assert_noop!(
            Market::store(origin(), cid(), SIZE, coding(), roots(5), 3, 1),
            Error::<Test>::WrongShardCount
        );
        assert_noop!(
            Market::store(origin(), cid(), 64 * 256 * 1024, coding(), roots(6), 3, 1),
            Error::<Test>::TooManyShards
        );
        // Price below every provider's.
        assert_noop!(store_call(1, 3, 0), Error::<Test>::NoProviders);
        // An owner who cannot pay.
        assert_noop!(store_call(99, 3, 1), TokenError::FundsUnavailable);
    });
}

#[test]
fn an_order_no_set_of_providers_can_serve_is_rejected() {
    ExtBuilder.run(|| {
        // Two providers cannot give three shards of a segment three homes.
        providers(2, 1);
        assert_noop!(store_call(1, 3, 1), Error::<Test>::NoProviders);
    });
}

#[test]
fn confirmations_make_an_order_live() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let order = store(1, 3);
        let first = Shards::<Test>::get(order, 0).unwrap().provider;
        let other = (10..13).find(|w| *w != first).unwrap();
        assert_noop!(
            Market::confirm(RuntimeOrigin::signed(other), order, 0),
            Error::<Test>::NotAssigned
        );
        assert_noop!(
            Market::confirm(RuntimeOrigin::signed(first), 9, 0),
            Error::<Test>::UnknownOrder
        );
        assert_noop!(
            Market::confirm(RuntimeOrigin::signed(first), order, 6),
            Error::<Test>::UnknownShard
        );
        assert_ok!(Market::confirm(RuntimeOrigin::signed(first), order, 0));
        assert_noop!(
            Market::confirm(RuntimeOrigin::signed(first), order, 0),
            Error::<Test>::AlreadyConfirmed
        );
        for number in 1..6 {
            let provider = Shards::<Test>::get(order, number).unwrap().provider;
            assert_ok!(Market::confirm(
                RuntimeOrigin::signed(provider),
                order,
                number
            ));
        }
        // Block 1 is in period 0, so payment starts with period 1.
        assert_eq!(
            Orders::<Test>::get(order).unwrap().state,
            OrderState::Live { start: 1, end: 4 }
        );
        assert_eq!(
            events().last(),
            Some(&Event::Live {
                order,
                start: 1,
                end: 4
            })
        );
        assert!(Deadlines::<Test>::get(1 + CONFIRM_WINDOW).is_empty());
        assert_eq!(
            Deadlines::<Test>::get(4 * PERIOD).to_vec(),
            vec![(order, 6)]
        );
    });
}

#[test]
fn unconfirmed_orders_are_cancelled_with_a_full_refund() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let order = store(1, 3);
        confirm_all_but_last(order);
        run_to(1 + CONFIRM_WINDOW);
        assert!(Orders::<Test>::get(order).is_none());
        assert_eq!(Shards::<Test>::iter_prefix(order).count(), 0);
        assert_eq!((escrow_held(1), deposit_held(1)), (0, 0));
        assert_eq!(Balances::balance(&1), ENDOWMENT);
        for who in 10..13 {
            assert_eq!(ProviderShardCount::<Test>::get(who), 0);
        }
        assert_eq!(
            events().last(),
            Some(&Event::Ended {
                order,
                reason: EndReason::Unconfirmed,
                refund: 3 * per_period()
            })
        );
    });
}

fn confirm_all_but_last(order: u64) {
    for number in 0..5 {
        let provider = Shards::<Test>::get(order, number).unwrap().provider;
        assert_ok!(Market::confirm(
            RuntimeOrigin::signed(provider),
            order,
            number
        ));
    }
}

#[test]
fn proven_periods_are_paid_and_add_up_to_the_price() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let order = store(1, 3);
        confirm_all(order);
        for who in 10..13 {
            for period in 1..4 {
                prove(who, period);
            }
        }
        // Claims along the way pay what is due so far.
        run_to(2 * PERIOD);
        for who in 10..13 {
            assert_ok!(Market::claim(RuntimeOrigin::signed(who), order, 6));
        }
        assert_eq!(escrow_held(1), 2 * per_period());
        run_to(4 * PERIOD);
        assert!(Orders::<Test>::get(order).is_none(), "expired");
        let earned: Balance = (10..13)
            .map(|who| Balances::balance(&who) - (ENDOWMENT - 1_100))
            .sum();
        assert_eq!(earned, 3 * per_period());
        assert_eq!(Balances::balance(&1), ENDOWMENT - 3 * per_period());
        assert_eq!((escrow_held(1), deposit_held(1)), (0, 0));
        for who in 10..13 {
            assert_eq!(
                pallet_mosaic_providers::Providers::<Test>::get(who)
                    .unwrap()
                    .used,
                0
            );
        }
    });
}

#[test]
fn unproven_periods_are_not_paid_and_go_back_to_the_owner() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let order = store(1, 3);
        confirm_all(order);
        // Only provider 10 proves, and only in period 2.
        prove(10, 2);
        run_to(4 * PERIOD);
        let shards_of_10: u64 = (0..2).map(|s| SHARD_BYTES[s as usize]).sum();
        let paid = shards_of_10 * PERIOD;
        assert_eq!(Balances::balance(&10), ENDOWMENT - 1_100 + paid);
        assert_eq!(Balances::balance(&1), ENDOWMENT - paid);
        assert!(matches!(
            events().last(),
            Some(Event::Ended { reason: EndReason::Expired, refund, .. }) if *refund == 3 * per_period() - paid
        ));
    });
}

#[test]
fn deletion_refunds_exactly_the_unspent_part() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let order = store(1, 5);
        confirm_all(order);
        for who in 10..13 {
            prove(who, 1);
            prove(who, 2);
        }
        run_to(3 * PERIOD + 4);
        assert_noop!(
            Market::delete(RuntimeOrigin::signed(2), order, 6),
            Error::<Test>::NotOwner
        );
        assert_ok!(Market::delete(RuntimeOrigin::signed(1), order, 6));
        // Periods 1 and 2 were proven and paid; 3..6 come back.
        assert_eq!(Balances::balance(&1), ENDOWMENT - 2 * per_period());
        assert_eq!((escrow_held(1), deposit_held(1)), (0, 0));
        assert!(Deadlines::<Test>::get(6 * PERIOD).is_empty());
        assert_noop!(
            Market::delete(RuntimeOrigin::signed(1), order, 6),
            Error::<Test>::UnknownOrder
        );
    });
}

#[test]
fn extension_buys_more_periods_at_the_recorded_prices() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let order = store(1, 2);
        assert_noop!(
            Market::extend(RuntimeOrigin::signed(1), order, 1, 6),
            Error::<Test>::NotLive
        );
        confirm_all(order);
        assert_noop!(
            Market::extend(RuntimeOrigin::signed(2), order, 1, 6),
            Error::<Test>::NotOwner
        );
        assert_noop!(
            Market::extend(RuntimeOrigin::signed(1), order, 99, 6),
            Error::<Test>::InvalidPeriods
        );
        assert_noop!(
            Market::extend(RuntimeOrigin::signed(1), order, 0, 6),
            Error::<Test>::InvalidPeriods
        );
        // A provider raising its price does not change the deal.
        assert_ok!(Providers::update(
            RuntimeOrigin::signed(10),
            1_100,
            GIB,
            9,
            BoundedVec::truncate_from(b"peer".to_vec()),
            BoundedVec::truncate_from(vec![BoundedVec::truncate_from(b"/ip4/127.0.0.1".to_vec())]),
        ));
        assert_ok!(Market::extend(RuntimeOrigin::signed(1), order, 3, 6));
        assert_eq!(escrow_held(1), 5 * per_period());
        assert_eq!(
            Orders::<Test>::get(order).unwrap().state,
            OrderState::Live { start: 1, end: 6 }
        );
        assert_eq!(
            Deadlines::<Test>::get(6 * PERIOD).to_vec(),
            vec![(order, 6)]
        );
        assert!(Deadlines::<Test>::get(3 * PERIOD).is_empty());
    });
}

#[test]
fn calls_over_an_order_are_weighed_by_the_witness_and_charged_for_its_shards() {
    use crate::weights::WeightInfo;
    use polkadot_sdk::frame_support::dispatch::GetDispatchInfo;
    ExtBuilder.run(|| {
        providers(3, 1);
        let order = store(1, 5);
        confirm_all(order);
        run_to(2 * PERIOD);
        // A witness below the order's 6 shards is refused before any work.
        assert_noop!(
            Market::extend(RuntimeOrigin::signed(1), order, 1, 5),
            Error::<Test>::WitnessTooLow
        );
        assert_noop!(
            Market::claim(RuntimeOrigin::signed(10), order, 5),
            Error::<Test>::WitnessTooLow
        );
        assert_noop!(
            Market::delete(RuntimeOrigin::signed(1), order, 5),
            Error::<Test>::WitnessTooLow
        );
        // One above it is weighed as given, and refunded down to 6 shards.
        let declared = |call: crate::Call<Test>| call.get_dispatch_info().call_weight;
        let (periods, shards) = (1, 64);
        let calls = [
            (
                Market::extend(RuntimeOrigin::signed(1), order, periods, shards),
                declared(crate::Call::extend {
                    order,
                    periods,
                    shards,
                }),
                <() as WeightInfo>::extend(6),
            ),
            (
                Market::claim(RuntimeOrigin::signed(10), order, shards),
                declared(crate::Call::claim { order, shards }),
                <() as WeightInfo>::claim(6),
            ),
            (
                Market::delete(RuntimeOrigin::signed(1), order, shards),
                declared(crate::Call::delete { order, shards }),
                <() as WeightInfo>::delete(6),
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

#[test]
fn claims_need_an_assigned_shard() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let order = store(1, 2);
        assert_noop!(
            Market::claim(RuntimeOrigin::signed(13), order, 6),
            Error::<Test>::NotAssigned
        );
        assert_noop!(
            Market::claim(RuntimeOrigin::signed(10), 7, 6),
            Error::<Test>::UnknownOrder
        );
    });
}

#[test]
fn a_leaving_providers_shards_are_moved_to_others() {
    ExtBuilder.run(|| {
        providers(4, 1);
        let order = store(1, 5);
        confirm_all(order);
        let leaving = Shards::<Test>::get(order, 0).unwrap().provider;
        let held = Market::shard_count(&leaving);
        assert!(held > 0);
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(leaving)));
        assert_eq!(RepairQueue::<Test>::get().len(), 1);
        run_to(3);
        assert_eq!(Market::shard_count(&leaving), 0);
        assert!(RepairQueue::<Test>::get().is_empty());
        for segment in 0..2u32 {
            let holders: Vec<_> = (0..3)
                .map(|i| {
                    Shards::<Test>::get(order, segment * 3 + i)
                        .unwrap()
                        .provider
                })
                .collect();
            assert!(!holders.contains(&leaving));
            let mut unique = holders.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 3);
        }
        let moved = events()
            .iter()
            .filter(|e| matches!(e, Event::Reassigned { .. }))
            .count() as u32;
        assert_eq!(moved, held);
        // The new holders must confirm; the order stays live meanwhile.
        let record = Orders::<Test>::get(order).unwrap();
        assert_eq!(record.confirmed, 6 - held);
        assert!(matches!(record.state, OrderState::Live { .. }));
        for number in 0..6 {
            let shard = Shards::<Test>::get(order, number).unwrap();
            if !shard.confirmed {
                assert_ok!(Market::confirm(
                    RuntimeOrigin::signed(shard.provider),
                    order,
                    number
                ));
            }
        }
        assert_eq!(Orders::<Test>::get(order).unwrap().confirmed, 6);
    });
}

#[test]
fn shards_nobody_can_take_stay_and_are_reported() {
    ExtBuilder.run(|| {
        providers(3, 1);
        let order = store(1, 5);
        confirm_all(order);
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(10)));
        run_to(3);
        // No fourth provider: every shard of 10 stays with it.
        let stuck = Market::shard_count(&10);
        assert_eq!(stuck, 2);
        let failed = events()
            .iter()
            .filter(|e| matches!(e, Event::RepairFailed { .. }))
            .count() as u32;
        assert_eq!(failed, stuck);
        assert!(RepairQueue::<Test>::get().is_empty());
        assert!(Market::shard_at(&10, 0).unwrap().auditable);
    });
}

#[test]
fn orders_ending_in_one_block_are_bounded_in_shards() {
    ExtBuilder.run(|| {
        providers(3, 1);
        // 21 segments, 63 shards of the 64 that may end in one block.
        assert_ok!(Market::store(
            RuntimeOrigin::signed(1),
            cid(),
            21 * 256 * 1024,
            coding(),
            roots(63),
            3,
            1,
        ));
        let small = store(1, 3);
        let deadline = 1 + CONFIRM_WINDOW;
        assert_eq!(Deadlines::<Test>::get(deadline).to_vec(), vec![(0, 63)]);
        assert_eq!(
            Deadlines::<Test>::get(deadline + 1).to_vec(),
            vec![(small, 6)]
        );
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
        run_to(first_deadline + 16);
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
