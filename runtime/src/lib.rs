//! The Mosaic FRAME runtime.
//!
//! A standard FRAME runtime (`frame_executive` over `frame_system`, balances,
//! timestamp, transaction payment, Aura and GRANDPA authority sets, sudo) plus
//! Mosaic's pallets. It is compiled into the node and executed natively: the
//! node calls [`apis::api::dispatch`] with a runtime API method name
//! (`Core_execute_block`, `BlockBuilder_apply_extrinsic`, …) and SCALE-encoded
//! arguments, inside externalities backed by its state trie. There is no wasm
//! build.
//!
//! Mosaic's pallets: the provider registry, the storage market, audits, and
//! names (mutable names with a version history, `pallet_mosaic_names`).
//!
//! Transactions are standard signed extrinsics (`MultiSignature`, the usual
//! transaction extensions: spec and transaction version, genesis, mortality,
//! nonce, weight, fees), so that Substrate tooling can sign for this chain.
//!
//! Genesis presets `dev` and `local` live in [`genesis`].

// The benchmark list macros must be in textual scope before `apis` uses them.
// They are used only in this crate, so `crate::` paths in them are right.
#[cfg(feature = "runtime-benchmarks")]
#[macro_use]
#[allow(clippy::crate_in_macro_def)]
mod benches {
    polkadot_sdk::frame_benchmarking::define_benchmarks!(
        [pallet_balances, crate::Balances]
        [pallet_mosaic_providers, crate::Providers]
        [pallet_mosaic_market, crate::Market]
        [pallet_mosaic_audit, crate::Audit]
        [pallet_mosaic_names, crate::Names]
        [validators, crate::Validators]
    );
}

pub mod accounting;
pub mod apis;
pub mod bench_state;
pub mod genesis;
pub mod mosaic_api;
pub mod native;
pub mod parameters;
pub mod signing;
#[cfg(test)]
mod tests;
pub mod validators;
pub mod verified;

use polkadot_sdk::frame_support::{
    derive_impl, parameter_types,
    traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8},
    weights::{
        constants::{RocksDbWeight, WEIGHT_REF_TIME_PER_SECOND},
        IdentityFee, Weight,
    },
};
use polkadot_sdk::frame_system::limits::{BlockLength, BlockWeights};
use polkadot_sdk::sp_runtime::{
    generic, impl_opaque_keys,
    traits::{BlakeTwo256, IdentifyAccount, Verify},
    MultiAddress, Perbill,
};
use polkadot_sdk::sp_version::RuntimeVersion;
use polkadot_sdk::{
    frame_executive, frame_support, frame_system, pallet_aura, pallet_balances, pallet_grandpa,
    pallet_sudo, pallet_timestamp, pallet_transaction_payment, sp_consensus_aura, sp_core,
    sp_runtime,
};

/// A block number.
pub type BlockNumber = u32;
/// A transaction signature: sr25519, ed25519 or ecdsa (a `MultiSignature`
/// verified once per node, see [`verified`]).
pub type Signature = verified::Signature;
/// An account id: the public key behind a [`Signature`].
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// A balance.
pub type Balance = u128;
/// A transaction index.
pub type Nonce = u32;
/// A hash.
pub type Hash = sp_core::H256;
/// The address format of extrinsics.
pub type Address = MultiAddress<AccountId, ()>;
/// The block header.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// The block.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// The Aura authority key: ed25519, as block seals are.
pub type AuraId = sp_consensus_aura::ed25519::AuthorityId;

/// The transaction extensions every signed extrinsic carries, in order.
pub type TxExtension = (
    frame_system::AuthorizeCall<Runtime>,
    frame_system::CheckNonZeroSender<Runtime>,
    frame_system::CheckSpecVersion<Runtime>,
    frame_system::CheckTxVersion<Runtime>,
    frame_system::CheckGenesis<Runtime>,
    frame_system::CheckEra<Runtime>,
    frame_system::CheckNonce<Runtime>,
    frame_system::CheckWeight<Runtime>,
    pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
    frame_system::WeightReclaim<Runtime>,
);

/// An extrinsic as it appears in a block.
pub type UncheckedExtrinsic =
    generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
