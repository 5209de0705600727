//! Storage market pallet.
//!
//! **Orders and pieces.** A client's `store` names an object by its CID, its
//! stored size (ciphertext bytes for an encrypted file), its coding
//! parameters and the root of each of its `k + m` **pieces** (piece `i` is
//! shard `i` of every segment; see [`mosaic_primitives::piece`]), how many
//! periods to keep it, the highest price per byte per block it accepts, and
//! how it is read: public, or encrypted with a cipher suite and the file key
//! wrapped to each reader. Everything `get` needs besides the pieces is in
//! the order, so the owner's key alone gets a file back. An order's state is
//! `O(k + m)` whatever the object's size (at most `MaxPieces` pieces, and
//! objects up to [`mosaic_primitives::piece::MAX_SEGMENTS`] segments).
//!
//! **Placement.** The runtime draws `k + m` distinct providers with room for
//! a piece and a price at or below the client's, with probability in
//! proportion to their free capacity, from the chain's randomness
//! ([`ProviderRegistry::pick`]: `O((k + m) · log n)` reads, no scan). It
//! holds the full escrow (`piece size × Σ prices × period length × periods`)
//! plus a storage deposit for the records from the client.
//!
//! **Acceptance.** Each assigned provider `confirm`s its piece once its worker
//! holds it (after checking every shard against the piece root). When every
//! piece is confirmed the order is live, for `periods` whole periods
//! starting with the next one. At the confirm deadline each provider that
//! did not confirm loses `UnconfirmedSlash` of the stake backing its piece
//! (its bond: taking a piece and never storing it costs), the owner loses
//! as much from the bond it put up at `store` (the chain cannot tell a
//! provider that did not store from an owner that did not upload, so
//! neither side gains by the other's failure, and griefing costs the
//! griefer what it costs the victim), and the piece is queued to move to
//! another provider, with another confirm window and the owner's share put
//! up again; after `ConfirmRounds` deadlines an order still not confirmed
//! is cancelled and the rest refunded. A piece moved while its order is
//! live (repair) has the same window and the provider's bond alone.
//!
//! **Payment, per piece.** Escrow leaves the client only to pay for a piece
//! its provider proved: when the audit pallet verifies a proof of a piece
//! in period `p` ([`PieceIndex::proven`]), the provider is paid at once for
//! that piece's periods from the last one settled through `p`. When a piece
//! fails its audit ([`PieceIndex::failed`]), its periods through `p` that
//! were not paid are forfeited (they go back to the client when the order
//! ends); after `FailuresBeforeRepair` failures in a row, or at once when
//! its proof did not verify, the piece moves to another provider. Periods
//! after a piece's
//! last proof are not paid when its order ends, is deleted, or the piece
//! moves: nobody proved them. A piece earns from the first period of its
//! order (or, when repaired, from the period after its confirmation), never
//! before, and never past the order's end. `extend` buys more periods at the
//! recorded prices; `delete` ends an order early; `share` wraps the file key
//! to one more reader (with a deposit).
//!
//! **Repair.** When a provider unbonds or is ejected, its pieces are queued
//! and reassigned a few per block to other providers (never one holding
//! another piece of the same order, nor its owner), who rebuild them from
//! `k` others and `confirm`; a piece that failed its audit is reassigned at
//! once. The order stays live meanwhile.
//!
//! **Indexes.** Each provider's pieces (a dense list, with a Fenwick tree of
//! their bytes from which the audit pallet draws pieces in proportion to
//! their size), each owner's orders and the orders of each CID, read in
//! pages through the runtime API.
//!
//! **Bounds.** Every storage item is bounded: pieces per order (`MaxPieces`),
//! readers per order (`MaxRecipients`), orders queued at one block
//! (`MaxDeadlinesPerBlock`, an order whose block is full is queued at the
//! next one with room), the queue of failed pieces (`MaxFailedPieces`), the
//! CID length; the leaving providers are at most the registry's. Every
//! block's hook is bounded by weight: it handles deadlines and expiries,
//! oldest first, within `DeadlineWeight`, leaving the rest for the next
//! block (a late expiry pays nothing more: payment stops at the order's
//! end; a late confirm deadline only gives the providers a few more
//! blocks), and a repair pass moves at most `RepairsPerBlock` pieces. The
//! list bound is set far above what one block's `store` calls can place,
//! so that flooding the lists to refuse honest orders costs the flooder a
//! block's fees for each of many blocks (the README's *Weights* gives the
//! figures).

pub use pallet::*;

use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{frame_support, frame_system, sp_runtime};
use scale_info::TypeInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod deadlines;
mod invariants;
#[cfg(test)]
mod mock;
mod pieces;
mod placement;
mod repair;
mod settlement;
#[cfg(test)]
mod tests;
pub mod weights;

pub use mosaic_primitives::encryption::{CipherSuite, WrappedKey};
pub use mosaic_primitives::erasure::CodingParams;
pub use mosaic_primitives::piece::{Layout, PieceRoot};
pub use weights::WeightInfo;

/// Blocks tried, from the intended one on, to queue a deadline or expiry.
const SCHEDULE_TRIES: u32 = 16;
/// Periods an expiry may slip past its order's end when the blocks it is
/// spread over are full (a late expiry only frees capacity later: nothing
/// is paid past the end, and nothing past it is audited).
const EXPIRY_PERIODS: u32 = 4;
/// Deadline lists a block's hook looks at, at most, when it is behind.
const LISTS_PER_BLOCK: u32 = 16;
/// Most entries one page of an index returns.
pub const MAX_PAGE: u32 = 256;

