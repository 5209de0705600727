//! A test runtime with balances and the provider registry.

use crate as pallet_mosaic_providers;
use polkadot_sdk::frame_support::traits::{fungible::Inspect, ConstU32};
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

pub const MIN_STAKE: Balance = 1_000;
pub const STAKE_PER_GIB: Balance = 100;
pub const UNBONDING: u64 = 10;
pub const MIN_PRICE: Balance = 1;
pub const MAX_PROVIDERS: u32 = 3;

parameter_types! {
    pub const MinStake: Balance = MIN_STAKE;
    pub const StakePerGiB: Balance = STAKE_PER_GIB;
    pub const MinPrice: Balance = MIN_PRICE;
    pub const UnbondingPeriod: u64 = UNBONDING;
    /// Tests of placement at scale raise it before registering anyone.
    pub static ProviderLimit: u32 = MAX_PROVIDERS;
}

impl pallet_mosaic_providers::Config for Test {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type MinStake = MinStake;
    type StakePerGiB = StakePerGiB;
    type MinPrice = MinPrice;
    type UnbondingPeriod = UnbondingPeriod;
    type MaxProviders = ProviderLimit;
    type MaxDraws = ConstU32<64>;
    type MaxPeerIdLen = ConstU32<64>;
    type MaxMultiaddrs = ConstU32<4>;
    type MaxMultiaddrLen = ConstU32<64>;
    type OnLeave = ();
    type WeightInfo = ();
}

/// Accounts 1 to 9 start with `ENDOWMENT` each.
pub const ENDOWMENT: Balance = 1_000_000;

/// Accounts 1 to 9 hold `ENDOWMENT`, at block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
    let storage = RuntimeGenesisConfig {
        balances: pallet_balances::GenesisConfig {
            balances: (1..10).map(|who| (who, ENDOWMENT)).collect(),
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
            let slashed: Balance = System::events()
                .into_iter()
                .filter_map(|record| match record.event {
                    RuntimeEvent::Providers(crate::Event::Slashed { amount, .. }) => Some(amount),
                    _ => None,
                })
                .sum();
            let total: Balance = (1..10).map(|who| Balances::total_balance(&who)).sum();
            assert_eq!(
                total,
                pallet_balances::TotalIssuance::<Test>::get(),
                "balances do not add up"
            );
            assert_eq!(
                pallet_balances::TotalIssuance::<Test>::get() + slashed,
                9 * ENDOWMENT,
                "tokens appeared or vanished"
            );
        });
    }
}
