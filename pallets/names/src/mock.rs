//! A test runtime with balances and the names pallet.

use crate as pallet_mosaic_names;
use pallet_mosaic_providers::testing::Endowment;
use polkadot_sdk::frame_support::derive_impl;
use polkadot_sdk::sp_runtime::BuildStorage;
use polkadot_sdk::{frame_support, frame_system, pallet_balances, sp_io};

pub use crate::config_preludes::{
    MAX_NAMES_PER_OWNER, MAX_VERSIONS, NAME_DEPOSIT, VERSION_DEPOSIT,
};

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u64;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Names: pallet_mosaic_names,
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

#[derive_impl(pallet_mosaic_names::config_preludes::TestDefaultConfig)]
impl pallet_mosaic_names::Config for Test {
    type Currency = Balances;
}

/// Accounts 1 to 9 start with `ENDOWMENT` each; account 10 and above do
/// not exist.
pub const ENDOWMENT: Balance = 1_000_000;
const ENDOWED: Endowment = Endowment {
    accounts: 9,
    each: ENDOWMENT,
};

/// Accounts 1 to 9 hold `ENDOWMENT`, at block 1.
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
    /// Runs `test`, then checks the pallet's invariants and that no token
    /// was created or destroyed (this pallet only holds and releases).
    pub fn run(self, test: impl FnOnce()) {
        new_test_ext().execute_with(|| {
            test();
            Names::do_try_state().expect("invariants hold");
            ENDOWED.assert_currency_conserved::<Balances>(0);
        });
    }
}