/// Identifies an order.
pub type OrderId = u64;
/// Index of an audit period: `block / PeriodLength`.
pub type PeriodIndex = u32;

/// Told when a piece leaves its provider (its order ended or was deleted,
/// or the piece moved), so that the audit pallet withdraws any open
/// challenge of it: nobody answers for a piece it no longer holds.
pub trait OnPieceLeave<AccountId> {
    /// Piece `piece` of `order` is no longer `who`'s.
    fn on_piece_leave(who: &AccountId, order: OrderId, piece: u32);
}

impl<AccountId> OnPieceLeave<AccountId> for () {
    fn on_piece_leave(_: &AccountId, _: OrderId, _: u32) {}
}

/// Where an order stands.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Debug,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
)]
pub enum OrderState<BlockNumber> {
    /// Waiting for confirmations until `deadline`.
    Pending {
        /// Block at which an unconfirmed order is cancelled.
        deadline: BlockNumber,
    },
    /// Stored and paid for periods `start..end`.
    Live {
        /// First paid period.
        start: PeriodIndex,
        /// First period no longer paid.
        end: PeriodIndex,
    },
}

/// How an object is read.
#[derive(
    frame_support::CloneNoBound,
    frame_support::PartialEqNoBound,
    frame_support::EqNoBound,
    frame_support::DebugNoBound,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxRecipients))]
pub enum Access<MaxRecipients: frame_support::traits::Get<u32>> {
    /// Stored unencrypted; its CID is its IPFS CID. With `dag_index > 0`
    /// the object is a UnixFS pack (`mosaic_primitives::unixfs::pack`): the
    /// bytes of its DAG's files, then `dag_index` bytes of the DAG's dag-pb
    /// blocks, so that one file or one block is read without the rest.
    /// With 0 it is a single file's bytes and nothing else.
    Public {
        /// Bytes of the DAG index at the end of the object.
        dag_index: u64,
    },
    /// Encrypted; the file key is wrapped to each reader.
    Encrypted {
        /// How the frames are encrypted.
        suite: CipherSuite,
        /// The file key, wrapped to each reader's public key.
        keys: frame_support::BoundedVec<WrappedKey, MaxRecipients>,
    },
}

impl<M: frame_support::traits::Get<u32>> Access<M> {
    /// Readers the file key is wrapped to.
    pub fn recipients(&self) -> u32 {
        match self {
            Access::Public { .. } => 0,
            Access::Encrypted { keys, .. } => keys.len() as u32,
        }
    }
}

/// One piece of an order.
#[derive(
    Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Piece<AccountId, Balance> {
    /// Root over the piece's shard roots.
    pub root: PieceRoot,
    /// Who stores it.
    pub provider: AccountId,
    /// Price per byte per block agreed with that provider.
    pub price: Balance,
    /// Whether the provider confirmed holding it.
    pub confirmed: bool,
    /// Position in the provider's piece list.
    pub slot: u32,
    /// Periods before this one are settled (payment never starts before
    /// the order's first live period, whatever this says).
    pub paid_until: PeriodIndex,
    /// Audits of the piece failed in a row by its provider.
    pub failures: u8,
}

/// A storage order.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxCidLen, MaxPieces, MaxRecipients))]
pub struct Order<
    AccountId,
    Balance,
    BlockNumber,
    MaxCidLen: frame_support::traits::Get<u32>,
    MaxPieces: frame_support::traits::Get<u32>,
    MaxRecipients: frame_support::traits::Get<u32>,
> {
    /// Who pays and may delete or share.
    pub owner: AccountId,
    /// The object's CID (binary).
    pub cid: frame_support::BoundedVec<u8, MaxCidLen>,
    /// Stored bytes.
    pub size: u64,
    /// How the object is cut and coded.
    pub coding: CodingParams,
    /// Bytes of each piece.
    pub piece_size: u64,
    /// Public, or encrypted and to whom.
    pub access: Access<MaxRecipients>,
    /// Periods bought (including extensions).
    pub periods: u32,
    /// Where the order stands.
    pub state: OrderState<BlockNumber>,
    /// Block at which the deadline or expiry is handled (at or just after
    /// the one the state implies, where that block had room).
    pub due: BlockNumber,
    /// The `k + m` pieces, in order.
    pub pieces: frame_support::BoundedVec<Piece<AccountId, Balance>, MaxPieces>,
    /// Pieces currently confirmed by their providers.
    pub confirmed: u32,
    /// Confirm deadlines the order has passed while pending.
    pub rounds: u8,
    /// The owner's confirm bond still held: the counterpart of each
    /// provider's, forfeited with it for a piece not confirmed in time.
    pub bond: Balance,
    /// Escrow still held from the owner.
    pub escrow: Balance,
    /// Storage deposit held from the owner.
    pub deposit: Balance,
}

impl<A, B, N, C, P, R> Order<A, B, N, C, P, R>
where
    C: frame_support::traits::Get<u32>,
    P: frame_support::traits::Get<u32>,
    R: frame_support::traits::Get<u32>,
{
    /// The layout of the order's pieces. `store` accepts valid layouts
    /// only, but a runtime upgrade that lowered a bound could make an old
    /// order's invalid: callers skip it rather than halt a block hook.
    pub fn layout(&self) -> Result<Layout, mosaic_primitives::piece::LayoutError> {
        Layout::new(self.coding, self.size)
    }
}

