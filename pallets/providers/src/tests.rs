//! Every call's success path and every error, with events and balances.

use crate::mock::*;
use crate::{
    Error, Event, HoldReason, Offer, ProviderRegistry, ProviderStatus, Providers as Records, GIB,
};
use polkadot_sdk::frame_support::traits::fungible::{Inspect, InspectHold};
use polkadot_sdk::frame_support::{assert_noop, assert_ok, BoundedVec};
use polkadot_sdk::sp_runtime::{DispatchError, Perbill, TokenError};

fn peer() -> BoundedVec<u8, polkadot_sdk::frame_support::traits::ConstU32<64>> {
    BoundedVec::truncate_from(b"\x00\x24\x08\x01\x12\x20peer".to_vec())
}

fn addrs() -> crate::MultiaddrsOf<Test> {
    BoundedVec::truncate_from(vec![BoundedVec::truncate_from(
        b"/ip4/127.0.0.1/tcp/30433".to_vec(),
    )])
}

fn register(
    who: AccountId,
    stake: Balance,
    capacity: u64,
    price: Balance,
) -> polkadot_sdk::sp_runtime::DispatchResult {
    Providers::register(
        RuntimeOrigin::signed(who),
        stake,
        capacity,
        price,
        peer(),
        addrs(),
    )
}

fn held(who: AccountId) -> Balance {
    Balances::balance_on_hold(
        &RuntimeHoldReason::Providers(HoldReason::ProviderStake),
        &who,
    )
}

fn last_event() -> RuntimeEvent {
    System::events().pop().expect("an event").event
}

#[test]
fn register_holds_the_stake() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + 2 * STAKE_PER_GIB;
        assert_ok!(register(1, stake, 2 * GIB, 5));
        assert_eq!(held(1), stake);
        assert_eq!(Balances::balance(&1), ENDOWMENT - stake);
        let record = Records::<Test>::get(1).unwrap();
        assert_eq!(
            (record.capacity, record.used, record.price),
            (2 * GIB, 0, 5)
        );
        assert_eq!(record.status, ProviderStatus::Active);
        assert_eq!(
            last_event(),
            RuntimeEvent::Providers(Event::Registered {
                provider: 1,
                stake,
                capacity: 2 * GIB,
                price: 5
            })
        );
    });
}

#[test]
fn register_rejects_bad_terms() {
    ExtBuilder.run(|| {
        // Stake scales with capacity, rounded up to whole GiB.
        assert_eq!(
            Providers::required_stake(GIB + 1),
            MIN_STAKE + 2 * STAKE_PER_GIB
        );
        assert_noop!(
            register(1, MIN_STAKE + STAKE_PER_GIB, GIB + 1, 5),
            Error::<Test>::StakeTooLow
        );
        assert_noop!(register(1, MIN_STAKE, 0, 5), Error::<Test>::ZeroCapacity);
        assert_noop!(
            Providers::register(
                RuntimeOrigin::signed(1),
                MIN_STAKE + STAKE_PER_GIB,
                GIB,
                5,
                BoundedVec::new(),
                addrs()
            ),
            Error::<Test>::InvalidEndpoint
        );
        assert_noop!(
            Providers::register(
                RuntimeOrigin::signed(1),
                MIN_STAKE + STAKE_PER_GIB,
                GIB,
                5,
                peer(),
                BoundedVec::new()
            ),
            Error::<Test>::InvalidEndpoint
        );
        let empty_addr = BoundedVec::truncate_from(vec![BoundedVec::new()]);
        assert_noop!(
            Providers::register(
                RuntimeOrigin::signed(1),
                MIN_STAKE + STAKE_PER_GIB,
                GIB,
                5,
                peer(),
                empty_addr
            ),
            Error::<Test>::InvalidEndpoint
        );
        // More stake than the account has.
        assert_noop!(
            register(1, ENDOWMENT * 2, GIB, 5),
            TokenError::FundsUnavailable
        );
        assert_noop!(
            Providers::register(RuntimeOrigin::none(), MIN_STAKE, GIB, 5, peer(), addrs()),
            DispatchError::BadOrigin
        );
    });
}

#[test]
fn register_twice_or_past_the_limit_fails() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + STAKE_PER_GIB;
        assert_ok!(register(1, stake, GIB, 5));
        assert_noop!(register(1, stake, GIB, 5), Error::<Test>::AlreadyRegistered);
        for who in 2..=MAX_PROVIDERS as u64 {
            assert_ok!(register(who, stake, GIB, 5));
        }
        assert_noop!(register(9, stake, GIB, 5), Error::<Test>::TooManyProviders);
    });
}