/// What a signer signs.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// Runs blocks: initialize, apply extrinsics, finalize.
pub type Executive = frame_executive::Executive<
    Runtime,
    Block,
    frame_system::ChainContext<Runtime>,
    Runtime,
    AllPalletsWithSystem,
>;

/// One token has 12 decimals.
pub const UNIT: Balance = 1_000_000_000_000;
/// A thousandth of a token.
pub const MILLI_UNIT: Balance = UNIT / 1_000;
/// Smallest balance an account may hold.
pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_UNIT;

/// Milliseconds per slot: one block per slot at most.
pub const SLOT_DURATION_MS: u64 = 3_000;
/// Blocks in a minute.
pub const MINUTES: BlockNumber = 60_000 / SLOT_DURATION_MS as BlockNumber;
/// Blocks in an hour.
pub const HOURS: BlockNumber = MINUTES * 60;
/// Blocks in a day.
pub const DAYS: BlockNumber = HOURS * 24;

/// The runtime's version; `spec_version` changes with every change of logic.
pub const VERSION: RuntimeVersion = RuntimeVersion {
    spec_name: alloc::borrow::Cow::Borrowed("mosaic"),
    impl_name: alloc::borrow::Cow::Borrowed("mosaic-node"),
    authoring_version: 1,
    // 2: orders of pieces (issue 10). 7: names (issue 15).
    spec_version: 8,
    impl_version: 0,
    apis: apis::RUNTIME_API_VERSIONS,
    // 2: market and audit calls changed shape.
    transaction_version: 2,
    // State and extrinsics roots both use trie layout V1.
    system_version: 2,
};

extern crate alloc;

impl_opaque_keys! {
    /// The keys a validator holds.
    pub struct SessionKeys {
        /// Block authoring.
        pub aura: Aura,
        /// Finality votes.
        pub grandpa: Grandpa,
    }
}

const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
    pub const Version: RuntimeVersion = VERSION;
    /// Two seconds of compute per three-second block. Proof size is not
    /// limited: this chain has no relay chain to ship proofs of validity to,
    /// so the weights' proof-size part (sized for parachains) would only cap
    /// blocks far below their compute; `RuntimeBlockLength` bounds a block's
    /// bytes.
    pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
        Weight::from_parts(2 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
        NORMAL_DISPATCH_RATIO,
    );
    pub RuntimeBlockLength: BlockLength = BlockLength::builder()
        .max_length(5 * 1024 * 1024)
        .modify_max_length_for_class(
            frame_support::dispatch::DispatchClass::Normal,
            |max| *max = NORMAL_DISPATCH_RATIO * *max,
        )
        .build();
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
    type Block = Block;
    type AccountId = AccountId;
    type Nonce = Nonce;
    type Hash = Hash;
    type Lookup = sp_runtime::traits::AccountIdLookup<AccountId, ()>;
    type BlockWeights = RuntimeBlockWeights;
    type BlockLength = RuntimeBlockLength;
    type DbWeight = RocksDbWeight;
    type Version = Version;
    type AccountData = pallet_balances::AccountData<Balance>;
    type SS58Prefix = ConstU16<42>;
    type MaxConsumers = ConstU32<16>;
}

use frame_support::traits::ConstU16;

impl pallet_timestamp::Config for Runtime {
    type Moment = u64;
    type OnTimestampSet = Aura;
    type MinimumPeriod = ConstU64<{ SLOT_DURATION_MS / 2 }>;
    type WeightInfo = ();
}

impl pallet_aura::Config for Runtime {
    type AuthorityId = AuraId;
    type DisabledValidators = ();
    type MaxAuthorities = ConstU32<32>;
    type AllowMultipleBlocksPerSlot = ConstBool<false>;
    type SlotDuration = ConstU64<SLOT_DURATION_MS>;
}

impl pallet_grandpa::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type WeightInfo = ();
    type MaxAuthorities = ConstU32<32>;
    type MaxNominators = ConstU32<0>;
    type MaxSetIdSessionEntries = ConstU64<0>;
    type KeyOwnerProof = sp_core::Void;
    type EquivocationReportSystem = ();
}

