//! Storage market pallet.
//!
//! **Orders.** A client's `store` names an object by its CID, its stored size
//! (ciphertext bytes for an encrypted file), its coding parameters and the
//! Merkle root of every shard (see [`mosaic_primitives::manifest`]), how many
//! periods to keep it, and the highest price per byte per block it accepts.
//! The runtime assigns the shards of each segment to distinct active
//! providers with room and an acceptable price, least loaded first, and holds
//! the full escrow (`Σ shard size × the provider's price × period length ×
//! periods`) plus a storage deposit for the records from the client.
//!
//! **Acceptance.** Each assigned provider `confirm`s its shard once its worker
//! holds it (after checking it against the root). When every shard is
//! confirmed the order is live, for `periods` whole audit periods starting
//! with the next one. An order not fully confirmed within `ConfirmWindow`
//! blocks is cancelled and everything is refunded.
//!
//! **Payment.** Escrow leaves the client only to pay a provider for a period in
//! which that provider passed its audit ([`ProofLedger`], kept by the audit
//! pallet). Providers `claim` what they earned; deletion, expiry and
//! reassignment settle the same way first. What was never earned is refunded
//! to the client when the order ends. `extend` buys more periods at the
//! recorded prices; `delete` ends an order early.
//!
//! **Repair.** When a provider unbonds or is ejected, its shards are queued
//! and reassigned a few per block to other providers (never one holding
//! another shard of the same segment), who rebuild them from `k` survivors and
//! `confirm`. The order stays live meanwhile.
//!
//! **Bounds.** Every storage item is bounded: shards per order
//! (`MaxShardsPerOrder`), deadlines per block, the repair queue, the CID
//! length. Every block's hook is bounded too: the orders ending in one block
//! hold at most `MaxEndingShardsPerBlock` shards together (an order whose
//! deadline block is full is queued at the next one with room), and a repair
//! pass moves at most `RepairsPerBlock` shards.

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

pub use mosaic_primitives::erasure::CodingParams;
pub use mosaic_primitives::merkle::ShardRoot;
pub use weights::WeightInfo;

/// Blocks tried, from the intended one on, to queue a deadline or expiry.
const SCHEDULE_TRIES: u32 = 16;

/// Identifies an order.
pub type OrderId = u64;
/// Index of an audit period: `block / PeriodLength`.
pub type PeriodIndex = u32;

/// Which periods each provider proved, kept by the audit pallet.
pub trait ProofLedger<AccountId> {
    /// How many periods in `from..to` `who` passed its audit in.
    fn proven_periods(who: &AccountId, from: PeriodIndex, to: PeriodIndex) -> u32;

    /// Records `who` as proven in every period of `from..to`, for the
    /// market's benchmarks.
    #[cfg(feature = "runtime-benchmarks")]
    fn prove_for_benchmark(who: &AccountId, from: PeriodIndex, to: PeriodIndex);
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

/// A storage order.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxCidLen))]
pub struct Order<AccountId, Balance, BlockNumber, MaxCidLen: frame_support::traits::Get<u32>> {
    /// Who pays and may delete.
    pub owner: AccountId,
    /// The object's CID (binary).
    pub cid: frame_support::BoundedVec<u8, MaxCidLen>,
    /// Stored bytes.
    pub size: u64,
    /// How the object is cut and coded.
    pub coding: CodingParams,
    /// Periods bought (including extensions).
    pub periods: u32,
    /// Where the order stands.
    pub state: OrderState<BlockNumber>,
    /// Block at which the deadline or expiry is handled (at or just after
    /// the one the state implies, where that block had room).
    pub due: BlockNumber,
    /// Number of shards.
    pub shard_count: u32,
    /// Shards currently confirmed by their providers.
    pub confirmed: u32,
    /// Escrow still held from the owner.
    pub escrow: Balance,
    /// Storage deposit held from the owner.
    pub deposit: Balance,
}

/// One shard of an order.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Shard<AccountId, Balance> {
    /// Merkle root of the shard.
    pub root: ShardRoot,
    /// Bytes.
    pub size: u32,
    /// Who stores it.
    pub provider: AccountId,
    /// Price per byte per block agreed with that provider.
    pub price: Balance,
    /// Whether the provider confirmed holding it.
    pub confirmed: bool,
    /// Position in the provider's shard list.
    pub slot: u32,
    /// Periods before this one are settled (payment never starts before
    /// the order's first live period, whatever this says).
    pub paid_until: PeriodIndex,
}