#[test]
fn update_moves_the_hold_both_ways() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + STAKE_PER_GIB;
        assert_ok!(register(1, stake, GIB, 5));
        assert_ok!(Providers::update(
            RuntimeOrigin::signed(1),
            stake + 500,
            3 * GIB,
            7,
            peer(),
            addrs()
        ));
        assert_eq!(held(1), stake + 500);
        assert_eq!(
            last_event(),
            RuntimeEvent::Providers(Event::Updated {
                provider: 1,
                stake: stake + 500,
                capacity: 3 * GIB,
                price: 7
            })
        );
        assert_ok!(Providers::update(
            RuntimeOrigin::signed(1),
            stake,
            GIB,
            7,
            peer(),
            addrs()
        ));
        assert_eq!(held(1), stake);
        assert_eq!(Balances::balance(&1), ENDOWMENT - stake);
    });
}

#[test]
fn update_rejects_bad_terms() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + STAKE_PER_GIB;
        assert_noop!(
            Providers::update(RuntimeOrigin::signed(1), stake, GIB, 5, peer(), addrs()),
            Error::<Test>::NotRegistered
        );
        assert_ok!(register(1, stake, GIB, 5));
        assert_noop!(
            Providers::update(RuntimeOrigin::signed(1), stake, 2 * GIB, 5, peer(), addrs()),
            Error::<Test>::StakeTooLow
        );
        assert_ok!(Providers::reserve(&1, 1000));
        assert_noop!(
            Providers::update(
                RuntimeOrigin::signed(1),
                MIN_STAKE + STAKE_PER_GIB,
                999,
                5,
                peer(),
                addrs()
            ),
            Error::<Test>::CapacityBelowUsage
        );
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(1)));
        assert_noop!(
            Providers::update(RuntimeOrigin::signed(1), stake, GIB, 5, peer(), addrs()),
            Error::<Test>::NotActive
        );
    });
}

#[test]
fn unbond_then_withdraw_after_the_period() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + STAKE_PER_GIB;
        assert_noop!(
            Providers::unbond(RuntimeOrigin::signed(1)),
            Error::<Test>::NotRegistered
        );
        assert_noop!(
            Providers::withdraw(RuntimeOrigin::signed(1)),
            Error::<Test>::NotRegistered
        );
        assert_ok!(register(1, stake, GIB, 5));
        assert_noop!(
            Providers::withdraw(RuntimeOrigin::signed(1)),
            Error::<Test>::NotUnbonding
        );
        assert_ok!(Providers::reserve(&1, 10));
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(1)));
        let until = 1 + UNBONDING;
        assert_eq!(
            last_event(),
            RuntimeEvent::Providers(Event::Unbonding { provider: 1, until })
        );
        assert_noop!(
            Providers::unbond(RuntimeOrigin::signed(1)),
            Error::<Test>::NotActive
        );
        // Unbonding providers get no new pieces.
        assert!(pick(1, 0, 100).is_empty());
        assert_noop!(
            Providers::withdraw(RuntimeOrigin::signed(1)),
            Error::<Test>::StillUnbonding
        );
        System::set_block_number(until);
        assert_noop!(
            Providers::withdraw(RuntimeOrigin::signed(1)),
            Error::<Test>::StillStoring
        );
        Providers::release(&1, 10);
        assert_ok!(Providers::withdraw(RuntimeOrigin::signed(1)));
        assert_eq!(
            last_event(),
            RuntimeEvent::Providers(Event::Withdrawn { provider: 1, stake })
        );
        assert_eq!(held(1), 0);
        assert_eq!(Balances::balance(&1), ENDOWMENT);
        assert!(!Records::<Test>::contains_key(1));
    });
}

fn pick(wanted: u32, min_free: u64, max_price: Balance) -> Vec<Offer<u64, Balance>> {
    Providers::pick(&[7; 32], wanted, min_free, max_price, &[])
}