/// What storing an object would cost, as `store` would compute it in this
/// block. A `store` in a later block draws its providers again from newer
/// randomness (prices may differ if providers change theirs; the client's
/// price bound always holds).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct Quote<AccountId, Balance> {
    /// Escrow held for the whole duration.
    pub escrow: Balance,
    /// Storage deposit held until the order ends.
    pub deposit: Balance,
    /// Confirm bond held until the order goes live (forfeited for each
    /// piece not confirmed in time).
    pub bond: Balance,
    /// Bytes of each piece.
    pub piece_size: u64,
    /// The provider and its price, per piece in order.
    pub pieces: Vec<(AccountId, Balance)>,
}

/// Where the repair of a leaving provider's pieces stands.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct RepairCursor {
    /// The first slot of its list not tried in this round.
    pub slot: u32,
    /// Whether its list was tried to the end before: its pieces that no
    /// provider could take were reported then.
    pub retrying: bool,
}

/// A piece as the audit pallet draws it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PieceRef {
    /// The order.
    pub order: OrderId,
    /// Piece number within the order.
    pub piece: u32,
    /// Its root.
    pub root: PieceRoot,
    /// The shape of the order's pieces.
    pub layout: Layout,
    /// Whether its order is live and the piece confirmed (auditable).
    pub auditable: bool,
}

/// What the audit pallet needs from the market.
pub trait PieceIndex<AccountId> {
    /// How many providers hold at least one piece.
    fn holder_count() -> u32;
    /// The holder at `index` (`index < holder_count()`): a dense list, in
    /// no particular order, that changes as providers gain their first
    /// piece or lose their last.
    fn holder_at(index: u32) -> Option<AccountId>;
    /// Bytes of all of `who`'s pieces together.
    fn held_bytes(who: &AccountId) -> u64;
    /// The piece of `who` that holds byte `target` of its pieces laid end to
    /// end (`target < held_bytes(who)`): drawing `target` uniformly draws a
    /// piece with probability in proportion to its size.
    fn piece_at_byte(who: &AccountId, target: u64) -> Option<PieceRef>;
    /// Whether piece `piece` of `order` is still `who`'s.
    fn holds(who: &AccountId, order: OrderId, piece: u32) -> bool;
    /// The piece's provider proved it in `period`: pays its unpaid periods
    /// through `period`.
    fn proven(order: OrderId, piece: u32, period: PeriodIndex);
    /// The piece's provider failed its audit in `period`: forfeits its
    /// unpaid periods through `period`, and queues the piece to move to
    /// another provider (a few a block, see `RepairsPerBlock`) when the
    /// provider showed it does not hold it (`lost`: a proof that does not
    /// verify) or after `FailuresBeforeRepair` failures in a row.
    fn failed(order: OrderId, piece: u32, period: PeriodIndex, lost: bool);

    /// Gives every registered provider a piece of a live order, for the
    /// audit pallet's benchmarks.
    #[cfg(feature = "runtime-benchmarks")]
    fn spread_for_benchmark();
}

#[frame_support::pallet]
pub mod pallet {
    use super::*;
    use frame_support::pallet_prelude::*;
    use frame_support::traits::fungible::{self, Inspect, MutateHold};
    use frame_support::traits::tokens::Precision;
    use frame_system::pallet_prelude::*;
    use pallet_mosaic_providers::ProviderRegistry;
    use sp_runtime::traits::{SaturatedConversion, Saturating, Zero};

    /// The balance type of the currency.
    pub type BalanceOf<T> =
        <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
    /// An order as stored.
    pub type OrderOf<T> = Order<
        <T as frame_system::Config>::AccountId,
        BalanceOf<T>,
        BlockNumberFor<T>,
        <T as Config>::MaxCidLen,
        <T as Config>::MaxPieces,
        <T as Config>::MaxRecipients,
    >;
    /// A piece as stored.
    pub type PieceOf<T> = Piece<<T as frame_system::Config>::AccountId, BalanceOf<T>>;
    /// Piece roots as passed to `store`.
    pub type RootsOf<T> = BoundedVec<PieceRoot, <T as Config>::MaxPieces>;
    /// A CID as passed to `store`.
    pub type CidOf<T> = BoundedVec<u8, <T as Config>::MaxCidLen>;
    /// How an object is read, as passed to `store`.
    pub type AccessOf<T> = Access<<T as Config>::MaxRecipients>;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    /// The pallet's configuration. Test runtimes take defaults from
    /// [`config_preludes::TestDefaultConfig`] for all but the wiring
    /// (`Currency`, `Providers`, `OnPieceLeave`, `Randomness`).
    #[pallet::config(with_default)]
    pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
        /// The currency escrow and deposits are held in.
        #[pallet::no_default]
        type Currency: fungible::Inspect<Self::AccountId>
            + fungible::Mutate<Self::AccountId>
            + fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

        /// The runtime's hold reasons, which include this pallet's.
        #[pallet::no_default_bounds]
        type RuntimeHoldReason: From<HoldReason>;

        /// The provider registry.
        #[pallet::no_default]
        type Providers: ProviderRegistry<Self::AccountId, Balance = BalanceOf<Self>>;

        /// Told when a piece leaves its provider (the audit pallet).
        #[pallet::no_default]
        type OnPieceLeave: OnPieceLeave<Self::AccountId>;

