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
        // Unbonding providers get no new shards.
        assert!(Providers::offers(0, 100).is_empty());
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

#[test]
fn offers_filter_by_status_price_and_room() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + STAKE_PER_GIB;
        assert_ok!(register(1, stake, GIB, 5));
        assert_ok!(register(2, stake, GIB, 9));
        assert_ok!(register(3, stake, 100, 1));
        let mut offers = Providers::offers(200, 5);
        offers.sort_by_key(|o| o.who);
        assert_eq!(
            offers,
            vec![Offer {
                who: 1,
                free: GIB,
                capacity: GIB,
                price: 5
            }]
        );
        assert_eq!(Providers::offers(0, 9).len(), 3);
        assert_eq!(Providers::price(&2), Some(9));
        assert_eq!(Providers::price(&4), None);
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
fn slashing_burns_part_of_the_stake_and_ejection_stops_new_shards() {
    ExtBuilder.run(|| {
        let stake = MIN_STAKE + STAKE_PER_GIB;
        assert_ok!(register(1, stake, GIB, 5));
        let burnt = Providers::slash(&1, Perbill::from_percent(10));
        assert_eq!(burnt, stake / 10);
        assert_eq!(
            last_event(),
            RuntimeEvent::Providers(Event::Slashed {
                provider: 1,
                amount: burnt
            })
        );
        assert_eq!(held(1), stake - burnt);
        assert_eq!(Records::<Test>::get(1).unwrap().stake, stake - burnt);
        assert_eq!(Providers::slash(&7, Perbill::one()), 0);

        Providers::eject(&1);
        let until = 1 + UNBONDING;
        assert_eq!(
            last_event(),
            RuntimeEvent::Providers(Event::Ejected { provider: 1, until })
        );
        assert!(Providers::offers(0, 100).is_empty());
        System::set_block_number(until);
        assert_ok!(Providers::withdraw(RuntimeOrigin::signed(1)));
        assert_eq!(Balances::balance(&1), ENDOWMENT - burnt);
    });
}