/// What storing an object would cost, as `store` would compute it now.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct Quote<AccountId, Balance> {
    /// Escrow held for the whole duration.
    pub escrow: Balance,
    /// Storage deposit held until the order ends.
    pub deposit: Balance,
    /// The provider, its price and the shard size, per shard in order.
    pub placements: Vec<(AccountId, Balance, u32)>,
}

/// A shard as the audit pallet draws it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ShardRef {
    /// The order.
    pub order: OrderId,
    /// Shard number within the order (`segment × (k + m) + index`).
    pub shard: u32,
    /// Its root.
    pub root: ShardRoot,
    /// Its size in bytes.
    pub size: u32,
    /// Whether its order is live and the shard confirmed (auditable).
    pub auditable: bool,
}

/// What the audit pallet needs from the market.
pub trait ShardIndex<AccountId> {
    /// Every provider holding at least one shard.
    fn holders() -> Vec<AccountId>;
    /// How many shards `who` holds.
    fn shard_count(who: &AccountId) -> u32;
    /// The `slot`-th shard of `who`, if any.
    fn shard_at(who: &AccountId, slot: u32) -> Option<ShardRef>;

    /// Gives every registered provider a shard of a pending order, for the
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
    use pallet_mosaic_providers::{Offer, OnProviderLeave, ProviderRegistry};
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
    >;
    /// A shard as stored.
    pub type ShardOf<T> = Shard<<T as frame_system::Config>::AccountId, BalanceOf<T>>;
    /// Shard roots as passed to `store`.
    pub type RootsOf<T> = BoundedVec<ShardRoot, <T as Config>::MaxShardsPerOrder>;
    /// A CID as passed to `store`.
    pub type CidOf<T> = BoundedVec<u8, <T as Config>::MaxCidLen>;
    /// Where one shard goes: provider, its price, the shard's size.
    pub type Placement<T> = (<T as frame_system::Config>::AccountId, BalanceOf<T>, u32);
    type OfferOf<T> = Offer<<T as frame_system::Config>::AccountId, BalanceOf<T>>;

    /// Least loaded first (booked / capacity, compared exactly), then by account.
    fn by_load<T: Config>(a: &OfferOf<T>, b: &OfferOf<T>) -> core::cmp::Ordering {
        let load_a = u128::from(a.capacity - a.free) * u128::from(b.capacity);
        let load_b = u128::from(b.capacity - b.free) * u128::from(a.capacity);
        load_a.cmp(&load_b).then_with(|| a.who.cmp(&b.who))
    }

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

        /// Which periods providers proved.
        type Proofs: ProofLedger<Self::AccountId>;

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

        /// Most shards in one order.
        #[pallet::constant]
        type MaxShardsPerOrder: Get<u32>;

        /// Longest CID in bytes.
        #[pallet::constant]
        type MaxCidLen: Get<u32>;

        /// Orders whose deadline or expiry may fall in one block.
        #[pallet::constant]
        type MaxDeadlinesPerBlock: Get<u32>;

        /// Shards of all the orders ending in one block together: the block
        /// hook's work is bounded by it. At least `MaxShardsPerOrder`.
        #[pallet::constant]
        type MaxEndingShardsPerBlock: Get<u32>;

        /// Providers waiting for their shards to be moved.
        #[pallet::constant]
        type MaxRepairQueue: Get<u32>;

        /// Shards reassigned per block at most.
        #[pallet::constant]
        type RepairsPerBlock: Get<u32>;

        /// Deposit per order for its records.
        #[pallet::constant]
        type DepositBase: Get<BalanceOf<Self>>;