#[test]
fn picks_filter_by_status_price_room_and_exclusion() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + STAKE_PER_GIB;
        assert_ok!(register(1, stake, GIB, 5));
        assert_ok!(register(2, stake, GIB, 9));
        assert_ok!(register(3, stake, 100, 1));
        assert_eq!(
            pick(3, 200, 5),
            vec![Offer {
                who: 1,
                free: GIB,
                capacity: GIB,
                price: 5
            }]
        );
        let mut all: Vec<u64> = pick(3, 0, 9).into_iter().map(|o| o.who).collect();
        all.sort();
        assert_eq!(all, vec![1, 2, 3], "distinct, every one");
        assert_eq!(pick(2, 0, 9).len(), 2);
        let others = Providers::pick(&[7; 32], 3, 0, 9, &[1, 3]);
        assert_eq!(others.iter().map(|o| o.who).collect::<Vec<_>>(), vec![2]);
        // Naming a provider twice excludes it once, not "twice" (which would
        // leave a negative weight to draw).
        let others = Providers::pick(&[7; 32], 3, 0, 9, &[1, 1]);
        let mut others: Vec<u64> = others.into_iter().map(|o| o.who).collect();
        others.sort();
        assert_eq!(others, vec![2, 3]);
        // A full provider has no weight and is never drawn.
        assert_ok!(Providers::reserve(&3, 100));
        assert!(pick(3, 0, 9).iter().all(|o| o.who != 3));
        assert_eq!(Providers::price(&2), Some(9));
        assert_eq!(Providers::price(&4), None);
    });
}

#[test]
fn the_same_seed_draws_the_same_providers() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + STAKE_PER_GIB;
        for who in 1..=3 {
            assert_ok!(register(who, stake, GIB, 5));
        }
        let draw = |seed: u8| {
            Providers::pick(&[seed; 32], 2, 0, 5, &[])
                .into_iter()
                .map(|o| o.who)
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert!(
            (0..16)
                .map(draw)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 1
        );
    });
}

#[test]
fn withdrawing_moves_the_last_slot_into_the_gap() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + STAKE_PER_GIB;
        for who in 1..=3 {
            assert_ok!(register(who, stake, GIB, 5));
        }
        assert_ok!(Providers::unbond(RuntimeOrigin::signed(1)));
        System::set_block_number(1 + UNBONDING);
        assert_ok!(Providers::withdraw(RuntimeOrigin::signed(1)));
        assert_eq!(Records::<Test>::get(3).unwrap().slot, 0);
        assert_eq!(crate::Slots::<Test>::get(0), Some(3));
        assert_eq!(crate::Slots::<Test>::get(2), None);
        let mut all: Vec<u64> = pick(3, 0, 5).into_iter().map(|o| o.who).collect();
        all.sort();
        assert_eq!(all, vec![2, 3]);
        // try_state, run after every test, checks the tree's total.
    });
}

/// Placement over 10,000 providers: every draw distinct, within the price
/// bound, and spread in proportion to free capacity. Providers come in four
/// sizes (1, 2, 3 and 4 GiB free) and two prices; 2,000 picks of 6 at the
/// low price bound must give each size class a share of the draws within
/// 5% of its share of the eligible weight.
#[test]
fn placement_over_ten_thousand_providers_follows_the_weights() {
    use polkadot_sdk::frame_support::traits::fungible::Mutate;
    const N: u64 = 10_000;
    ProviderLimit::set(N as u32);
    // Not `ExtBuilder`: its accounting check covers accounts 1 to 9 only.
    new_test_ext().execute_with(|| {
        for who in 100..100 + N {
            let class = who % 4 + 1;
            let price = if who % 5 == 0 { 9 } else { 5 };
            let capacity = class * GIB;
            let stake = MIN_STAKE + STAKE_PER_GIB * Balance::from(class);
            Balances::set_balance(&who, stake * 2);
            assert_ok!(register(who, stake, capacity, price));
        }
        let mut drawn = [0u64; 4];
        for order in 0u32..2_000 {
            // `pick` hashes the seed with each draw's number.
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&order.to_le_bytes());
            let offers = Providers::pick(&seed, 6, GIB, 5, &[]);
            assert_eq!(offers.len(), 6, "order {order}");
            let mut ids: Vec<u64> = offers.iter().map(|o| o.who).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 6, "distinct providers");
            for offer in &offers {
                assert!(offer.price <= 5 && offer.free >= GIB);
                drawn[(offer.who % 4) as usize] += 1;
            }
        }
        // Eligible providers are evenly spread over the classes, so each
        // class's weight share is (class) / (1 + 2 + 3 + 4). Drawing without
        // replacement flattens this a little (6 of 8,000), far below 5%.
        let total: u64 = drawn.iter().sum();
        for (class, count) in drawn.iter().enumerate() {
            let expected = (class as f64 + 1.0) / 10.0;
            let share = *count as f64 / total as f64;
            assert!(
                (share - expected).abs() < 0.05 * expected,
                "class {} drew {share:.4}, expected {expected:.4}",
                class + 1
            );
        }
        Providers::do_try_state().expect("invariants hold");
    });
}

