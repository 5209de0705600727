//! A test runtime with balances, the provider registry and the market; the
//! tests play the audit pallet (`Market::proven`, `Market::failed`), and the
//! pieces that leave their providers are recorded.

use std::cell::RefCell;

use crate as pallet_mosaic_market;
use crate::{OnPieceLeave, OrderId};
use polkadot_sdk::frame_support::traits::{fungible::Inspect, ConstU32, ConstU8, Hooks};
use polkadot_sdk::frame_support::{derive_impl, parameter_types};
use polkadot_sdk::sp_runtime::BuildStorage;
use polkadot_sdk::{frame_support, frame_system, pallet_balances, sp_io};

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u64;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Providers: pallet_mosaic_providers,
        Market: pallet_mosaic_market,
    }
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
    type Block = Block;
    type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
    type AccountStore = System;
    type RuntimeHoldReason = RuntimeHoldReason;
}

parameter_types! {
    pub const MinStake: Balance = 1_000;
    pub const StakePerGiB: Balance = 100;
    /// The registry's price floor; a test of sizes lowers it to 0.
    pub static MinPrice: Balance = 1;
    pub const UnbondingPeriod: u64 = 1_000;
}

impl pallet_mosaic_providers::Config for Test {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type MinStake = MinStake;
    type StakePerGiB = StakePerGiB;
    type MinPrice = MinPrice;
    type UnbondingPeriod = UnbondingPeriod;
    type MaxProviders = ConstU32<16>;
    type MaxDraws = ConstU32<40>;
    type MaxPeerIdLen = ConstU32<64>;
    type MaxMultiaddrs = ConstU32<4>;
    type MaxMultiaddrLen = ConstU32<64>;
    type OnLeave = Market;
    type WeightInfo = ();
}

pub const PERIOD: u64 = 10;
pub const CONFIRM_WINDOW: u64 = 5;
/// Failed audits of a piece in a row before it moves.
pub const FAILURES_BEFORE_REPAIR: u8 = 2;

thread_local! {
    static LEFT: RefCell<Vec<(AccountId, OrderId, u32)>> = const { RefCell::new(Vec::new()) };
}

/// The pieces that left their providers so far, and forgets them.
pub fn pieces_left() -> Vec<(AccountId, OrderId, u32)> {
    LEFT.with(|left| left.take())
}

pub struct RecordLeaves;

impl OnPieceLeave<AccountId> for RecordLeaves {
    fn on_piece_leave(who: &AccountId, order: OrderId, piece: u32) {
        LEFT.with(|left| left.borrow_mut().push((*who, order, piece)));
    }
}

parameter_types! {
    pub const PeriodLength: u64 = PERIOD;
    pub const ConfirmWindow: u64 = CONFIRM_WINDOW;
    pub const DepositBase: Balance = 50;
    /// The bond for an unconfirmed piece (none unless a test sets it, so
    /// that tests of scheduling can cancel orders freely).
    pub static UnconfirmedSlash: polkadot_sdk::sp_runtime::Perbill = polkadot_sdk::sp_runtime::Perbill::zero();
    /// Confirm deadlines before a pending order is cancelled (one unless a
    /// test of rounds sets more).
    pub static ConfirmRounds: u8 = 1;
    pub const DepositPerPiece: Balance = 2;
    pub const DepositPerRecipient: Balance = 3;
    /// The chain's randomness; tests change it to vary placements.
    pub static Randomness: [u8; 32] = [0; 32];
    /// What the hook may spend on deadlines (unbounded unless a test of
    /// the budget lowers it).
    pub static DeadlineWeight: polkadot_sdk::frame_support::weights::Weight = polkadot_sdk::frame_support::weights::Weight::MAX;
}

impl pallet_mosaic_market::Config for Test {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type Providers = Providers;
    type OnPieceLeave = RecordLeaves;
    type PeriodLength = PeriodLength;
    type MinPeriods = ConstU32<1>;
    type MaxPeriods = ConstU32<100>;
    type ConfirmWindow = ConfirmWindow;
    type Randomness = Randomness;
    type MaxPieces = ConstU32<16>;
    type MaxRecipients = ConstU32<2>;
    type MaxCidLen = ConstU32<64>;
    type MaxDeadlinesPerBlock = ConstU32<2>;
    type DeadlineWeight = DeadlineWeight;
    type MaxFailedPieces = ConstU32<16>;
    type FailuresBeforeRepair = ConstU8<FAILURES_BEFORE_REPAIR>;
    type UnconfirmedSlash = UnconfirmedSlash;
    type ConfirmRounds = ConfirmRounds;
    type RepairsPerBlock = ConstU32<3>;
    type DepositBase = DepositBase;
    type DepositPerPiece = DepositPerPiece;
    type DepositPerRecipient = DepositPerRecipient;
    type WeightInfo = ();
}

/// Accounts 1 to 19 start with `ENDOWMENT` each; 10 to 19 are providers in
/// tests that register them.
pub const ENDOWMENT: Balance = 1_000_000_000;

/// Moves to block `n`, running the market's block hook on the way.
pub fn run_to(n: u64) {
    while System::block_number() < n {
        let next = System::block_number() + 1;
        System::set_block_number(next);
        Market::on_initialize(next);
    }
}

/// Accounts 1 to 19 hold `ENDOWMENT`, at block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
    let storage = RuntimeGenesisConfig {
        balances: pallet_balances::GenesisConfig {
            balances: (1..20).map(|who| (who, ENDOWMENT)).collect(),
            ..Default::default()
        },
        ..Default::default()
    }
    .build_storage()
    .expect("the mock genesis builds");
    let mut ext = sp_io::TestExternalities::new(storage);
    ext.execute_with(|| System::set_block_number(1));
    ext
}

#[derive(Default)]
pub struct ExtBuilder;

impl ExtBuilder {
    /// Runs `test`, then checks both pallets' invariants and that the sum of
    /// balances equals total issuance, which only slashes and forfeited
    /// bonds lower.
    pub fn run(self, test: impl FnOnce()) {
        new_test_ext().execute_with(|| {
            test();
            Market::do_try_state().expect("market invariants hold");
            Providers::do_try_state().expect("provider invariants hold");
            let burnt: Balance = System::events()
                .into_iter()
                .filter_map(|record| match record.event {
                    RuntimeEvent::Providers(pallet_mosaic_providers::Event::Slashed {
                        amount,
                        ..
                    }) => Some(amount),
                    RuntimeEvent::Market(crate::Event::Unconfirmed { forfeited, .. }) => {
                        Some(forfeited)
                    }
                    _ => None,
                })
                .sum();
            let total: Balance = (1..20).map(|who| Balances::total_balance(&who)).sum();
            assert_eq!(total, 19 * ENDOWMENT - burnt, "tokens appeared or vanished");
            assert_eq!(
                pallet_balances::TotalIssuance::<Test>::get(),
                19 * ENDOWMENT - burnt
            );
        });
    }
}
