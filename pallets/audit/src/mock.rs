//! A test runtime with balances, providers, market and audit, and blocks
//! carrying real VRF signatures. The market places pieces with the audit
//! pallet's randomness, as the runtime does.

use crate as pallet_mosaic_audit;
use pallet_mosaic_providers::testing::{slashed, Endowment};
use polkadot_sdk::frame_support::traits::{ConstU32, ConstU64, Hooks};
use polkadot_sdk::frame_support::{derive_impl, parameter_types};
use polkadot_sdk::sp_core::crypto::Pair as _;
use polkadot_sdk::sp_core::sr25519;
use polkadot_sdk::sp_runtime::{BuildStorage, Digest, Perbill};
use polkadot_sdk::{frame_support, frame_system, pallet_balances, sp_io};

pub use pallet_mosaic_market::config_preludes::PERIOD;

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u64;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Providers: pallet_mosaic_providers,
        Market: pallet_mosaic_market,
        Audit: pallet_mosaic_audit,
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

pub const STAKE: Balance = 10_000;
/// Blocks at the start of each period in which challenges are drawn: the
/// first half.
pub const DRAW_BLOCKS: u64 = PERIOD / 2;
/// Blocks from a challenge's reveal to its deadline.
pub const WINDOW: u64 = 3;
/// One leaf per this many bytes held.
pub const BYTES_PER_LEAF: u64 = 64 * 1024;
pub const LEAVES_PER_PERIOD: u32 = 8;
pub const MAX_MISSES: u32 = 3;

parameter_types! {
    /// What a draw block's visits may take, and the proofs they ask for
    /// (unbounded unless a test of the budget lowers them).
    pub static VisitWeight: polkadot_sdk::frame_support::weights::Weight = polkadot_sdk::frame_support::weights::Weight::MAX;
    pub static ProofWeight: polkadot_sdk::frame_support::weights::Weight = polkadot_sdk::frame_support::weights::Weight::MAX;
    pub const UnconfirmedSlash: Perbill = Perbill::from_percent(50);
    pub const SlashFraction: Perbill = Perbill::from_percent(10);
}

#[derive_impl(pallet_mosaic_providers::config_preludes::TestDefaultConfig)]
impl pallet_mosaic_providers::Config for Test {
    type Currency = Balances;
    type MaxDraws = ConstU32<32>;
    type OnLeave = Market;
}

#[derive_impl(pallet_mosaic_market::config_preludes::TestDefaultConfig)]
impl pallet_mosaic_market::Config for Test {
    type Currency = Balances;
    type Providers = Providers;
    type OnPieceLeave = Audit;
    type Randomness = pallet_mosaic_audit::AccumulatedRandomness<Test>;
    type MaxDeadlinesPerBlock = ConstU32<4>;
    type UnconfirmedSlash = UnconfirmedSlash;
    type RepairsPerBlock = ConstU32<8>;
}

impl pallet_mosaic_audit::Config for Test {
    type Currency = Balances;
    type Providers = Providers;
    type Pieces = Market;
    type PeriodLength = <Test as pallet_mosaic_market::Config>::PeriodLength;
    type AnswerWindow = ConstU64<WINDOW>;
    type SlashFraction = SlashFraction;
    type MaxMisses = ConstU32<MAX_MISSES>;
    type BytesPerLeaf = ConstU64<BYTES_PER_LEAF>;
    type LeavesPerPeriod = ConstU32<LEAVES_PER_PERIOD>;
    type MaxDraws = ConstU32<32>;
    type VisitWeight = VisitWeight;
    type ProofWeight = ProofWeight;
    type MaxAuthorities = ConstU32<4>;
    type WeightInfo = ();
}

/// The validator whose VRF key signs every block.
pub fn validator() -> sr25519::Pair {
    sr25519::Pair::from_string("//Alice", None).expect("a dev seed")
}

/// The digest of block `n` (slot `n`), signed by `signer` if given.
pub fn digest(n: u64, signer: Option<&sr25519::Pair>) -> Digest {
    crate::pre_digest(n, &crate::Randomness::<Test>::get(), signer)
}

/// Runs blocks up to `n`, each signed by the validator.
pub fn run_to(n: u64) {
    while System::block_number() < n {
        let next = System::block_number() + 1;
        System::initialize(
            &next,
            &Default::default(),
            &digest(next, Some(&validator())),
        );
        Market::on_initialize(next);
        Audit::on_initialize(next);
    }
}

pub const ENDOWMENT: Balance = 1_000_000_000;
const ENDOWED: Endowment = Endowment {
    accounts: 19,
    each: ENDOWMENT,
};

/// Accounts 1 to 19 hold `ENDOWMENT` and //Alice's VRF key is registered,
/// at block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
    let storage = RuntimeGenesisConfig {
        balances: pallet_balances::GenesisConfig {
            balances: ENDOWED.balances(),
            ..Default::default()
        },
        audit: pallet_mosaic_audit::GenesisConfig {
            vrf_authorities: vec![validator().public()],
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
    /// Runs `test`; then checks invariants and that total issuance moved
    /// only by burnt slashes (nothing is minted).
    pub fn run(self, test: impl FnOnce()) {
        new_test_ext().execute_with(|| {
            test();
            Audit::do_try_state().expect("audit invariants hold");
            Market::do_try_state().expect("market invariants hold");
            Providers::do_try_state().expect("provider invariants hold");
            ENDOWED.assert_conserved::<Test>(slashed::<Test>());
        });
    }
}