        /// Further deposit per shard record.
        #[pallet::constant]
        type DepositPerShard: Get<BalanceOf<Self>>;

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
    }

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A new order awaits confirmation.
        Stored {
            order: OrderId,
            owner: T::AccountId,
            shards: u32,
            escrow: BalanceOf<T>,
        },
        /// A provider confirmed holding a shard.
        Confirmed {
            order: OrderId,
            shard: u32,
            provider: T::AccountId,
        },
        /// Every shard is confirmed; the order is paid for periods `start..end`.
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
        /// A shard moved to another provider, which must rebuild and confirm it.
        Reassigned {
            order: OrderId,
            shard: u32,
            from: T::AccountId,
            to: T::AccountId,
        },
        /// No provider could take a shard of a leaving provider; it stays put.
        RepairFailed {
            order: OrderId,
            shard: u32,
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
        /// No shard with this number in the order.
        UnknownShard,
        /// Only the order's owner may do this.
        NotOwner,
        /// The caller is not the provider assigned to this shard.
        NotAssigned,
        /// The shard is already confirmed.
        AlreadyConfirmed,
        /// The coding parameters are out of bounds (see `mosaic_primitives::erasure`).
        InvalidCoding,
        /// The CID is not a CIDv1 over SHA-256 of raw or dag-pb data.
        InvalidCid,
        /// Zero bytes cannot be stored.
        EmptyObject,
        /// The number of roots differs from what the size and coding imply.
        WrongShardCount,
        /// The object needs more than `MaxShardsPerOrder` shards; use larger segments.
        TooManyShards,
        /// Periods out of `MinPeriods..=MaxPeriods`.
        InvalidPeriods,
        /// Not enough active providers with room at or below the price offered
        /// to give each shard of a segment its own provider; offer a higher
        /// price, fewer shards, or try later.
        NoProviders,
        /// The order is not live (pending orders cannot be extended).
        NotLive,
        /// Too many orders already end in the block this one would; try another
        /// duration.
        TooManyDeadlines,
        /// An amount overflowed; the order is far too large or too long.
        Overflow,
        /// The `shards` given is below the order's shard count (see
        /// `MosaicApi::order`); the call is weighed by it.
        WitnessTooLow,
    }

    /// The next order id.
    #[pallet::storage]
    pub type NextOrderId<T> = StorageValue<_, OrderId, ValueQuery>;

    /// Orders.
    #[pallet::storage]
    pub type Orders<T: Config> = StorageMap<_, Blake2_128Concat, OrderId, OrderOf<T>>;

    /// Shards of orders.
    #[pallet::storage]
    pub type Shards<T: Config> =
        StorageDoubleMap<_, Blake2_128Concat, OrderId, Twox64Concat, u32, ShardOf<T>>;

    /// Each provider's shards as a dense list: `(provider, slot) -> (order, shard)`.
    #[pallet::storage]
    pub type ProviderShards<T: Config> =
        StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, u32, (OrderId, u32)>;

    /// Length of each provider's shard list.
    #[pallet::storage]
    pub type ProviderShardCount<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

    /// Orders with a deadline (pending) or an expiry (live) at a block,
    /// each with its shard count.
    #[pallet::storage]
    pub type Deadlines<T: Config> = StorageMap<
        _,
        Twox64Concat,
        BlockNumberFor<T>,
        BoundedVec<(OrderId, u32), T::MaxDeadlinesPerBlock>,
        ValueQuery,
    >;

    /// Providers whose shards are being moved away, each with the first slot
    /// of its list not yet tried.
    #[pallet::storage]
    pub type RepairQueue<T: Config> =
        StorageValue<_, BoundedVec<(T::AccountId, u32), T::MaxRepairQueue>, ValueQuery>;

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn on_initialize(now: BlockNumberFor<T>) -> Weight {
            // The block's deadline list, read and removed.
            let mut weight = T::DbWeight::get().reads_writes(1, 1);
            for (order, shards) in Deadlines::<T>::take(now) {
                Self::end_due(order);
                weight.saturating_accrue(T::WeightInfo::end(shards));
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
            assert!(
                T::MaxShardsPerOrder::get() > 0,
                "MaxShardsPerOrder must be positive"
            );
            assert!(
                T::MaxEndingShardsPerBlock::get() >= T::MaxShardsPerOrder::get(),
                "MaxEndingShardsPerBlock below MaxShardsPerOrder: the largest orders could never end"
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
        #[pallet::weight(T::WeightInfo::store(roots.len() as u32))]
        pub fn store(
            origin: OriginFor<T>,
            cid: CidOf<T>,
            size: u64,
            coding: CodingParams,
            roots: RootsOf<T>,
            periods: u32,
            max_price: BalanceOf<T>,
        ) -> DispatchResult {
            let owner = ensure_signed(origin)?;
            mosaic_primitives::manifest::parse_object_cid(&cid).ok_or(Error::<T>::InvalidCid)?;
            let Quote {
                escrow,
                deposit,
                placements,
            } = Self::quote(size, coding, periods, max_price)?;
            ensure!(roots.len() == placements.len(), Error::<T>::WrongShardCount);
            let id = NextOrderId::<T>::mutate(|next| {
                let id = *next;
                *next = next.saturating_add(1);
                id
            });
            for (number, (root, (provider, price, shard_size))) in
                roots.iter().zip(placements).enumerate()
            {
                T::Providers::reserve(&provider, shard_size.into())?;
                let slot = Self::push_provider_shard(&provider, id, number as u32);
                Shards::<T>::insert(
                    id,
                    number as u32,
                    Shard {
                        root: *root,
                        size: shard_size,
                        provider,
                        price,
                        confirmed: false,
                        slot,
                        paid_until: 0,
                    },
                );
            }
            let shard_count = roots.len() as u32;
            T::Currency::hold(&HoldReason::Escrow.into(), &owner, escrow)?;
            T::Currency::hold(&HoldReason::Deposit.into(), &owner, deposit)?;
            let deadline =
                frame_system::Pallet::<T>::block_number().saturating_add(T::ConfirmWindow::get());
            let due = Self::schedule(deadline, id, shard_count)?;
            Orders::<T>::insert(
                id,
                Order {
                    owner: owner.clone(),
                    cid,
                    size,
                    coding,
                    periods,
                    state: OrderState::Pending { deadline },
                    due,
                    shard_count,
                    confirmed: 0,
                    escrow,
                    deposit,
                },
            );
            Self::deposit_event(Event::Stored {
                order: id,
                owner,
                shards: shard_count,
                escrow,
            });
            Ok(())
        }

        /// The assigned provider declares that it holds the shard.
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::confirm())]
        pub fn confirm(origin: OriginFor<T>, order: OrderId, shard: u32) -> DispatchResult {
            let provider = ensure_signed(origin)?;
            let mut record = Orders::<T>::get(order).ok_or(Error::<T>::UnknownOrder)?;
            let mut entry = Shards::<T>::get(order, shard).ok_or(Error::<T>::UnknownShard)?;
            ensure!(entry.provider == provider, Error::<T>::NotAssigned);
            ensure!(!entry.confirmed, Error::<T>::AlreadyConfirmed);
            entry.confirmed = true;
            record.confirmed = record.confirmed.saturating_add(1);
            if let OrderState::Live { start, .. } = record.state {
                // A repaired shard earns from the next period on.
                entry.paid_until = Self::current_period().saturating_add(1).max(start);
            }
            Self::deposit_event(Event::Confirmed {
                order,
                shard,
                provider,
            });
            if record.confirmed == record.shard_count {
                if let OrderState::Pending { .. } = record.state {
                    Self::unschedule(record.due, order);
                    let start = Self::current_period().saturating_add(1);
                    let end = start.saturating_add(record.periods);
                    record.due =
                        Self::schedule(Self::period_start(end), order, record.shard_count)?;
                    record.state = OrderState::Live { start, end };
                    Self::deposit_event(Event::Live { order, start, end });
                }
            }
            Shards::<T>::insert(order, shard, entry);
            Orders::<T>::insert(order, record);
            Ok(())
        }

        /// Buys `periods` more periods of a live order at the recorded prices.
        ///
        /// `shards`, at least the order's shard count, weighs this call and
        /// the two below, which visit every shard; the fee is for the
        /// actual count.
        #[pallet::call_index(2)]
        #[pallet::weight(T::WeightInfo::extend(*shards))]
        pub fn extend(
            origin: OriginFor<T>,
            order: OrderId,
            periods: u32,
            shards: u32,
        ) -> DispatchResultWithPostInfo {
            let owner = ensure_signed(origin)?;
            let mut record = Self::witnessed(order, shards)?;
            ensure!(record.owner == owner, Error::<T>::NotOwner);
            let OrderState::Live { start, end } = record.state else {
                return Err(Error::<T>::NotLive.into());
            };
            let total = record.periods.saturating_add(periods);
            ensure!(
                periods > 0 && total <= T::MaxPeriods::get(),
                Error::<T>::InvalidPeriods
            );
            let mut extra = BalanceOf::<T>::zero();
            for (_, shard) in Shards::<T>::iter_prefix(order) {
                extra = extra
                    .checked_add(&Self::cost(shard.size, shard.price, periods)?)
                    .ok_or(Error::<T>::Overflow)?;
            }
            T::Currency::hold(&HoldReason::Escrow.into(), &owner, extra)?;
            let new_end = end.saturating_add(periods);
            Self::unschedule(record.due, order);
            record.due = Self::schedule(Self::period_start(new_end), order, record.shard_count)?;
            record.periods = total;
            record.escrow = record.escrow.saturating_add(extra);
            record.state = OrderState::Live {
                start,
                end: new_end,
            };
            let shards = record.shard_count;
            Orders::<T>::insert(order, record);
            Self::deposit_event(Event::Extended {
                order,
                end: new_end,
                escrow: extra,
            });
            Ok(Some(T::WeightInfo::extend(shards)).into())
        }

        /// Ends an order: providers are paid for proven periods so far, the
        /// rest of the escrow and the deposit go back to the owner.
        #[pallet::call_index(3)]
        #[pallet::weight(T::WeightInfo::delete(*shards))]
        pub fn delete(
            origin: OriginFor<T>,
            order: OrderId,
            shards: u32,
        ) -> DispatchResultWithPostInfo {
            let owner = ensure_signed(origin)?;
            let record = Self::witnessed(order, shards)?;
            ensure!(record.owner == owner, Error::<T>::NotOwner);
            Self::unschedule(record.due, order);
            let shards = record.shard_count;
            Self::end(order, record, EndReason::Deleted);
            Ok(Some(T::WeightInfo::delete(shards)).into())
        }

        /// A provider collects what it earned for proven periods of an order.
        #[pallet::call_index(4)]
        #[pallet::weight(T::WeightInfo::claim(*shards))]
        pub fn claim(
            origin: OriginFor<T>,
            order: OrderId,
            shards: u32,
        ) -> DispatchResultWithPostInfo {
            let provider = ensure_signed(origin)?;
            let mut record = Self::witnessed(order, shards)?;
            let upto = Self::current_period();
            let mut any = false;
            for number in 0..record.shard_count {
                if let Some(mut shard) = Shards::<T>::get(order, number) {
                    if shard.provider == provider {
                        any = true;
                        Self::settle(order, &mut record, &mut shard, upto);
                        Shards::<T>::insert(order, number, shard);
                    }
                }
            }
            ensure!(any, Error::<T>::NotAssigned);
            let shards = record.shard_count;
            Orders::<T>::insert(order, record);
            Ok(Some(T::WeightInfo::claim(shards)).into())
        }
    }

    impl<T: Config> Pallet<T> {
        /// What `store` would assign and hold for such an object now.
        pub fn quote(
            size: u64,
            coding: CodingParams,
            periods: u32,
            max_price: BalanceOf<T>,
        ) -> Result<Quote<T::AccountId, BalanceOf<T>>, DispatchError> {
            coding.validate().map_err(|_| Error::<T>::InvalidCoding)?;
            ensure!(size > 0, Error::<T>::EmptyObject);
            ensure!(
                (T::MinPeriods::get()..=T::MaxPeriods::get()).contains(&periods),
                Error::<T>::InvalidPeriods
            );
            let shards = coding
                .segment_count(size)
                .saturating_mul(coding.total_shards() as u64);
            ensure!(
                shards <= u64::from(T::MaxShardsPerOrder::get()),
                Error::<T>::TooManyShards
            );
            let placements = Self::assign(&coding, size, max_price)?;
            let mut escrow = BalanceOf::<T>::zero();
            for (_, price, shard_size) in &placements {
                escrow = escrow
                    .checked_add(&Self::cost(*shard_size, *price, periods)?)
                    .ok_or(Error::<T>::Overflow)?;
            }
            let deposit = T::DepositBase::get()
                .saturating_add(T::DepositPerShard::get().saturating_mul((shards as u32).into()));
            Ok(Quote {
                escrow,
                deposit,
                placements,
            })
        }

        /// An order and its shards, in shard order.
        pub fn order_with_shards(order: OrderId) -> Option<(OrderOf<T>, Vec<ShardOf<T>>)> {
            let record = Orders::<T>::get(order)?;
            let shards = (0..record.shard_count)
                .filter_map(|n| Shards::<T>::get(order, n))
                .collect();
            Some((record, shards))
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
        pub fn cost(
            size: u32,
            price: BalanceOf<T>,
            periods: u32,
        ) -> Result<BalanceOf<T>, Error<T>> {
            let blocks: BalanceOf<T> = T::PeriodLength::get()
                .saturated_into::<u64>()
                .saturated_into();
            let size: BalanceOf<T> = size.into();
            let periods: BalanceOf<T> = periods.into();
            size.checked_mul(&price)
                .and_then(|x| x.checked_mul(&blocks))
                .and_then(|x| x.checked_mul(&periods))
                .ok_or(Error::<T>::Overflow)
        }

        /// Chooses a provider for every shard, segment by segment: distinct
        /// within a segment, least loaded first. Returns `(provider, price,
        /// shard size)` per shard in order, or `NoProviders`.
        fn assign(
            coding: &CodingParams,
            size: u64,
            max_price: BalanceOf<T>,
        ) -> Result<Vec<Placement<T>>, Error<T>> {
            let smallest =
                coding.shard_size(coding.segment_len(size, coding.segment_count(size) - 1));
            let mut offers = T::Providers::offers(smallest as u64, max_price);
            let width = coding.total_shards();
            let mut assignment = Vec::new();
            for segment in 0..coding.segment_count(size) {
                let shard_size = coding.shard_size(coding.segment_len(size, segment)) as u64;
                offers.sort_by(by_load::<T>);
                let chosen: Vec<usize> = offers
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.free >= shard_size)
                    .map(|(i, _)| i)
                    .take(width)
                    .collect();
                ensure!(chosen.len() == width, Error::<T>::NoProviders);
                for i in chosen {
                    offers[i].free -= shard_size;
                    assignment.push((offers[i].who.clone(), offers[i].price, shard_size as u32));
                }
            }
            Ok(assignment)
        }

        fn push_provider_shard(provider: &T::AccountId, order: OrderId, shard: u32) -> u32 {
            let slot = ProviderShardCount::<T>::get(provider);
            ProviderShards::<T>::insert(provider, slot, (order, shard));
            ProviderShardCount::<T>::insert(provider, slot + 1);
            slot
        }

        /// Removes a slot from a provider's list by moving the last one in.
        fn remove_provider_shard(provider: &T::AccountId, slot: u32) {
            let last = ProviderShardCount::<T>::get(provider).saturating_sub(1);
            if slot != last {
                if let Some((order, shard)) = ProviderShards::<T>::get(provider, last) {
                    ProviderShards::<T>::insert(provider, slot, (order, shard));
                    Shards::<T>::mutate(order, shard, |s| {
                        if let Some(s) = s {
                            s.slot = slot;
                        }
                    });
                }
            }
            ProviderShards::<T>::remove(provider, last);
            if last == 0 {
                ProviderShardCount::<T>::remove(provider);
            } else {
                ProviderShardCount::<T>::insert(provider, last);
            }
        }

        /// Queues `order` of `shards` shards at the first block from `at`
        /// with room for one more order and its shards, trying a few;
        /// returns that block.
        fn schedule(
            at: BlockNumberFor<T>,
            order: OrderId,
            shards: u32,
        ) -> Result<BlockNumberFor<T>, DispatchError> {
            let mut block = at;
            for _ in 0..SCHEDULE_TRIES {
                let queued = Deadlines::<T>::try_mutate(block, |due| {
                    let ending = due
                        .iter()
                        .fold(shards, |sum, (_, n)| sum.saturating_add(*n));
                    if ending > T::MaxEndingShardsPerBlock::get() {
                        return Err(());
                    }
                    due.try_push((order, shards)).map_err(|_| ())
                });
                if queued.is_ok() {
                    return Ok(block);
                }
                block = block.saturating_add(1u32.into());
            }
            Err(Error::<T>::TooManyDeadlines.into())
        }

        fn unschedule(at: BlockNumberFor<T>, order: OrderId) {
            Deadlines::<T>::mutate(at, |due| due.retain(|(o, _)| *o != order));
        }

        /// Pays `shard`'s provider for its proven periods before `upto`.
        fn settle(
            order: OrderId,
            record: &mut OrderOf<T>,
            shard: &mut ShardOf<T>,
            upto: PeriodIndex,
        ) {
            let OrderState::Live { start, end } = record.state else {
                return;
            };
            // Nothing before the order's first period is ever owed.
            let from = shard.paid_until.max(start);
            let upto = upto.min(end);
            if !shard.confirmed || from >= upto {
                return;
            }
            let proven = T::Proofs::proven_periods(&shard.provider, from, upto);
            shard.paid_until = upto;
            let Ok(amount) = Self::cost(shard.size, shard.price, proven) else {
                return;
            };
            let amount = amount.min(record.escrow);
            if amount.is_zero() {
                return;
            }
            let paid = T::Currency::transfer_on_hold(
                &HoldReason::Escrow.into(),
                &record.owner,
                &shard.provider,
                amount,
                Precision::Exact,
                Restriction::Free,
                Fortitude::Force,
            );
            if paid.is_ok() {
                record.escrow = record.escrow.saturating_sub(amount);
                Self::deposit_event(Event::Paid {
                    order,
                    provider: shard.provider.clone(),
                    amount,
                });
            }
        }

        /// The order, if `shards` covers its shard count.
        fn witnessed(order: OrderId, shards: u32) -> Result<OrderOf<T>, Error<T>> {
            let record = Orders::<T>::get(order).ok_or(Error::<T>::UnknownOrder)?;
            ensure!(shards >= record.shard_count, Error::<T>::WitnessTooLow);
            Ok(record)
        }

        /// Ends a pending order at its deadline or a live one at its expiry.
        fn end_due(order: OrderId) {
            if let Some(record) = Orders::<T>::get(order) {
                let reason = match record.state {
                    OrderState::Pending { .. } => EndReason::Unconfirmed,
                    OrderState::Live { .. } => EndReason::Expired,
                };
                Self::end(order, record, reason);
            }
        }

        /// Settles every shard, refunds the rest and removes the order.
        fn end(order: OrderId, mut record: OrderOf<T>, reason: EndReason) {
            let upto = Self::current_period();
            for (_, mut shard) in Shards::<T>::drain_prefix(order) {
                Self::settle(order, &mut record, &mut shard, upto);
                T::Providers::release(&shard.provider, shard.size.into());
                Self::remove_provider_shard(&shard.provider, shard.slot);
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
            Orders::<T>::remove(order);
            Self::deposit_event(Event::Ended {
                order,
                reason,
                refund,
            });
        }

        /// Moves up to `budget` shards of leaving providers; returns how many
        /// shards were looked at. Each queue entry keeps a cursor: slots below
        /// it hold shards no provider could take, which stay until they expire.
        pub(crate) fn repair(budget: u32) -> u32 {
            let mut done = 0;
            let mut queue = RepairQueue::<T>::get();
            while done < budget {
                let Some((leaving, cursor)) = queue.get_mut(0) else {
                    break;
                };
                let Some((order, shard)) = ProviderShards::<T>::get(&*leaving, *cursor) else {
                    queue.remove(0);
                    continue;
                };
                done += 1;
                // On success the shard leaves the list and the last one takes
                // its slot, so the cursor stays.
                if !Self::reassign(order, shard) {
                    *cursor += 1;
                    Self::deposit_event(Event::RepairFailed {
                        order,
                        shard,
                        provider: leaving.clone(),
                    });
                }
            }
            RepairQueue::<T>::put(queue);
            done
        }

        /// Gives one shard to a new provider; false if none can take it.
        fn reassign(order: OrderId, number: u32) -> bool {
            let (Some(mut record), Some(mut shard)) =
                (Orders::<T>::get(order), Shards::<T>::get(order, number))
            else {
                return false;
            };
            let width = record.coding.total_shards() as u32;
            let first = number - number % width;
            let siblings: Vec<T::AccountId> = (first..first + width)
                .filter_map(|n| Shards::<T>::get(order, n).map(|s| s.provider))
                .collect();
            let mut offers = T::Providers::offers(shard.size.into(), shard.price);
            offers.retain(|o| !siblings.contains(&o.who));
            offers.sort_by(by_load::<T>);
            let Some(to) = offers.into_iter().map(|o| o.who).next() else {
                return false;
            };
            if T::Providers::reserve(&to, shard.size.into()).is_err() {
                return false;
            }
            Self::settle(order, &mut record, &mut shard, Self::current_period());
            let from = shard.provider.clone();
            T::Providers::release(&from, shard.size.into());
            Self::remove_provider_shard(&from, shard.slot);
            if shard.confirmed {
                record.confirmed = record.confirmed.saturating_sub(1);
            }
            shard.slot = Self::push_provider_shard(&to, order, number);
            shard.provider = to.clone();
            shard.confirmed = false;
            Shards::<T>::insert(order, number, shard);
            Orders::<T>::insert(order, record);
            Self::deposit_event(Event::Reassigned {
                order,
                shard: number,
                from,
                to,
            });
            true
        }

        /// Checks the pallet's invariants: escrow and deposits held equal
        /// what the orders record, provider lists match the shards, and each
        /// provider's booked capacity equals the sizes of its shards.
        pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
            use std::collections::BTreeMap;
            let mut escrow: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
            let mut deposit: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
            let mut used: BTreeMap<T::AccountId, u64> = BTreeMap::new();
            for (id, order) in Orders::<T>::iter() {
                let e = escrow.entry(order.owner.clone()).or_default();
                *e = e.saturating_add(order.escrow);
                let d = deposit.entry(order.owner.clone()).or_default();
                *d = d.saturating_add(order.deposit);
                let mut confirmed = 0;
                for number in 0..order.shard_count {
                    let shard = Shards::<T>::get(id, number).ok_or("an order lacks a shard")?;
                    confirmed += u32::from(shard.confirmed);
                    *used.entry(shard.provider.clone()).or_default() += u64::from(shard.size);
                    ensure!(
                        ProviderShards::<T>::get(&shard.provider, shard.slot) == Some((id, number)),
                        "a shard's slot does not point back to it"
                    );
                }
                ensure!(confirmed == order.confirmed, "confirmed count out of sync");
            }
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
            for (provider, bytes) in used {
                ensure!(
                    T::Providers::used(&provider) == bytes,
                    "a provider's booked capacity differs from its shards"
                );
            }
            Ok(())
        }
    }

    impl<T: Config> OnProviderLeave<T::AccountId> for Pallet<T> {
        fn on_provider_leave(who: &T::AccountId) {
            RepairQueue::<T>::mutate(|queue| {
                if !queue.iter().any(|(queued, _)| queued == who) {
                    // A full queue drops the request; the provider cannot
                    // withdraw while it holds shards, so nothing is lost.
                    let _ = queue.try_push((who.clone(), 0));
                }
            });
        }
    }

    impl<T: Config> ShardIndex<T::AccountId> for Pallet<T> {
        fn holders() -> Vec<T::AccountId> {
            ProviderShardCount::<T>::iter_keys().collect()
        }

        fn shard_count(who: &T::AccountId) -> u32 {
            ProviderShardCount::<T>::get(who)
        }

        fn shard_at(who: &T::AccountId, slot: u32) -> Option<ShardRef> {
            let (order, number) = ProviderShards::<T>::get(who, slot)?;
            let shard = Shards::<T>::get(order, number)?;
            let live = matches!(
                Orders::<T>::get(order).map(|o| o.state),
                Some(OrderState::Live { .. })
            );
            Some(ShardRef {
                order,
                shard: number,
                root: shard.root,
                size: shard.size,
                auditable: live && shard.confirmed,
            })
        }

        #[cfg(feature = "runtime-benchmarks")]
        fn spread_for_benchmark() {
            crate::benchmarking::spread::<T>();
        }
    }
}