impl pallet_balances::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type RuntimeHoldReason = RuntimeHoldReason;
    type RuntimeFreezeReason = RuntimeFreezeReason;
    type WeightInfo = ();
    type Balance = Balance;
    type DustRemoval = ();
    type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
    type AccountStore = System;
    type ReserveIdentifier = [u8; 8];
    type FreezeIdentifier = RuntimeFreezeReason;
    type MaxLocks = ConstU32<50>;
    type MaxReserves = ConstU32<50>;
    type MaxFreezes = ConstU32<0>;
    type DoneSlashHandler = ();
}

impl pallet_transaction_payment::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    // Fees are burnt: they leave total issuance, as the token invariant counts.
    type OnChargeTransaction = pallet_transaction_payment::FungibleAdapter<Balances, ()>;
    type OperationalFeeMultiplier = ConstU8<5>;
    type WeightToFee = IdentityFee<Balance>;
    type LengthToFee = IdentityFee<Balance>;
    type FeeMultiplierUpdate = ();
    type WeightInfo = ();
}

impl pallet_sudo::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type RuntimeCall = RuntimeCall;
    type WeightInfo = ();
}

parameter_types! {
    pub const ProviderMinStake: Balance = 100 * UNIT;
    pub const ProviderStakePerGiB: Balance = 10 * UNIT;
}

impl pallet_mosaic_providers::Config for Runtime {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type MinStake = ProviderMinStake;
    type StakePerGiB = ProviderStakePerGiB;
    type MinPrice = ProviderMinPrice;
    type UnbondingPeriod = parameters::UnbondingPeriod;
    type MaxProviders = ConstU32<10_240>;
    // Enough for the widest order (128 pieces: 2 × 128 + 8 draws).
    type MaxDraws = ConstU32<264>;
    type MaxPeerIdLen = ConstU32<64>;
    type MaxMultiaddrs = ConstU32<8>;
    type MaxMultiaddrLen = ConstU32<128>;
    type OnLeave = Market;
    type WeightInfo = ();
}

impl validators::Config for Runtime {
    type ChangeDelay = ConstU32<{ MINUTES }>;
}

impl parameters::Config for Runtime {}

parameter_types! {
    pub const OrderDepositBase: Balance = UNIT;
    pub const OrderDepositPerPiece: Balance = 10 * MILLI_UNIT;
    pub const OrderDepositPerRecipient: Balance = 10 * MILLI_UNIT;
    /// Half the stake backing the bytes of a failed piece.
    pub const AuditSlash: Perbill = Perbill::from_percent(50);
    /// A tenth of the stake backing a piece its provider never confirmed.
    pub const UnconfirmedSlash: Perbill = Perbill::from_percent(10);
    /// Nothing is free: the lowest price a provider may ask, one unit of the
    /// smallest denomination per byte per block (about 928 UNIT a GiB for
    /// 30 days of 3-second blocks).
    pub const ProviderMinPrice: Balance = 1;
    pub MarketDeadlineWeight: Weight =
        Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND / 2, u64::MAX);
    pub AuditVisitWeight: Weight =
        Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND * 2 / 5, u64::MAX);
    pub AuditProofWeight: Weight =
        Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND * 2 / 5, u64::MAX);
}

impl accounting::Config for Runtime {}

impl pallet_mosaic_market::Config for Runtime {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type Providers = Providers;
    type OnPieceLeave = Audit;
    type Randomness = pallet_mosaic_audit::AccumulatedRandomness<Runtime>;
    type PeriodLength = parameters::PeriodLength;
    type MinPeriods = ConstU32<1>;
    // A year of five-minute periods.
    type MaxPeriods = ConstU32<105_120>;
    type ConfirmWindow = parameters::ConfirmWindow;
    // The widest coding, 64 + 64.
    type MaxPieces = ConstU32<128>;
    type MaxRecipients = ConstU32<16>;
    type MaxCidLen = ConstU32<64>;
    // Far more than one block's `store` calls can place (each weighs at
    // least 10 ms of the 1.5 s normal class), so only sustained flooding
    // paid block after block fills a list.
    type MaxDeadlinesPerBlock = ConstU32<1_024>;
    // A quarter of the block: with a repair pass and the audit's draw
    // block, the hooks stay within the block (README, *Weights*).
    type DeadlineWeight = MarketDeadlineWeight;
    // Eight a block move a period's worth (800) well before it fills.
    type MaxFailedPieces = ConstU32<1_024>;
    // A worker may miss one visit (a restart, a short outage) without its
    // pieces moving; the second miss in a row moves them.
    type FailuresBeforeRepair = ConstU8<2>;
    // A tenth of the stake backing the piece for taking it and not storing
    // it; three windows for the order to find providers that do.
    type UnconfirmedSlash = UnconfirmedSlash;
    type ConfirmRounds = ConstU8<3>;
    type RepairsPerBlock = ConstU32<8>;
    type DepositBase = OrderDepositBase;
    type DepositPerPiece = OrderDepositPerPiece;
    type DepositPerRecipient = OrderDepositPerRecipient;
    type WeightInfo = ();
}

