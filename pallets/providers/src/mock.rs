//! A test runtime with balances and the provider registry.

use crate as pallet_mosaic_providers;
use crate::testing::{slashed, Endowment};
use polkadot_sdk::frame_support::traits::{ConstU32, ConstU64};
use polkadot_sdk::frame_support::{derive_impl, parameter_types};
use polkadot_sdk::sp_runtime::BuildStorage;
use polkadot_sdk::{frame_support, frame_system, pallet_balances, sp_io};

pub use crate::config_preludes::{MIN_PRICE, MIN_STAKE, STAKE_PER_GIB};

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u64;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Providers: pallet_mosaic_providers,
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

pub const UNBONDING: u64 = 10;
pub const MAX_PROVIDERS: u32 = 3;

parameter_types! {
    /// Tests of placement at scale raise it before registering anyone.
    pub static ProviderLimit: u32 = MAX_PROVIDERS;
}

#[derive_impl(pallet_mosaic_providers::config_preludes::TestDefaultConfig)]
impl pallet_mosaic_providers::Config for Test {
    type Currency = Balances;
    type UnbondingPeriod = ConstU64<UNBONDING>;
    type MaxProviders = ProviderLimit;
    type MaxDraws = ConstU32<64>;
    type OnLeave = ();
}

/// Accounts 1 to 9 start with `ENDOWMENT` each.
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
    /// was created or destroyed except by slashing.
    pub fn run(self, test: impl FnOnce()) {
        new_test_ext().execute_with(|| {
            test();
            Providers::do_try_state().expect("invariants hold");
            ENDOWED.assert_conserved::<Test>(slashed::<Test>());
        });
    }
}
