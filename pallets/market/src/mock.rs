//! A test runtime with balances, the provider registry and the market; the
//! tests play the audit pallet (`Market::proven`, `Market::failed`), and the
//! pieces that leave their providers are recorded.

use std::cell::RefCell;

use crate as pallet_mosaic_market;
use crate::{OnPieceLeave, OrderId};
use pallet_mosaic_providers::testing::{slashed, Endowment};
use polkadot_sdk::frame_support::traits::{ConstU32, Hooks};
use polkadot_sdk::frame_support::{derive_impl, parameter_types};
use polkadot_sdk::sp_runtime::BuildStorage;
use polkadot_sdk::{frame_support, frame_system, pallet_balances, sp_io};

pub use crate::config_preludes::{CONFIRM_WINDOW, PERIOD};

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
}

parameter_types! {
    /// The registry's price floor; a test of sizes lowers it to 0.
    pub static MinPrice: Balance = pallet_mosaic_providers::config_preludes::MIN_PRICE;
}

#[derive_impl(pallet_mosaic_providers::config_preludes::TestDefaultConfig)]
impl pallet_mosaic_providers::Config for Test {
    type Currency = Balances;
    type MinPrice = MinPrice;
    type MaxDraws = ConstU32<40>;
    type OnLeave = Market;
}

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
    /// The bond for an unconfirmed piece (none unless a test sets it, so
    /// that tests of scheduling can cancel orders freely).
    pub static UnconfirmedSlash: polkadot_sdk::sp_runtime::Perbill = polkadot_sdk::sp_runtime::Perbill::zero();
    /// Confirm deadlines before a pending order is cancelled (one unless a
    /// test of rounds sets more).
    pub static ConfirmRounds: u8 = 1;
    /// The chain's randomness; tests change it to vary placements.
    pub static Randomness: [u8; 32] = [0; 32];
    /// What the hook may spend on deadlines (unbounded unless a test of
    /// the budget lowers it).
    pub static DeadlineWeight: polkadot_sdk::frame_support::weights::Weight = polkadot_sdk::frame_support::weights::Weight::MAX;
}

#[derive_impl(pallet_mosaic_market::config_preludes::TestDefaultConfig)]
impl pallet_mosaic_market::Config for Test {
    type Currency = Balances;
    type Providers = Providers;
    type OnPieceLeave = RecordLeaves;
    type Randomness = Randomness;
    type DeadlineWeight = DeadlineWeight;
    type UnconfirmedSlash = UnconfirmedSlash;
    type ConfirmRounds = ConfirmRounds;
}

/// Accounts 1 to 19 start with `ENDOWMENT` each; 10 to 19 are providers in
/// tests that register them.
pub const ENDOWMENT: Balance = 1_000_000_000;
const ENDOWED: Endowment = Endowment {
    accounts: 19,
    each: ENDOWMENT,
};

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
            balances: ENDOWED.balances(),
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
            let forfeited: Balance = System::events()
                .into_iter()
                .filter_map(|record| match record.event {
                    RuntimeEvent::Market(crate::Event::Unconfirmed { forfeited, .. }) => {
                        Some(forfeited)
                    }
                    _ => None,
                })
                .sum();
            ENDOWED.assert_conserved::<Test>(slashed::<Test>() + forfeited);
        });
    }
}
