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
//! readers per order (`MaxRecipients`), deadlines per block, the queue of
//! failed pieces (`MaxFailedPieces`), the CID length; the leaving providers
//! are at most the registry's. Every block's hook is bounded too: at most
//! `MaxDeadlinesPerBlock` orders of at most `MaxEndingPiecesPerBlock` pieces
//! together end in one block (an order whose block is full is queued at the
//! next one with room), and a repair pass moves at most `RepairsPerBlock`
//! pieces.

pub use pallet::*;

use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{frame_support, frame_system, sp_runtime};
use scale_info::TypeInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
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
    /// Stored as is; its CID is the IPFS CID of its bytes.
    Public,
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
            Access::Public => 0,
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
    use frame_support::traits::fungible::{self, Inspect, InspectHold, MutateHold};
    use frame_support::traits::tokens::{Fortitude, Precision, Restriction};
    use frame_system::pallet_prelude::*;
    use pallet_mosaic_providers::{fenwick, OnProviderLeave, ProviderRegistry};
    use sp_runtime::traits::{Hash, SaturatedConversion, Saturating, Zero};

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

    #[pallet::config]
    pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
        /// The currency escrow and deposits are held in.
        type Currency: fungible::Inspect<Self::AccountId>
            + fungible::Mutate<Self::AccountId>
            + fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

        /// The runtime's hold reasons, which include this pallet's.
        type RuntimeHoldReason: From<HoldReason>;

        /// The provider registry.
        type Providers: ProviderRegistry<Self::AccountId, Balance = BalanceOf<Self>>;

        /// Told when a piece leaves its provider (the audit pallet).
        type OnPieceLeave: OnPieceLeave<Self::AccountId>;

        /// Randomness that no client can foresee when it signs an order:
        /// placement draws from it (the audit pallet's VRF accumulator).
        type Randomness: Get<[u8; 32]>;

        /// Blocks per audit period: the unit of payment.
        #[pallet::constant]
        type PeriodLength: Get<BlockNumberFor<Self>>;

        /// Fewest periods an order may buy.
        #[pallet::constant]
        type MinPeriods: Get<u32>;

        /// Most periods an order may hold at once.
        #[pallet::constant]
        type MaxPeriods: Get<u32>;

        /// Blocks the providers have to confirm a new order.
        #[pallet::constant]
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

        /// Orders whose deadline or expiry may fall in one block.
        #[pallet::constant]
        type MaxDeadlinesPerBlock: Get<u32>;

        /// Pieces of all the orders ending in one block together: the block
        /// hook's work is bounded by it. At least `MaxPieces`.
        #[pallet::constant]
        type MaxEndingPiecesPerBlock: Get<u32>;

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
        type DepositBase: Get<BalanceOf<Self>>;

        /// Further deposit per piece record.
        #[pallet::constant]
        type DepositPerPiece: Get<BalanceOf<Self>>;

        /// Further deposit per wrapped key.
        #[pallet::constant]
        type DepositPerRecipient: Get<BalanceOf<Self>>;

        /// Weights of this pallet's calls.
        type WeightInfo: WeightInfo;
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
        /// keys; a public one none.
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

    /// Pieces of the orders in each block's deadline list, together.
    #[pallet::storage]
    pub type DeadlinePieces<T: Config> =
        StorageMap<_, Twox64Concat, BlockNumberFor<T>, u32, ValueQuery>;

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
            // The block's deadline list, read and removed.
            let mut weight = T::DbWeight::get().reads_writes(3, 3);
            DeadlinePieces::<T>::remove(now);
            for order in Deadlines::<T>::take(now) {
                let pieces = Self::end_due(order);
                // A pending order's deadline slashes its unconfirmed
                // providers instead of freeing pieces: charged as an end
                // again (each slash, like each freed piece, moves a
                // provider's weight in the registry). An allowance, not
                // measured yet.
                weight.saturating_accrue(T::WeightInfo::end(pieces).saturating_mul(2));
            }
            for (order, piece, provider) in RepairDeadlines::<T>::take(now) {
                Self::repair_deadline(order, piece, &provider);
                weight.saturating_accrue(T::WeightInfo::end(1).saturating_mul(2));
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
                T::MaxEndingPiecesPerBlock::get() >= T::MaxPieces::get(),
                "MaxEndingPiecesPerBlock below MaxPieces: the widest orders could never end"
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
            mosaic_primitives::manifest::parse_object_cid(&cid).ok_or(Error::<T>::InvalidCid)?;
            if let Access::Encrypted { keys, .. } = &access {
                ensure!(!keys.is_empty(), Error::<T>::InvalidAccess);
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
            let due = Self::schedule(deadline, id, count)?;
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
                    let pieces = record.pieces.len() as u32;
                    Self::unschedule(record.due, order, pieces);
                    let start = current.saturating_add(1);
                    let end = start.saturating_add(record.periods);
                    record.due = Self::schedule_expiry(order, end, pieces)?;
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
            let pieces = record.pieces.len() as u32;
            Self::unschedule(record.due, order, pieces);
            record.due = Self::schedule_expiry(order, new_end, pieces)?;
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
            Self::unschedule(record.due, order, pieces);
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

        /// A quote whose providers are none of `exclude`.
        fn quote_excluding(
            size: u64,
            coding: CodingParams,
            recipients: u32,
            periods: u32,
            max_price: BalanceOf<T>,
            exclude: &[T::AccountId],
        ) -> Result<Quote<T::AccountId, BalanceOf<T>>, DispatchError> {
            use mosaic_primitives::piece::LayoutError;
            let layout = Layout::new(coding, size).map_err(|e| match e {
                LayoutError::Params(_) => Error::<T>::InvalidCoding,
                LayoutError::Empty => Error::<T>::EmptyObject,
                LayoutError::TooManySegments { .. } => Error::<T>::TooLarge,
            })?;
            ensure!(
                (T::MinPeriods::get()..=T::MaxPeriods::get()).contains(&periods),
                Error::<T>::InvalidPeriods
            );
            ensure!(
                recipients <= T::MaxRecipients::get(),
                Error::<T>::InvalidAccess
            );
            let count = u32::from(layout.piece_count());
            ensure!(count <= T::MaxPieces::get(), Error::<T>::TooManyPieces);
            let piece_size = layout.piece_size();
            let seed = Self::placement_seed(&(NextOrderId::<T>::get(),));
            let pieces: Vec<_> = T::Providers::pick(&seed, count, piece_size, max_price, exclude)
                .into_iter()
                .map(|offer| (offer.who, offer.price))
                .collect();
            ensure!(pieces.len() as u32 == count, Error::<T>::NoProviders);
            let escrow = Self::escrow_for(piece_size, pieces.iter().map(|p| p.1), periods)?;
            let deposit = T::DepositBase::get()
                .saturating_add(T::DepositPerPiece::get().saturating_mul(count.into()))
                .saturating_add(T::DepositPerRecipient::get().saturating_mul(recipients.into()));
            Ok(Quote {
                escrow,
                deposit,
                bond: Self::bond(piece_size).saturating_mul(count.into()),
                piece_size,
                pieces,
            })
        }

        /// Randomness for a placement, from the chain's and `context`.
        fn placement_seed(context: &impl Encode) -> [u8; 32] {
            let hash = T::Hashing::hash_of(&(b"mosaic-placement", T::Randomness::get(), context));
            let mut seed = [0u8; 32];
            let bytes = hash.as_ref();
            let n = bytes.len().min(32);
            seed[..n].copy_from_slice(&bytes[..n]);
            seed
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

        /// Escrow for `size` bytes at `price` per byte per block for `periods`.
        pub(crate) fn cost(
            size: u64,
            price: BalanceOf<T>,
            periods: u32,
        ) -> Result<BalanceOf<T>, Error<T>> {
            let blocks: BalanceOf<T> = T::PeriodLength::get()
                .saturated_into::<u64>()
                .saturated_into();
            let size: BalanceOf<T> = size.saturated_into();
            let periods: BalanceOf<T> = periods.into();
            size.checked_mul(&price)
                .and_then(|x| x.checked_mul(&blocks))
                .and_then(|x| x.checked_mul(&periods))
                .ok_or(Error::<T>::Overflow)
        }

        /// Escrow for pieces of `piece_size` bytes at `prices` for `periods`.
        fn escrow_for(
            piece_size: u64,
            prices: impl Iterator<Item = BalanceOf<T>>,
            periods: u32,
        ) -> Result<BalanceOf<T>, Error<T>> {
            let mut escrow = BalanceOf::<T>::zero();
            for price in prices {
                escrow = escrow
                    .checked_add(&Self::cost(piece_size, price, periods)?)
                    .ok_or(Error::<T>::Overflow)?;
            }
            Ok(escrow)
        }

        /// Appends piece `piece` of `order`, of `bytes` bytes, to
        /// `provider`'s list; returns its slot.
        fn push_provider_piece(
            provider: &T::AccountId,
            order: OrderId,
            piece: u32,
            bytes: u64,
        ) -> u32 {
            let slot = ProviderPieceCount::<T>::get(provider);
            ProviderPieces::<T>::insert(provider, slot, (order, piece));
            ProviderPieceCount::<T>::insert(provider, slot + 1);
            let mut tree = PieceTree::<T>(provider);
            let size = fenwick::grow(&mut tree, PieceTreeSize::<T>::get(provider), slot);
            PieceTreeSize::<T>::insert(provider, size);
            fenwick::add(&mut tree, size, slot, u128::from(bytes));
            if slot == 0 {
                let index = HolderCount::<T>::get();
                Holders::<T>::insert(index, provider);
                HolderIndex::<T>::insert(provider, index);
                HolderCount::<T>::put(index + 1);
            }
            slot
        }

        /// Takes a provider that holds nothing any more off the holder list,
        /// moving the last holder into its place.
        fn remove_holder(provider: &T::AccountId) {
            let Some(index) = HolderIndex::<T>::take(provider) else {
                return;
            };
            let last = HolderCount::<T>::get().saturating_sub(1);
            if index != last {
                if let Some(moved) = Holders::<T>::get(last) {
                    Holders::<T>::insert(index, &moved);
                    HolderIndex::<T>::insert(&moved, index);
                }
            }
            Holders::<T>::remove(last);
            HolderCount::<T>::put(last);
        }

        /// Removes a slot from a provider's list by moving the last one in.
        /// `record` is the order being changed (`order`), which is written
        /// back by the caller, so a moved piece of the same order is updated
        /// there rather than in storage.
        fn remove_provider_piece(
            provider: &T::AccountId,
            slot: u32,
            order: OrderId,
            record: &mut OrderOf<T>,
        ) {
            let last = ProviderPieceCount::<T>::get(provider).saturating_sub(1);
            let size = PieceTreeSize::<T>::get(provider);
            let mut tree = PieceTree::<T>(provider);
            fenwick::add(
                &mut tree,
                size,
                slot,
                u128::from(record.piece_size).wrapping_neg(),
            );
            if slot != last {
                Self::rewind_repair(provider, slot);
                if let Some((moved_order, moved)) = ProviderPieces::<T>::get(provider, last) {
                    ProviderPieces::<T>::insert(provider, slot, (moved_order, moved));
                    let moved_bytes = if moved_order == order {
                        if let Some(piece) = record.pieces.get_mut(moved as usize) {
                            piece.slot = slot;
                        }
                        record.piece_size
                    } else {
                        Orders::<T>::mutate(moved_order, |o| {
                            let o = o.as_mut()?;
                            o.pieces.get_mut(moved as usize)?.slot = slot;
                            Some(o.piece_size)
                        })
                        .unwrap_or_default()
                    };
                    let moved_bytes = u128::from(moved_bytes);
                    fenwick::add(&mut tree, size, last, moved_bytes.wrapping_neg());
                    fenwick::add(&mut tree, size, slot, moved_bytes);
                }
            }
            ProviderPieces::<T>::remove(provider, last);
            if last == 0 {
                ProviderPieceCount::<T>::remove(provider);
                PieceTreeSize::<T>::remove(provider);
                Self::remove_holder(provider);
            } else {
                ProviderPieceCount::<T>::insert(provider, last);
            }
        }

        /// A leaving provider's slots below its repair cursor hold pieces
        /// already tried. Freeing one of them moves an untried piece (the
        /// last) there, which the repair would then skip: the cursor goes
        /// back to the freed slot, and the pieces after it are tried again.
        fn rewind_repair(provider: &T::AccountId, slot: u32) {
            Leaving::<T>::mutate_exists(provider, |entry| {
                if let Some(entry) = entry {
                    entry.slot = entry.slot.min(slot);
                }
            });
        }

        /// Queues `order` of `pieces` pieces at the first block from `at`
        /// with room for one more order and its pieces, trying a few;
        /// returns that block.
        fn schedule(
            at: BlockNumberFor<T>,
            order: OrderId,
            pieces: u32,
        ) -> Result<BlockNumberFor<T>, DispatchError> {
            let mut block = at;
            for _ in 0..SCHEDULE_TRIES {
                let ending = DeadlinePieces::<T>::get(block).saturating_add(pieces);
                if ending <= T::MaxEndingPiecesPerBlock::get()
                    && Deadlines::<T>::try_mutate(block, |due| due.try_push(order)).is_ok()
                {
                    DeadlinePieces::<T>::insert(block, ending);
                    return Ok(block);
                }
                block = block.saturating_add(1u32.into());
            }
            Err(Error::<T>::TooManyDeadlines.into())
        }

        /// Queues the expiry of `order`, whose last period is `end - 1`: at a
        /// block of period `end` that the order's id picks, so that orders
        /// ending together are spread over the whole period rather than
        /// crowding its first block, or of a later period if those are full.
        fn schedule_expiry(
            order: OrderId,
            end: PeriodIndex,
            pieces: u32,
        ) -> Result<BlockNumberFor<T>, DispatchError> {
            let length: u64 = T::PeriodLength::get().saturated_into();
            let offset: BlockNumberFor<T> = (order % length.max(1)).saturated_into();
            let mut last = Err(Error::<T>::TooManyDeadlines.into());
            for late in 0..EXPIRY_PERIODS {
                let at = Self::period_start(end.saturating_add(late)).saturating_add(offset);
                last = Self::schedule(at, order, pieces);
                if last.is_ok() {
                    break;
                }
            }
            last
        }

        fn unschedule(at: BlockNumberFor<T>, order: OrderId, pieces: u32) {
            Deadlines::<T>::mutate(at, |due| due.retain(|o| *o != order));
            let left = DeadlinePieces::<T>::get(at).saturating_sub(pieces);
            if left == 0 {
                DeadlinePieces::<T>::remove(at);
            } else {
                DeadlinePieces::<T>::insert(at, left);
            }
        }

        /// Settles piece `number`'s periods before `upto`: paid to its
        /// provider if `pay`, else forfeited (left in escrow for the owner).
        fn settle(
            order: OrderId,
            record: &mut OrderOf<T>,
            number: usize,
            upto: PeriodIndex,
            pay: bool,
        ) {
            let OrderState::Live { start, end } = record.state else {
                return;
            };
            let piece_size = record.piece_size;
            let Some(piece) = record.pieces.get_mut(number) else {
                return;
            };
            // Nothing before the order's first period is ever owed.
            let from = piece.paid_until.max(start);
            let upto = upto.min(end);
            if !piece.confirmed || from >= upto {
                return;
            }
            piece.paid_until = upto;
            if !pay {
                return;
            }
            let Ok(amount) = Self::cost(piece_size, piece.price, upto - from) else {
                return;
            };
            let amount = amount.min(record.escrow);
            if amount.is_zero() {
                return;
            }
            let provider = piece.provider.clone();
            let paid = T::Currency::transfer_on_hold(
                &HoldReason::Escrow.into(),
                &record.owner,
                &provider,
                amount,
                Precision::Exact,
                Restriction::Free,
                Fortitude::Force,
            );
            if paid.is_ok() {
                record.escrow = record.escrow.saturating_sub(amount);
                Earned::<T>::mutate(&provider, |total| *total = total.saturating_add(amount));
                Self::deposit_event(Event::Paid {
                    order,
                    provider,
                    amount,
                });
            }
        }

        /// Handles a pending order's confirm deadline or ends a live one at
        /// its expiry; returns how many pieces it had.
        fn end_due(order: OrderId) -> u32 {
            let Some(record) = Orders::<T>::get(order) else {
                return 0;
            };
            let pieces = record.pieces.len() as u32;
            match record.state {
                OrderState::Pending { .. } => Self::confirm_deadline(order, record),
                OrderState::Live { .. } => Self::end(order, record, EndReason::Expired),
            }
            pieces
        }

        /// A pending order's confirm deadline: each provider that did not
        /// confirm forfeits its bond, the owner its share, and the piece is
        /// queued to move; the order gets another window (the owner's share
        /// held again), or is cancelled after `ConfirmRounds` or when the
        /// owner cannot put its share up again.
        fn confirm_deadline(order: OrderId, mut record: OrderOf<T>) {
            record.rounds = record.rounds.saturating_add(1);
            let late: Vec<(u32, T::AccountId)> = record
                .pieces
                .iter()
                .enumerate()
                .filter(|(_, piece)| !piece.confirmed)
                .map(|(number, piece)| (number as u32, piece.provider.clone()))
                .collect();
            let share = Self::bond(record.piece_size);
            let mut lost = BalanceOf::<T>::zero();
            for (number, provider) in &late {
                // The owner's share goes too: the chain cannot tell a
                // provider that did not store from an owner that did not
                // upload, so neither gains by the other's failure.
                let forfeited = T::Currency::burn_held(
                    &HoldReason::Bond.into(),
                    &record.owner,
                    share.min(record.bond),
                    Precision::BestEffort,
                    Fortitude::Force,
                )
                .unwrap_or_else(|_| Zero::zero());
                record.bond = record.bond.saturating_sub(forfeited);
                lost = lost.saturating_add(forfeited);
                Self::slash_unconfirmed(order, *number, provider, record.piece_size, forfeited);
            }
            let deadline =
                frame_system::Pallet::<T>::block_number().saturating_add(T::ConfirmWindow::get());
            let pieces = record.pieces.len() as u32;
            // Another round puts the owner's bond back up for the pieces
            // that move: every round costs both sides alike.
            let another_round = record.rounds < T::ConfirmRounds::get()
                && T::Currency::hold(&HoldReason::Bond.into(), &record.owner, lost).is_ok();
            if another_round {
                record.bond = record.bond.saturating_add(lost);
            }
            let rescheduled = another_round
                .then(|| Self::schedule(deadline, order, pieces).ok())
                .flatten();
            let Some(due) = rescheduled else {
                Self::end(order, record, EndReason::Unconfirmed);
                return;
            };
            record.state = OrderState::Pending { deadline };
            record.due = due;
            Orders::<T>::insert(order, record);
            for (number, provider) in late {
                Self::queue_move(order, number, provider);
            }
        }

        /// A repaired piece's confirm deadline: if `provider` still holds it
        /// unconfirmed, it forfeits its bond and the piece moves again.
        fn repair_deadline(order: OrderId, piece: u32, provider: &T::AccountId) {
            let Some(record) = Orders::<T>::get(order) else {
                return;
            };
            let late = record
                .pieces
                .get(piece as usize)
                .is_some_and(|p| p.provider == *provider && !p.confirmed);
            if late {
                Self::slash_unconfirmed(order, piece, provider, record.piece_size, Zero::zero());
                Self::queue_move(order, piece, provider.clone());
            }
        }

        /// The bond each side puts up for one piece of `piece_size` bytes:
        /// `UnconfirmedSlash` of the stake backing it.
        fn bond(piece_size: u64) -> BalanceOf<T> {
            T::UnconfirmedSlash::get() * T::Providers::stake_for(piece_size)
        }

        /// Burns the bond of `provider`, which did not confirm piece `piece`
        /// of `order` (of `bytes` bytes) in time, the owner having
        /// `forfeited` its share.
        fn slash_unconfirmed(
            order: OrderId,
            piece: u32,
            provider: &T::AccountId,
            bytes: u64,
            forfeited: BalanceOf<T>,
        ) {
            let slashed = T::Providers::slash(provider, bytes, T::UnconfirmedSlash::get());
            Self::deposit_event(Event::Unconfirmed {
                order,
                piece,
                provider: provider.clone(),
                slashed,
                forfeited,
            });
        }

        /// Queues piece `piece` of `order` to move away from `provider` in a
        /// repair pass; reports it when the queue is full (it stays, and is
        /// queued again at its next failure).
        fn queue_move(order: OrderId, piece: u32, provider: T::AccountId) {
            let queued = FailedPieces::<T>::mutate(|queue| {
                let entry = (order, piece, provider.clone());
                queue.contains(&entry) || queue.try_push(entry).is_ok()
            });
            if !queued {
                Self::deposit_event(Event::RepairFailed {
                    order,
                    piece,
                    provider,
                });
            }
        }

        /// Frees every piece, refunds the escrow nobody earned by a proof
        /// and removes the order.
        fn end(order: OrderId, mut record: OrderOf<T>, reason: EndReason) {
            for number in 0..record.pieces.len() {
                let (provider, slot) = {
                    let piece = &record.pieces[number];
                    (piece.provider.clone(), piece.slot)
                };
                T::Providers::release(&provider, record.piece_size);
                Self::remove_provider_piece(&provider, slot, order, &mut record);
                T::OnPieceLeave::on_piece_leave(&provider, order, number as u32);
            }
            let refund = record.escrow;
            let _ = T::Currency::release(
                &HoldReason::Escrow.into(),
                &record.owner,
                record.escrow,
                Precision::BestEffort,
            );
            let _ = T::Currency::release(
                &HoldReason::Deposit.into(),
                &record.owner,
                record.deposit,
                Precision::BestEffort,
            );
            let _ = T::Currency::release(
                &HoldReason::Bond.into(),
                &record.owner,
                record.bond,
                Precision::BestEffort,
            );
            OwnerOrders::<T>::remove(&record.owner, order);
            CidOrders::<T>::remove(&record.cid, order);
            Orders::<T>::remove(order);
            Self::deposit_event(Event::Ended {
                order,
                reason,
                refund,
            });
        }

        /// Looks at up to `budget` pieces that failed their audit, then of
        /// leaving providers (or ends of their lists, each a read too),
        /// moving those it can; returns how many it looked at. A failed
        /// piece no provider can take stays where it is (and is queued again
        /// when it fails again). Leaving providers take turns, one piece
        /// each, from where the last pass stopped; a provider whose list
        /// was tried to its end without emptying starts over, so a piece
        /// nobody could take is tried again until some provider can (it is
        /// reported the first time only).
        pub(crate) fn repair(budget: u32) -> u32 {
            let mut done = 0;
            let mut failed = FailedPieces::<T>::get();
            if !failed.is_empty() {
                let take = (budget as usize).min(failed.len());
                for (order, piece, provider) in failed.drain(..take) {
                    done += 1;
                    if Self::holder_of(order, piece).as_ref() == Some(&provider)
                        && !Self::reassign(order, piece)
                    {
                        Self::deposit_event(Event::RepairFailed {
                            order,
                            piece,
                            provider,
                        });
                    }
                }
                FailedPieces::<T>::put(failed);
            }
            while done < budget {
                // A turn of up to the budget left, read before anything
                // changes: a map changed under its iterator may skip keys.
                let wanted = (budget - done) as usize;
                let resumed = LeavingCursor::<T>::take();
                let from_start = resumed.is_none();
                let mut turn = match resumed {
                    Some(key) => Leaving::<T>::iter_from(key.into_inner()),
                    None => Leaving::<T>::iter(),
                };
                let batch: Vec<_> = turn.by_ref().take(wanted).collect();
                if batch.len() == wanted {
                    if let Ok(key) = BoundedVec::try_from(turn.last_raw_key().to_vec()) {
                        LeavingCursor::<T>::put(key);
                    }
                }
                if batch.is_empty() {
                    if from_start {
                        break;
                    }
                    // Past the last one: wrap around to the first.
                    continue;
                }
                for (leaving, cursor) in batch {
                    done += 1;
                    Self::repair_one(&leaving, cursor);
                }
            }
            done
        }

        /// Tries the piece at `leaving`'s cursor: moves it (its slot is then
        /// refilled, so the cursor stays) or steps past it. At the end of
        /// the list the provider is done if it holds nothing, else it starts
        /// over.
        fn repair_one(leaving: &T::AccountId, mut cursor: RepairCursor) {
            match ProviderPieces::<T>::get(leaving, cursor.slot) {
                Some((order, piece)) => {
                    if !Self::reassign(order, piece) {
                        cursor.slot += 1;
                        if !cursor.retrying {
                            Self::deposit_event(Event::RepairFailed {
                                order,
                                piece,
                                provider: leaving.clone(),
                            });
                        }
                    }
                    Leaving::<T>::insert(leaving, cursor);
                }
                None if ProviderPieceCount::<T>::get(leaving) == 0 => {
                    Leaving::<T>::remove(leaving);
                }
                None => Leaving::<T>::insert(
                    leaving,
                    RepairCursor {
                        slot: 0,
                        retrying: true,
                    },
                ),
            }
        }

        /// Gives one piece to a new provider, drawn like a placement and
        /// distinct from the order's owner and other providers; false if
        /// none can take it. Its periods since it was last settled are not
        /// paid: nobody proved them.
        fn reassign(order: OrderId, number: u32) -> bool {
            let Some(mut record) = Orders::<T>::get(order) else {
                return false;
            };
            let Some(piece) = record.pieces.get(number as usize).cloned() else {
                return false;
            };
            let holders: Vec<T::AccountId> = record
                .pieces
                .iter()
                .map(|p| p.provider.clone())
                .chain([record.owner.clone()])
                .collect();
            let seed =
                Self::placement_seed(&(order, number, frame_system::Pallet::<T>::block_number()));
            let Some(to) = T::Providers::pick(&seed, 1, record.piece_size, piece.price, &holders)
                .into_iter()
                .map(|o| o.who)
                .next()
            else {
                return false;
            };
            if T::Providers::reserve(&to, record.piece_size).is_err() {
                return false;
            }
            Self::settle(
                order,
                &mut record,
                number as usize,
                Self::current_period(),
                false,
            );
            let from = piece.provider.clone();
            T::Providers::release(&from, record.piece_size);
            Self::remove_provider_piece(&from, piece.slot, order, &mut record);
            T::OnPieceLeave::on_piece_leave(&from, order, number);
            let slot = Self::push_provider_piece(&to, order, number, record.piece_size);
            if record.pieces[number as usize].confirmed {
                record.confirmed = record.confirmed.saturating_sub(1);
            }
            let entry = &mut record.pieces[number as usize];
            entry.slot = slot;
            entry.provider = to.clone();
            entry.confirmed = false;
            entry.failures = 0;
            if let OrderState::Live { .. } = record.state {
                // Moves happen only in repair passes, at most
                // `RepairsPerBlock` a block: the list has room.
                let by = frame_system::Pallet::<T>::block_number()
                    .saturating_add(T::ConfirmWindow::get());
                let _ = RepairDeadlines::<T>::try_mutate(by, |due| {
                    due.try_push((order, number, to.clone()))
                });
            }
            Orders::<T>::insert(order, record);
            Self::deposit_event(Event::Reassigned {
                order,
                piece: number,
                from,
                to,
            });
            true
        }

        /// Who holds piece `piece` of `order`, if the order exists.
        fn holder_of(order: OrderId, piece: u32) -> Option<T::AccountId> {
            Orders::<T>::get(order)?
                .pieces
                .get(piece as usize)
                .map(|p| p.provider.clone())
        }

        /// The piece in slot `slot` of `who`'s list, as the audit sees it.
        pub fn piece_ref(who: &T::AccountId, slot: u32) -> Option<PieceRef> {
            let (order, number) = ProviderPieces::<T>::get(who, slot)?;
            let record = Orders::<T>::get(order)?;
            let piece = record.pieces.get(number as usize)?;
            // Paid periods only: an order past its end waits for its expiry
            // block, and nobody answers for it meanwhile.
            let paid = matches!(
                record.state,
                OrderState::Live { end, .. } if Self::current_period() < end
            );
            Some(PieceRef {
                order,
                piece: number,
                root: piece.root,
                layout: record.layout().ok()?,
                auditable: paid && piece.confirmed,
            })
        }

        /// Checks the pallet's invariants: escrow and deposits held equal
        /// what the orders record, provider lists match the pieces, the
        /// holder list is dense and lists exactly the providers holding
        /// pieces, each provider's booked capacity equals the sizes of its
        /// pieces, and the owner and CID indexes list exactly the orders.
        pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
            use std::collections::BTreeMap;
            let mut escrow: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
            let mut deposit: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
            let mut bonds: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
            let mut used: BTreeMap<T::AccountId, u64> = BTreeMap::new();
            let mut listed = 0u64;
            for (id, order) in Orders::<T>::iter() {
                let e = escrow.entry(order.owner.clone()).or_default();
                *e = e.saturating_add(order.escrow);
                let d = deposit.entry(order.owner.clone()).or_default();
                *d = d.saturating_add(order.deposit);
                let b = bonds.entry(order.owner.clone()).or_default();
                *b = b.saturating_add(order.bond);
                ensure!(
                    order.bond.is_zero() || matches!(order.state, OrderState::Pending { .. }),
                    "a live order still holds its owner's bond"
                );
                ensure!(
                    Layout::new(order.coding, order.size).map(|l| l.piece_size())
                        == Ok(order.piece_size),
                    "an order's piece size differs from its layout"
                );
                ensure!(
                    order.pieces.len() == order.coding.total_shards(),
                    "an order lacks a piece"
                );
                let mut confirmed = 0;
                for (number, piece) in order.pieces.iter().enumerate() {
                    confirmed += u32::from(piece.confirmed);
                    *used.entry(piece.provider.clone()).or_default() += order.piece_size;
                    ensure!(
                        ProviderPieces::<T>::get(&piece.provider, piece.slot)
                            == Some((id, number as u32)),
                        "a piece's slot does not point back to it"
                    );
                }
                ensure!(confirmed == order.confirmed, "confirmed count out of sync");
                ensure!(
                    OwnerOrders::<T>::contains_key(&order.owner, id)
                        && CidOrders::<T>::contains_key(&order.cid, id),
                    "an order is missing from an index"
                );
                listed += 1;
            }
            ensure!(
                OwnerOrders::<T>::iter_keys().count() as u64 == listed
                    && CidOrders::<T>::iter_keys().count() as u64 == listed,
                "an index lists an order that does not exist"
            );
            for (owner, amount) in escrow {
                let held = T::Currency::balance_on_hold(&HoldReason::Escrow.into(), &owner);
                ensure!(
                    held == amount,
                    "escrow held differs from the orders' escrow"
                );
            }
            for (owner, amount) in deposit {
                let held = T::Currency::balance_on_hold(&HoldReason::Deposit.into(), &owner);
                ensure!(
                    held == amount,
                    "deposit held differs from the orders' deposits"
                );
            }
            for (owner, amount) in bonds {
                let held = T::Currency::balance_on_hold(&HoldReason::Bond.into(), &owner);
                ensure!(held == amount, "bond held differs from the orders' bonds");
            }
            let holders = HolderCount::<T>::get();
            ensure!(
                ProviderPieceCount::<T>::iter_keys().count() as u32 == holders,
                "the holder list's length differs from the providers holding pieces"
            );
            ensure!(
                Holders::<T>::iter_keys().count() as u32 == holders
                    && HolderIndex::<T>::iter_keys().count() as u32 == holders,
                "the holder list has an entry past its end or a stale position"
            );
            for index in 0..holders {
                let holder = Holders::<T>::get(index).ok_or("a gap in the holder list")?;
                ensure!(
                    HolderIndex::<T>::get(&holder) == Some(index)
                        && ProviderPieceCount::<T>::get(&holder) > 0,
                    "a holder entry does not point back, or holds nothing"
                );
            }
            for (provider, bytes) in &used {
                ensure!(
                    T::Providers::used(provider) == *bytes,
                    "a provider's booked capacity differs from its pieces"
                );
                let tree = PieceTree::<T>(provider);
                let size = PieceTreeSize::<T>::get(provider);
                ensure!(
                    size >= ProviderPieceCount::<T>::get(provider)
                        && fenwick::total(&tree, size) == u128::from(*bytes),
                    "a provider's piece tree does not weigh its pieces"
                );
            }
            ensure!(
                PieceBytes::<T>::iter_keys().all(|(who, _)| used.contains_key(&who))
                    && PieceTreeSize::<T>::iter_keys().all(|who| used.contains_key(&who)),
                "a piece tree outlives its provider's last piece"
            );
            Ok(())
        }
    }

    impl<T: Config> OnProviderLeave<T::AccountId> for Pallet<T> {
        fn on_provider_leave(who: &T::AccountId) {
            if !Leaving::<T>::contains_key(who) {
                Leaving::<T>::insert(who, RepairCursor::default());
            }
        }
    }

    /// The cells of one provider's piece tree in pallet storage.
    struct PieceTree<'a, T: Config>(&'a T::AccountId);

    impl<T: Config> fenwick::Cells for PieceTree<'_, T> {
        fn cell(&self, i: u32) -> u128 {
            PieceBytes::<T>::get(self.0, i)
        }

        fn set_cell(&mut self, i: u32, value: u128) {
            if value == 0 {
                PieceBytes::<T>::remove(self.0, i);
            } else {
                PieceBytes::<T>::insert(self.0, i, value);
            }
        }
    }

    impl<T: Config> PieceIndex<T::AccountId> for Pallet<T> {
        fn holder_count() -> u32 {
            HolderCount::<T>::get()
        }

        fn holder_at(index: u32) -> Option<T::AccountId> {
            Holders::<T>::get(index)
        }

        fn held_bytes(who: &T::AccountId) -> u64 {
            let total = fenwick::total(&PieceTree::<T>(who), PieceTreeSize::<T>::get(who));
            total.saturated_into()
        }

        fn piece_at_byte(who: &T::AccountId, target: u64) -> Option<PieceRef> {
            let size = PieceTreeSize::<T>::get(who);
            if size == 0 {
                return None;
            }
            let slot = fenwick::find(&PieceTree::<T>(who), size, u128::from(target));
            Self::piece_ref(who, slot)
        }

        fn holds(who: &T::AccountId, order: OrderId, piece: u32) -> bool {
            Self::holder_of(order, piece).as_ref() == Some(who)
        }

        fn proven(order: OrderId, piece: u32, period: PeriodIndex) {
            let Some(mut record) = Orders::<T>::get(order) else {
                return;
            };
            let upto = period.saturating_add(1);
            Self::settle(order, &mut record, piece as usize, upto, true);
            if let Some(entry) = record.pieces.get_mut(piece as usize) {
                entry.failures = 0;
            }
            Orders::<T>::insert(order, record);
        }

        fn failed(order: OrderId, piece: u32, period: PeriodIndex, lost: bool) {
            let Some(mut record) = Orders::<T>::get(order) else {
                return;
            };
            let upto = period.saturating_add(1);
            Self::settle(order, &mut record, piece as usize, upto, false);
            let Some(entry) = record.pieces.get_mut(piece as usize) else {
                return;
            };
            entry.failures = entry.failures.saturating_add(1);
            let due = lost || entry.failures >= T::FailuresBeforeRepair::get();
            let provider = entry.provider.clone();
            Orders::<T>::insert(order, record);
            if due {
                Self::queue_move(order, piece, provider);
            }
        }

        #[cfg(feature = "runtime-benchmarks")]
        fn spread_for_benchmark() {
            crate::benchmarking::spread::<T>();
        }
    }
}