        /// Randomness that no client can foresee when it signs an order:
        /// placement draws from it (the audit pallet's VRF accumulator).
        #[pallet::no_default]
        type Randomness: Get<[u8; 32]>;

        /// Blocks per audit period: the unit of payment.
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type PeriodLength: Get<BlockNumberFor<Self>>;

        /// Fewest periods an order may buy.
        #[pallet::constant]
        type MinPeriods: Get<u32>;

        /// Most periods an order may hold at once.
        #[pallet::constant]
        type MaxPeriods: Get<u32>;

        /// Blocks the providers have to confirm a new order.
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type ConfirmWindow: Get<BlockNumberFor<Self>>;

        /// Most pieces in one order: the largest `k + m`.
        #[pallet::constant]
        type MaxPieces: Get<u32>;

        /// Most readers an encrypted order's file key is wrapped to.
        #[pallet::constant]
        type MaxRecipients: Get<u32>;

        /// Longest CID in bytes.
        #[pallet::constant]
        type MaxCidLen: Get<u32>;

        /// Orders whose deadline or expiry may be queued at one block: a
        /// storage bound, set well above the orders one block's `store`
        /// calls can place (the hook's work is bounded by
        /// `DeadlineWeight`, not by this).
        #[pallet::constant]
        type MaxDeadlinesPerBlock: Get<u32>;

        /// Most weight a block's hook spends on deadlines and expiries;
        /// the rest wait for the next block. At least the weight of
        /// handling one order of `MaxPieces` pieces.
        #[pallet::constant]
        type DeadlineWeight: Get<Weight>;

        /// Pieces that failed their audit waiting to be moved.
        #[pallet::constant]
        type MaxFailedPieces: Get<u32>;

        /// Part of the stake backing a piece burnt when its provider lets a
        /// confirm deadline pass without confirming it.
        #[pallet::constant]
        type UnconfirmedSlash: Get<sp_runtime::Perbill>;

        /// Confirm deadlines a pending order gets (its unconfirmed pieces
        /// moved to others after each) before it is cancelled. At least one.
        #[pallet::constant]
        type ConfirmRounds: Get<u8>;

        /// Audits of a piece its provider may miss in a row before the piece
        /// moves (an offline spell is not a loss; a bad proof moves it at
        /// once). At least one.
        #[pallet::constant]
        type FailuresBeforeRepair: Get<u8>;

        /// Pieces reassigned per block at most.
        #[pallet::constant]
        type RepairsPerBlock: Get<u32>;

        /// Deposit per order for its records.
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type DepositBase: Get<BalanceOf<Self>>;

        /// Further deposit per piece record.
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type DepositPerPiece: Get<BalanceOf<Self>>;

        /// Further deposit per wrapped key.
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type DepositPerRecipient: Get<BalanceOf<Self>>;