#[test]
fn capacity_bookings_are_bounded() {
    ExtBuilder.run(|| {
        assert_ok!(register(1, MIN_STAKE + STAKE_PER_GIB, 1000, 5));
        assert_ok!(Providers::reserve(&1, 600));
        assert_noop!(
            Providers::reserve(&1, 401),
            Error::<Test>::InsufficientCapacity
        );
        assert_noop!(
            Providers::reserve(&1, u64::MAX),
            Error::<Test>::InsufficientCapacity
        );
        assert_noop!(Providers::reserve(&2, 1), Error::<Test>::NotRegistered);
        Providers::release(&1, 100);
        assert_eq!(Records::<Test>::get(1).unwrap().used, 500);
    });
}

#[test]
fn a_slash_scales_with_the_bytes_at_fault_and_ejection_stops_new_shards() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + 4 * STAKE_PER_GIB;
        assert_ok!(register(1, stake, 4 * GIB, 5));
        // Half of the stake backing one started GiB.
        let burnt = Providers::slash(&1, 1, Perbill::from_percent(50));
        assert_eq!(burnt, STAKE_PER_GIB / 2);
        assert_eq!(
            last_event(),
            RuntimeEvent::Providers(Event::Slashed {
                provider: 1,
                amount: burnt
            })
        );
        // Three GiB at fault cost three times as much.
        let more = Providers::slash(&1, 3 * GIB, Perbill::from_percent(50));
        assert_eq!(more, 3 * STAKE_PER_GIB / 2);
        assert_eq!(held(1), stake - burnt - more);
        assert_eq!(Records::<Test>::get(1).unwrap().stake, stake - burnt - more);
        assert_eq!(Providers::slash(&7, GIB, Perbill::one()), 0);

        Providers::eject(&1);
        let until = 1 + UNBONDING;
        assert_eq!(
            last_event(),
            RuntimeEvent::Providers(Event::Ejected { provider: 1, until })
        );
        assert!(pick(1, 0, 100).is_empty());
        System::set_block_number(until);
        assert_ok!(Providers::withdraw(RuntimeOrigin::signed(1)));
        assert_eq!(Balances::balance(&1), ENDOWMENT - burnt - more);
    });
}

#[test]
fn a_stake_eroded_by_slashes_stops_placement_until_topped_up_and_ejects_below_the_floor() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + 4 * STAKE_PER_GIB;
        assert_ok!(register(1, stake, 4 * GIB, 5));
        assert_eq!(pick(1, 0, 100).len(), 1);
        // Short of what 4 GiB of capacity requires: no new data.
        Providers::slash(&1, GIB, Perbill::one());
        assert_eq!(
            Records::<Test>::get(1).unwrap().status,
            ProviderStatus::Active
        );
        assert!(
            pick(1, 0, 100).is_empty(),
            "an understaked provider was drawn"
        );
        // Topping the stake up again brings it back.
        assert_ok!(Providers::update(
            RuntimeOrigin::signed(1),
            stake,
            4 * GIB,
            5,
            peer(),
            addrs()
        ));
        assert_eq!(pick(1, 0, 100).len(), 1);
        Providers::do_try_state().expect("the sampling index follows the stake");
        // Below MinStake it is ejected.
        Providers::slash(&1, 16 * GIB, Perbill::one());
        assert!(matches!(
            Records::<Test>::get(1).unwrap().status,
            ProviderStatus::Ejected { .. }
        ));
        assert!(pick(1, 0, 100).is_empty());
    });
}

#[test]
fn a_price_below_the_minimum_is_refused() {
    ExtBuilder.run(|| {
        assert_noop!(
            register(1, MIN_STAKE + STAKE_PER_GIB, GIB, MIN_PRICE - 1),
            Error::<Test>::PriceTooLow
        );
        assert_ok!(register(1, MIN_STAKE + STAKE_PER_GIB, GIB, MIN_PRICE));
        assert_noop!(
            Providers::update(
                RuntimeOrigin::signed(1),
                MIN_STAKE + STAKE_PER_GIB,
                GIB,
                0,
                peer(),
                addrs()
            ),
            Error::<Test>::PriceTooLow
        );
    });
}