impl pallet_mosaic_audit::Config for Runtime {
    type Currency = Balances;
    type Providers = Providers;
    type Pieces = Market;
    type PeriodLength = parameters::PeriodLength;
    type AnswerWindow = parameters::AnswerWindow;
    type SlashFraction = AuditSlash;
    type MaxMisses = parameters::MaxMisses;
    // One leaf per 16 GiB held, up to 64 (reached at 1 TiB): see the audit
    // pallet's cost-of-cheating figures.
    type BytesPerLeaf = ConstU64<{ 16 << 30 }>;
    type LeavesPerPeriod = ConstU32<{ pallet_mosaic_audit::MAX_LEAVES }>;
    type MaxDraws = ConstU32<160>;
    // A fifth of the block for a draw block's visits, and a fifth for the
    // proofs they ask for (inside the quarter only operational calls may
    // use): README, *Weights*.
    type VisitWeight = AuditVisitWeight;
    type ProofWeight = AuditProofWeight;
    type MaxAuthorities = ConstU32<32>;
    type WeightInfo = ();
}

parameter_types! {
    /// Held while a name is registered: a record of about 100 bytes, priced
    /// like an order's base record.
    pub const NameDeposit: Balance = UNIT;
    /// Held per kept version of a name: a record of about 70 bytes, priced
    /// like an order's piece record.
    pub const NameVersionDeposit: Balance = 10 * MILLI_UNIT;
}

impl pallet_mosaic_names::Config for Runtime {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type NameDeposit = NameDeposit;
    type VersionDeposit = NameVersionDeposit;
    // A year of weekly versions; older ones leave the history (their
    // objects keep their CIDs).
    type MaxVersions = ConstU32<64>;
    // The index is read and written whole (64 names of up to 64 bytes).
    type MaxNamesPerOwner = ConstU32<64>;
    // As the market's.
    type MaxCidLen = ConstU32<64>;
    type WeightInfo = ();
}

#[frame_support::runtime]
mod runtime {
    /// The Mosaic runtime.
    #[runtime::runtime]
    #[runtime::derive(
        RuntimeCall,
        RuntimeEvent,
        RuntimeError,
        RuntimeOrigin,
        RuntimeFreezeReason,
        RuntimeHoldReason,
        RuntimeSlashReason,
        RuntimeLockId,
        RuntimeTask,
        RuntimeViewFunction
    )]
    pub struct Runtime;

    #[runtime::pallet_index(0)]
    pub type System = frame_system;
    #[runtime::pallet_index(1)]
    pub type Timestamp = pallet_timestamp;
    #[runtime::pallet_index(2)]
    pub type Aura = pallet_aura;
    #[runtime::pallet_index(3)]
    pub type Grandpa = pallet_grandpa;
    #[runtime::pallet_index(4)]
    pub type Balances = pallet_balances;
    #[runtime::pallet_index(5)]
    pub type TransactionPayment = pallet_transaction_payment;
    #[runtime::pallet_index(6)]
    pub type Sudo = pallet_sudo;
    #[runtime::pallet_index(7)]
    pub type Validators = crate::validators;
    #[runtime::pallet_index(8)]
    pub type Parameters = crate::parameters;
    #[runtime::pallet_index(9)]
    pub type Accounting = crate::accounting;
    #[runtime::pallet_index(10)]
    pub type Providers = pallet_mosaic_providers;
    #[runtime::pallet_index(11)]
    pub type Market = pallet_mosaic_market;
    #[runtime::pallet_index(12)]
    pub type Audit = pallet_mosaic_audit;
    #[runtime::pallet_index(13)]
    pub type Names = pallet_mosaic_names;
}