        /// Weights of this pallet's calls.
        type WeightInfo: WeightInfo;
    }

    /// Defaults for [`Config`], taken with `#[derive_impl]`.
    pub mod config_preludes {
        use super::*;
        use frame_support::derive_impl;
        use frame_support::traits::{ConstU64, ConstU8};
        use sp_runtime::Perbill;

        /// [`TestDefaultConfig`]'s `PeriodLength`.
        pub const PERIOD: u64 = 10;
        /// [`TestDefaultConfig`]'s `ConfirmWindow`.
        pub const CONFIRM_WINDOW: u64 = 5;

        frame_support::parameter_types! {
            /// [`TestDefaultConfig`]'s `DeadlineWeight`: no bound on the
            /// hook's work.
            pub const UnboundedDeadlineWeight: Weight = Weight::MAX;
            /// [`TestDefaultConfig`]'s `UnconfirmedSlash`: none.
            pub const NoUnconfirmedSlash: Perbill = Perbill::zero();
        }

        /// The market of the Mosaic pallets' test runtimes (`u64` balances
        /// and block numbers, as `frame_system`'s and `pallet_balances`'
        /// test preludes have them). A test runtime states `Currency`,
        /// `Providers`, `OnPieceLeave` and `Randomness`, and what it changes.
        pub struct TestDefaultConfig;

        #[derive_impl(frame_system::config_preludes::TestDefaultConfig, no_aggregated_types)]
        impl frame_system::DefaultConfig for TestDefaultConfig {}

        #[frame_support::register_default_impl(TestDefaultConfig)]
        impl DefaultConfig for TestDefaultConfig {
            #[inject_runtime_type]
            type RuntimeHoldReason = ();
            type PeriodLength = ConstU64<PERIOD>;
            type MinPeriods = ConstU32<1>;
            type MaxPeriods = ConstU32<100>;
            type ConfirmWindow = ConstU64<CONFIRM_WINDOW>;
            type MaxPieces = ConstU32<16>;
            type MaxRecipients = ConstU32<2>;
            type MaxCidLen = ConstU32<64>;
            type MaxDeadlinesPerBlock = ConstU32<2>;
            type DeadlineWeight = UnboundedDeadlineWeight;
            type MaxFailedPieces = ConstU32<16>;
            type UnconfirmedSlash = NoUnconfirmedSlash;
            type ConfirmRounds = ConstU8<1>;
            type FailuresBeforeRepair = ConstU8<2>;
            type RepairsPerBlock = ConstU32<3>;
            type DepositBase = ConstU64<50>;
            type DepositPerPiece = ConstU64<2>;
            type DepositPerRecipient = ConstU64<3>;
            type WeightInfo = ();
        }
    }

    /// Why this pallet holds funds.
    #[pallet::composite_enum]
    pub enum HoldReason {
        /// Payment for storage not yet earned by providers.
        #[codec(index = 0)]
        Escrow,
        /// Deposit for an order's on-chain records.
        #[codec(index = 1)]
        Deposit,
        /// The owner's confirm bond, until its order goes live.
        #[codec(index = 2)]
        Bond,
    }

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A new order awaits confirmation.
        Stored {
            order: OrderId,
            owner: T::AccountId,
            pieces: u32,
            escrow: BalanceOf<T>,
        },
        /// A provider confirmed holding a piece.
        Confirmed {
            order: OrderId,
            piece: u32,
            provider: T::AccountId,
        },
        /// Every piece is confirmed; the order is paid for periods `start..end`.
        Live {
            order: OrderId,
            start: PeriodIndex,
            end: PeriodIndex,
        },
        /// More periods were bought.
        Extended {
            order: OrderId,
            end: PeriodIndex,
            escrow: BalanceOf<T>,
        },
        /// The file key was wrapped to one more reader.
        Shared { order: OrderId, recipients: u32 },
        /// A provider was paid for proven periods.
        Paid {
            order: OrderId,
            provider: T::AccountId,
            amount: BalanceOf<T>,
        },
        /// An order ended and its owner got back the unspent escrow and deposit.
        Ended {
            order: OrderId,
            reason: EndReason,
            refund: BalanceOf<T>,
        },
        /// A piece moved to another provider, which must rebuild and confirm it.
        Reassigned {
            order: OrderId,
            piece: u32,
            from: T::AccountId,
            to: T::AccountId,
        },
        /// A provider let a confirm deadline pass without confirming its
        /// piece: its bond `slashed`, the owner's `forfeited` (both burnt;
        /// none of the owner's for a repaired piece), and the piece queued
        /// to move.
        Unconfirmed {
            order: OrderId,
            piece: u32,
            provider: T::AccountId,
            slashed: BalanceOf<T>,
            forfeited: BalanceOf<T>,
        },
        /// No provider could take a piece that had to move (its provider
        /// leaving, or failing its audit); it stays put.
        RepairFailed {
            order: OrderId,
            piece: u32,
            provider: T::AccountId,
        },
    }

    /// Why an order ended.
    #[derive(
        Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo,
    )]
    pub enum EndReason {
        /// Not confirmed in time.
        Unconfirmed,
        /// Deleted by its owner.
        Deleted,
        /// Its last period passed.
        Expired,
    }

    #[pallet::error]
    pub enum Error<T> {
        /// No order with this id.
        UnknownOrder,
        /// No piece with this number in the order.
        UnknownPiece,
        /// Only the order's owner may do this.
        NotOwner,
        /// The caller is not the provider assigned to this piece.
        NotAssigned,
        /// The piece is already confirmed.
        AlreadyConfirmed,
        /// The coding parameters are out of bounds (see `mosaic_primitives::erasure`).
        InvalidCoding,
        /// The CID is not a CIDv1 over SHA-256 of raw or dag-pb data.
        InvalidCid,
        /// Zero bytes cannot be stored.
        EmptyObject,
        /// The object has more segments than a piece may hold
        /// (`mosaic_primitives::piece::MAX_SEGMENTS`); use larger segments.
        TooLarge,
        /// The number of piece roots differs from `k + m`.
        WrongPieceCount,
        /// `k + m` is above `MaxPieces`; use fewer shards.
        TooManyPieces,
        /// An encrypted order needs between one and `MaxRecipients` wrapped
        /// keys; a public one's DAG index must lie within the object, under
        /// a dag-pb root CID.
        InvalidAccess,
        /// Periods out of `MinPeriods..=MaxPeriods`.
        InvalidPeriods,
        /// Not enough active providers with room at or below the price offered
        /// to give each piece its own provider; offer a higher price, fewer
        /// pieces, or try later.
        NoProviders,
        /// The order is not live (pending orders cannot be extended).
        NotLive,
        /// The order is public; there is no key to share.
        NotEncrypted,
        /// The file key is already wrapped to `MaxRecipients` readers.
        TooManyRecipients,
        /// Too many orders already end in the block this one would; try another
        /// duration.
        TooManyDeadlines,
        /// An amount overflowed; the order is far too large or too long.
        Overflow,
    }

    /// The next order id.
    #[pallet::storage]
    pub type NextOrderId<T> = StorageValue<_, OrderId, ValueQuery>;

    /// Orders, with their pieces.
    #[pallet::storage]
    pub type Orders<T: Config> = StorageMap<_, Blake2_128Concat, OrderId, OrderOf<T>>;

    /// What each provider was paid from escrow so far, in all.
    #[pallet::storage]
    pub type Earned<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, BalanceOf<T>, ValueQuery>;

    /// Each provider's pieces as a dense list: `(provider, slot) -> (order, piece)`.
    #[pallet::storage]
    pub type ProviderPieces<T: Config> =
        StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, u32, (OrderId, u32)>;

    /// Length of each provider's piece list.
    #[pallet::storage]
    pub type ProviderPieceCount<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

    /// The cells of a Fenwick tree over each provider's piece list, slot `s`
    /// weighing the bytes of the piece in it (see
    /// [`pallet_mosaic_providers::fenwick`]); zero cells are not stored.
    #[pallet::storage]
    pub type PieceBytes<T: Config> =
        StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, u32, u128, ValueQuery>;

    /// The size of each provider's tree: a power of two, at least its list's
    /// length (it grows with the list and goes when the list empties).
    #[pallet::storage]
    pub type PieceTreeSize<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

    /// Providers holding at least one piece, as a dense list.
    #[pallet::storage]
    pub type Holders<T: Config> = StorageMap<_, Twox64Concat, u32, T::AccountId>;

    /// Length of the holder list.
    #[pallet::storage]
    pub type HolderCount<T: Config> = StorageValue<_, u32, ValueQuery>;

    /// Each holder's position in the holder list.
    #[pallet::storage]
    pub type HolderIndex<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u32>;

    /// Each owner's orders.
    #[pallet::storage]
    pub type OwnerOrders<T: Config> =
        StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, OrderId, ()>;

    /// The orders of each CID.
    #[pallet::storage]
    pub type CidOrders<T: Config> =
        StorageDoubleMap<_, Blake2_128Concat, CidOf<T>, Twox64Concat, OrderId, ()>;

    /// Orders with a deadline (pending) or an expiry (live) at a block.
    #[pallet::storage]
    pub type Deadlines<T: Config> = StorageMap<
        _,
        Twox64Concat,
        BlockNumberFor<T>,
        BoundedVec<OrderId, T::MaxDeadlinesPerBlock>,
        ValueQuery,
    >;

    /// The oldest block whose deadline list the hook has not finished,
    /// when the hook is behind (its lists held more than `DeadlineWeight`).
    #[pallet::storage]
    pub type DeadlineCursor<T: Config> = StorageValue<_, BlockNumberFor<T>>;

    /// Providers whose pieces are being moved away (unbonding or ejected:
    /// at most the registry's `MaxProviders`), each with where the repair
    /// stands in its list.
    #[pallet::storage]
    pub type Leaving<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, RepairCursor>;

    /// Pieces moved while their order is live, by the block their new
    /// provider must confirm them by: `(order, piece, provider)`. Moves
    /// happen only in repair passes, so a block holds at most
    /// `RepairsPerBlock`.
    #[pallet::storage]
    pub type RepairDeadlines<T: Config> = StorageMap<
        _,
        Twox64Concat,
        BlockNumberFor<T>,
        BoundedVec<(OrderId, u32, T::AccountId), T::RepairsPerBlock>,
        ValueQuery,
    >;

    /// Where the last repair pass stopped in `Leaving`: the raw key of the
    /// last provider it looked at, or none to start from the first.
    #[pallet::storage]
    pub type LeavingCursor<T: Config> = StorageValue<_, BoundedVec<u8, ConstU32<128>>>;

    /// Pieces that failed their audit, `(order, piece, provider)`, to move
    /// away from that provider; moved before the leaving providers' pieces.
    /// A piece that finds the queue full stays, and is queued again when it
    /// fails again.
    #[pallet::storage]
    pub type FailedPieces<T: Config> =
        StorageValue<_, BoundedVec<(OrderId, u32, T::AccountId), T::MaxFailedPieces>, ValueQuery>;

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn on_initialize(now: BlockNumberFor<T>) -> Weight {
            let mut weight = Self::handle_deadlines(now);
            // The block's repair deadlines, read and removed.
            weight.saturating_accrue(T::DbWeight::get().reads_writes(1, 1));
            for (order, piece, provider) in RepairDeadlines::<T>::take(now) {
                Self::repair_deadline(order, piece, &provider);
                weight.saturating_accrue(T::WeightInfo::unconfirmed(1));
            }
            let repaired = Self::repair(T::RepairsPerBlock::get());
            weight.saturating_add(T::WeightInfo::repair(repaired))
        }

        fn integrity_test() {
            assert!(
                !T::PeriodLength::get().is_zero(),
                "PeriodLength must be positive"
            );
            assert!(T::MinPeriods::get() > 0, "MinPeriods must be positive");
            assert!(
                T::MinPeriods::get() <= T::MaxPeriods::get(),
                "MinPeriods above MaxPeriods"
            );
            assert!(T::MaxPieces::get() >= 2, "MaxPieces below 1 + 1");
            assert!(
                Self::deadline_weight(T::MaxPieces::get()).all_lte(T::DeadlineWeight::get()),
                "DeadlineWeight below the handling of one order of MaxPieces pieces"
            );
            assert!(
                T::MaxRecipients::get() > 0,
                "MaxRecipients must be positive"
            );
            assert!(
                T::FailuresBeforeRepair::get() > 0,
                "FailuresBeforeRepair must be positive"
            );
            assert!(
                T::ConfirmRounds::get() > 0,
                "ConfirmRounds must be positive"
            );
        }

        #[cfg(feature = "try-runtime")]
        fn try_state(_: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Orders storage of an object; see the crate docs.
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::store(roots.len() as u32, access.recipients()))]
        // The arguments are the order's terms, each checked on its own; a
        // struct of them would only move the list into the call's type.
        #[allow(clippy::too_many_arguments)]
        pub fn store(
            origin: OriginFor<T>,
            cid: CidOf<T>,
            size: u64,
            coding: CodingParams,
            roots: RootsOf<T>,
            access: AccessOf<T>,
            periods: u32,
            max_price: BalanceOf<T>,
        ) -> DispatchResult {
            let owner = ensure_signed(origin)?;
            let parsed = mosaic_primitives::manifest::parse_object_cid(&cid)
                .ok_or(Error::<T>::InvalidCid)?;
            match &access {
                Access::Encrypted { keys, .. } => {
                    ensure!(!keys.is_empty(), Error::<T>::InvalidAccess)
                }
                // A DAG index lies within the object, under a dag-pb root.
                Access::Public { dag_index } => ensure!(
                    *dag_index == 0
                        || (*dag_index <= size
                            && parsed.codec() == mosaic_primitives::unixfs::DAG_PB_CODEC),
                    Error::<T>::InvalidAccess
                ),
            }
            // The call is weighed by `roots.len()`: check it against the
            // coding before placement draws a provider for every piece.
            let wanted = coding.total_shards();
            ensure!(
                wanted <= T::MaxPieces::get() as usize,
                Error::<T>::TooManyPieces
            );
            ensure!(roots.len() == wanted, Error::<T>::WrongPieceCount);
            let Quote {
                escrow,
                deposit,
                bond,
                piece_size,
                pieces,
            } = Self::quote_excluding(
                size,
                coding,
                access.recipients(),
                periods,
                max_price,
                core::slice::from_ref(&owner),
            )?;
            let id = NextOrderId::<T>::mutate(|next| {
                let id = *next;
                *next = next.saturating_add(1);
                id
            });
            let mut records = BoundedVec::new();
            for (number, (root, (provider, price))) in roots.iter().zip(pieces).enumerate() {
                T::Providers::reserve(&provider, piece_size)?;
                let slot = Self::push_provider_piece(&provider, id, number as u32, piece_size);
                records
                    .try_push(Piece {
                        root: *root,
                        provider,
                        price,
                        confirmed: false,
                        slot,
                        paid_until: 0,
                        failures: 0,
                    })
                    .map_err(|_| Error::<T>::TooManyPieces)?;
            }
            let count = records.len() as u32;
            T::Currency::hold(&HoldReason::Escrow.into(), &owner, escrow)?;
            T::Currency::hold(&HoldReason::Deposit.into(), &owner, deposit)?;
            T::Currency::hold(&HoldReason::Bond.into(), &owner, bond)?;
            let deadline =
                frame_system::Pallet::<T>::block_number().saturating_add(T::ConfirmWindow::get());
            let due = Self::schedule(deadline, id)?;
            OwnerOrders::<T>::insert(&owner, id, ());
            CidOrders::<T>::insert(&cid, id, ());
            Orders::<T>::insert(
                id,
                Order {
                    owner: owner.clone(),
                    cid,
                    size,
                    coding,
                    piece_size,
                    access,
                    periods,
                    state: OrderState::Pending { deadline },
                    due,
                    pieces: records,
                    confirmed: 0,
                    rounds: 0,
                    bond,
                    escrow,
                    deposit,
                },
            );
            Self::deposit_event(Event::Stored {
                order: id,
                owner,
                pieces: count,
                escrow,
            });
            Ok(())
        }

        /// The assigned provider declares that it holds the piece.
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::confirm())]
        pub fn confirm(origin: OriginFor<T>, order: OrderId, piece: u32) -> DispatchResult {
            let provider = ensure_signed(origin)?;
            let mut record = Orders::<T>::get(order).ok_or(Error::<T>::UnknownOrder)?;
            let current = Self::current_period();
            let state = record.state;
            let entry = record
                .pieces
                .get_mut(piece as usize)
                .ok_or(Error::<T>::UnknownPiece)?;
            ensure!(entry.provider == provider, Error::<T>::NotAssigned);
            ensure!(!entry.confirmed, Error::<T>::AlreadyConfirmed);
            entry.confirmed = true;
            if let OrderState::Live { start, .. } = state {
                // A repaired piece earns from the next period on.
                entry.paid_until = current.saturating_add(1).max(start);
            }
            record.confirmed = record.confirmed.saturating_add(1);
            Self::deposit_event(Event::Confirmed {
                order,
                piece,
                provider,
            });
            if record.confirmed == record.pieces.len() as u32 {
                if let OrderState::Pending { .. } = record.state {
                    Self::unschedule(record.due, order);
                    let start = current.saturating_add(1);
                    let end = start.saturating_add(record.periods);
                    record.due = Self::schedule_expiry(order, end)?;
                    record.state = OrderState::Live { start, end };
                    let _ = T::Currency::release(
                        &HoldReason::Bond.into(),
                        &record.owner,
                        record.bond,
                        Precision::BestEffort,
                    );
                    record.bond = Zero::zero();
                    Self::deposit_event(Event::Live { order, start, end });
                }
            }
            Orders::<T>::insert(order, record);
            Ok(())
        }

        /// Buys `periods` more periods of a live order at the recorded prices.
        #[pallet::call_index(2)]
        #[pallet::weight(T::WeightInfo::extend(T::MaxPieces::get()))]
        pub fn extend(
            origin: OriginFor<T>,
            order: OrderId,
            periods: u32,
        ) -> DispatchResultWithPostInfo {
            let owner = ensure_signed(origin)?;
            let mut record = Orders::<T>::get(order).ok_or(Error::<T>::UnknownOrder)?;
            ensure!(record.owner == owner, Error::<T>::NotOwner);
            let OrderState::Live { start, end } = record.state else {
                return Err(Error::<T>::NotLive.into());
            };
            let total = record.periods.saturating_add(periods);
            ensure!(
                periods > 0 && total <= T::MaxPeriods::get(),
                Error::<T>::InvalidPeriods
            );
            let extra = Self::escrow_for(
                record.piece_size,
                record.pieces.iter().map(|p| p.price),
                periods,
            )?;
            T::Currency::hold(&HoldReason::Escrow.into(), &owner, extra)?;
            let new_end = end.saturating_add(periods);
            Self::unschedule(record.due, order);
            record.due = Self::schedule_expiry(order, new_end)?;
            record.periods = total;
            record.escrow = record.escrow.saturating_add(extra);
            record.state = OrderState::Live {
                start,
                end: new_end,
            };
            let pieces = record.pieces.len() as u32;
            Orders::<T>::insert(order, record);
            Self::deposit_event(Event::Extended {
                order,
                end: new_end,
                escrow: extra,
            });
            Ok(Some(T::WeightInfo::extend(pieces)).into())
        }

        /// Ends an order: the escrow providers have not earned by their
        /// proofs so far and the deposit go back to the owner.
        #[pallet::call_index(3)]
        #[pallet::weight(T::WeightInfo::delete(T::MaxPieces::get()))]
        pub fn delete(origin: OriginFor<T>, order: OrderId) -> DispatchResultWithPostInfo {
            let owner = ensure_signed(origin)?;
            let record = Orders::<T>::get(order).ok_or(Error::<T>::UnknownOrder)?;
            ensure!(record.owner == owner, Error::<T>::NotOwner);
            let pieces = record.pieces.len() as u32;
            Self::unschedule(record.due, order);
            Self::end(order, record, EndReason::Deleted);
            Ok(Some(T::WeightInfo::delete(pieces)).into())
        }

        /// Records the file key wrapped to one more reader, who can then get
        /// the object with its own key. Holds `DepositPerRecipient`.
        #[pallet::call_index(5)]
        #[pallet::weight(T::WeightInfo::share())]
        pub fn share(origin: OriginFor<T>, order: OrderId, key: WrappedKey) -> DispatchResult {
            let owner = ensure_signed(origin)?;
            let mut record = Orders::<T>::get(order).ok_or(Error::<T>::UnknownOrder)?;
            ensure!(record.owner == owner, Error::<T>::NotOwner);
            let Access::Encrypted { keys, .. } = &mut record.access else {
                return Err(Error::<T>::NotEncrypted.into());
            };
            keys.try_push(key)
                .map_err(|_| Error::<T>::TooManyRecipients)?;
            let recipients = keys.len() as u32;
            let deposit = T::DepositPerRecipient::get();
            T::Currency::hold(&HoldReason::Deposit.into(), &owner, deposit)?;
            record.deposit = record.deposit.saturating_add(deposit);
            Orders::<T>::insert(order, record);
            Self::deposit_event(Event::Shared { order, recipients });
            Ok(())
        }
    }

    impl<T: Config> Pallet<T> {
        /// What `store` would assign and hold for such an object now, with
        /// its file key wrapped to `recipients` readers. (`store` never
        /// draws the order's owner, which a quote does not know.)
        pub fn quote(
            size: u64,
            coding: CodingParams,
            recipients: u32,
            periods: u32,
            max_price: BalanceOf<T>,
        ) -> Result<Quote<T::AccountId, BalanceOf<T>>, DispatchError> {
            Self::quote_excluding(size, coding, recipients, periods, max_price, &[])
        }

        /// One page of `owner`'s orders after `after` (an order id from the
        /// previous page), at most `limit` (capped at [`MAX_PAGE`]).
        pub fn orders_of(owner: &T::AccountId, after: Option<OrderId>, limit: u32) -> Vec<OrderId> {
            let limit = limit.min(MAX_PAGE) as usize;
            match after {
                None => OwnerOrders::<T>::iter_key_prefix(owner)
                    .take(limit)
                    .collect(),
                Some(after) => OwnerOrders::<T>::iter_key_prefix_from(
                    owner,
                    OwnerOrders::<T>::hashed_key_for(owner, after),
                )
                .take(limit)
                .collect(),
            }
        }

        /// One page of the orders of `cid`, as [`Self::orders_of`] pages.
        pub fn orders_by_cid(cid: &CidOf<T>, after: Option<OrderId>, limit: u32) -> Vec<OrderId> {
            let limit = limit.min(MAX_PAGE) as usize;
            match after {
                None => CidOrders::<T>::iter_key_prefix(cid).take(limit).collect(),
                Some(after) => CidOrders::<T>::iter_key_prefix_from(
                    cid,
                    CidOrders::<T>::hashed_key_for(cid, after),
                )
                .take(limit)
                .collect(),
            }
        }

        /// The pieces `provider` holds from slot `from` on, at most `limit`
        /// (capped at [`MAX_PAGE`]): `(order, piece)`.
        pub fn pieces_of(provider: &T::AccountId, from: u32, limit: u32) -> Vec<(OrderId, u32)> {
            let end = ProviderPieceCount::<T>::get(provider)
                .min(from.saturating_add(limit.min(MAX_PAGE)));
            (from..end)
                .filter_map(|slot| ProviderPieces::<T>::get(provider, slot))
                .collect()
        }

        /// The current audit period.
        pub fn current_period() -> PeriodIndex {
            let now = frame_system::Pallet::<T>::block_number();
            (now / T::PeriodLength::get()).saturated_into()
        }

        /// First block of a period.
        pub fn period_start(period: PeriodIndex) -> BlockNumberFor<T> {
            T::PeriodLength::get().saturating_mul(period.into())
        }
    }
}
