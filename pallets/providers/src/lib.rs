//! Provider registry pallet.
//!
//! Storage providers `register` with a stake, a declared capacity in bytes, a
//! price per byte per block, and the libp2p peer id and multiaddrs their
//! worker listens on. The stake is held (`HoldReason::ProviderStake`) and must
//! be at least `MinStake + StakePerGiB × ⌈capacity / GiB⌉`. Providers
//! `update` their terms, `unbond` (from then on they get no new shards, while
//! the shards they hold still bind them and are still audited), and
//! `withdraw` their stake once the unbonding period is over and they hold no
//! shard.
//!
//! Other pallets reach providers through [`ProviderRegistry`]: the market
//! draws providers for an order's pieces and books capacity; the audit
//! pallet slashes (burns part of the held stake) and ejects.
//!
//! **Placement without a scan.** Each provider has a dense slot, and a
//! Fenwick tree over the slots ([`fenwick`]) holds each provider's weight:
//! its free capacity while active, zero otherwise (stake scales with
//! capacity, so free room is stake-backed). [`ProviderRegistry::pick`] draws
//! providers with probability proportional to their weight, without
//! replacement (a drawn provider's weight is taken out of an in-memory
//! overlay of the tree), rejecting those above the price bound or without
//! room for the piece, up to `2w + 8` draws for `w` providers (and at most
//! `MaxDraws`): `O(w · log n)` reads
//! whatever the number of providers. Every change of a provider's free
//! capacity or status updates its weight in `O(log n)` writes.

pub use pallet::*;

use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{frame_support, frame_system, sp_runtime};
use scale_info::TypeInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod fenwick;
#[cfg(test)]
mod mock;
pub mod testing;
#[cfg(test)]
mod tests;
pub mod weights;

pub use weights::WeightInfo;

/// One gibibyte: the unit in which stake scales with capacity.
pub const GIB: u64 = 1 << 30;

/// Whether a provider takes new shards.
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
pub enum ProviderStatus<BlockNumber> {
    /// Takes new shards.
    Active,
    /// Asked to leave; may withdraw from `until` on, once it holds no shard.
    Unbonding {
        /// First block at which `withdraw` may succeed.
        until: BlockNumber,
    },
    /// Removed by the audit pallet after repeated failures; may withdraw what
    /// is left of its stake from `until` on, once its shards are reassigned.
    Ejected {
        /// First block at which `withdraw` may succeed.
        until: BlockNumber,
    },
}

/// A provider's terms and standing.
#[derive(
    Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(PeerIdLen, Addrs, AddrLen))]
pub struct ProviderInfo<Balance, BlockNumber, PeerIdLen, Addrs, AddrLen>
where
    PeerIdLen: frame_support::traits::Get<u32>,
    Addrs: frame_support::traits::Get<u32>,
    AddrLen: frame_support::traits::Get<u32>,
{
    /// Held stake.
    pub stake: Balance,
    /// Declared capacity in bytes.
    pub capacity: u64,
    /// Bytes of shards assigned to the provider.
    pub used: u64,
    /// Price per byte per block.
    pub price: Balance,
    /// The worker's libp2p peer id (multihash bytes).
    pub peer_id: frame_support::BoundedVec<u8, PeerIdLen>,
    /// The worker's multiaddrs (binary form).
    pub multiaddrs: frame_support::BoundedVec<frame_support::BoundedVec<u8, AddrLen>, Addrs>,
    /// Whether it takes new shards.
    pub status: ProviderStatus<BlockNumber>,
    /// Its position in the sampling index.
    pub slot: u32,
}

impl<Balance, BlockNumber, PeerIdLen, Addrs, AddrLen>
    ProviderInfo<Balance, BlockNumber, PeerIdLen, Addrs, AddrLen>
where
    PeerIdLen: frame_support::traits::Get<u32>,
    Addrs: frame_support::traits::Get<u32>,
    AddrLen: frame_support::traits::Get<u32>,
{
    /// Bytes it can still take.
    pub fn free(&self) -> u64 {
        self.capacity.saturating_sub(self.used)
    }

    /// Its weight in placement, given the stake its capacity requires:
    /// free bytes while active and fully staked, else nothing (a slash
    /// that leaves the stake short stops placement until it is topped up).
    pub fn weight(&self, required_stake: Balance) -> u128
    where
        Balance: PartialOrd,
    {
        match self.status {
            ProviderStatus::Active if self.stake >= required_stake => u128::from(self.free()),
            _ => 0,
        }
    }
}

/// A provider that can take more data, as the market sees it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Offer<AccountId, Balance> {
    /// The provider.
    pub who: AccountId,
    /// Bytes it can still take.
    pub free: u64,
    /// Its declared capacity.
    pub capacity: u64,
    /// Its price per byte per block.
    pub price: Balance,
}

/// Told when a provider stops taking shards (unbond or ejection), so that the
/// shards it holds can be moved elsewhere.
pub trait OnProviderLeave<AccountId> {
    /// `who` is leaving; its shards should be reassigned.
    fn on_provider_leave(who: &AccountId);
}

impl<AccountId> OnProviderLeave<AccountId> for () {
    fn on_provider_leave(_: &AccountId) {}
}

/// What the market and audit pallets need from the registry.
pub trait ProviderRegistry<AccountId> {
    /// The currency's balance type.
    type Balance;

    /// Up to `wanted` distinct active providers, none in `exclude`, each
    /// with at least `min_free` bytes free and a price of at most
    /// `max_price`, drawn with probability proportional to free capacity
    /// from the randomness `seed` (the same seed gives the same draw). Fewer
    /// if `MaxDraws` draws did not find them.
    fn pick(
        seed: &[u8; 32],
        wanted: u32,
        min_free: u64,
        max_price: Self::Balance,
        exclude: &[AccountId],
    ) -> Vec<Offer<AccountId, Self::Balance>>;

    /// The most providers the registry holds, which other pallets'
    /// benchmarks register.
    #[cfg(feature = "runtime-benchmarks")]
    fn max_providers() -> u32;

    /// Books `bytes` of `who`'s capacity for newly assigned shards.
    fn reserve(who: &AccountId, bytes: u64) -> sp_runtime::DispatchResult;

    /// Returns `bytes` of `who`'s capacity (shards deleted or moved away).
    fn release(who: &AccountId, bytes: u64);

    /// `who`'s current price, if registered.
    fn price(who: &AccountId) -> Option<Self::Balance>;

    /// Bytes booked on `who` (zero if not registered).
    fn used(who: &AccountId) -> u64;

    /// The stake that backs `bytes` of data: `StakePerGiB` per started GiB.
    fn stake_for(bytes: u64) -> Self::Balance;

    /// Burns `fraction` of the stake that backs `bytes` of `who`'s data
    /// ([`Self::stake_for`]), at most all of it; returns the amount burnt. Placement skips a provider left short of the stake its
    /// capacity requires, and one left below `MinStake` is ejected.
    fn slash(who: &AccountId, bytes: u64, fraction: sp_runtime::Perbill) -> Self::Balance;

    /// Stops `who` from taking new shards, as if it had unbonded (nothing
    /// if it was ejected already).
    fn eject(who: &AccountId);

    /// Funds and registers `who` as an active provider, for other pallets'
    /// benchmarks.
    #[cfg(feature = "runtime-benchmarks")]
    fn register_for_benchmark(who: &AccountId, capacity: u64, price: Self::Balance);
}

#[frame_support::pallet]
pub mod pallet {
    use super::*;
    use frame_support::pallet_prelude::*;
    use frame_support::traits::fungible::{self, Inspect, InspectHold, MutateHold};
    use frame_support::traits::tokens::{Fortitude, Precision};
    use frame_system::pallet_prelude::*;
    use sp_runtime::traits::{Saturating, Zero};
    use sp_runtime::{Perbill, SaturatedConversion};

    /// The balance type of the currency.
    pub type BalanceOf<T> =
        <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

    /// A provider record as stored.
    pub type ProviderOf<T> = ProviderInfo<
        BalanceOf<T>,
        BlockNumberFor<T>,
        <T as Config>::MaxPeerIdLen,
        <T as Config>::MaxMultiaddrs,
        <T as Config>::MaxMultiaddrLen,
    >;

    /// A peer id as passed to calls.
    pub type PeerIdOf<T> = BoundedVec<u8, <T as Config>::MaxPeerIdLen>;

    /// Multiaddrs as passed to calls.
    pub type MultiaddrsOf<T> =
        BoundedVec<BoundedVec<u8, <T as Config>::MaxMultiaddrLen>, <T as Config>::MaxMultiaddrs>;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    /// The pallet's configuration. Test runtimes take defaults from
    /// [`config_preludes::TestDefaultConfig`] for all but the wiring
    /// (`Currency`, `OnLeave`) and `MaxDraws`, which must suit the callers'
    /// largest pick.
    #[pallet::config(with_default)]
    pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
        /// The currency stakes are held in.
        #[pallet::no_default]
        type Currency: fungible::Inspect<Self::AccountId>
            + fungible::Mutate<Self::AccountId>
            + fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

        /// The runtime's hold reasons, which include this pallet's.
        #[pallet::no_default_bounds]
        type RuntimeHoldReason: From<HoldReason>;

        /// Stake every provider needs, whatever its capacity.
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type MinStake: Get<BalanceOf<Self>>;

        /// Further stake per GiB of declared capacity (rounded up).
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type StakePerGiB: Get<BalanceOf<Self>>;

        /// Lowest price per byte per block a provider may ask: storage is
        /// never free, so no one earns by holding orders it placed itself.
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type MinPrice: Get<BalanceOf<Self>>;

        /// Blocks between `unbond` (or ejection) and `withdraw`.
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type UnbondingPeriod: Get<BlockNumberFor<Self>>;

        /// Most providers registered at once; sizes the sampling index.
        #[pallet::constant]
        type MaxProviders: Get<u32>;

        /// Most draws one `pick` makes, whatever it wants: each draw takes
        /// one provider out, chosen or rejected (price, room). A `pick` of
        /// `w` providers makes at most `min(MaxDraws, 2w + 8)`, which bounds
        /// its weight; at least `2w + 8` for the largest `w` callers ask.
        #[pallet::constant]
        #[pallet::no_default]
        type MaxDraws: Get<u32>;

        /// Longest peer id in bytes.
        #[pallet::constant]
        type MaxPeerIdLen: Get<u32>;

        /// Most multiaddrs per provider.
        #[pallet::constant]
        type MaxMultiaddrs: Get<u32>;

        /// Longest multiaddr in bytes.
        #[pallet::constant]
        type MaxMultiaddrLen: Get<u32>;

        /// Told when a provider unbonds or is ejected (the market, to repair).
        #[pallet::no_default]
        type OnLeave: OnProviderLeave<Self::AccountId>;

        /// Weights of this pallet's calls.
        type WeightInfo: WeightInfo;
    }

    /// Defaults for [`Config`], taken with `#[derive_impl]`.
    pub mod config_preludes {
        use super::*;
        use frame_support::derive_impl;
        use frame_support::traits::ConstU64;

        /// [`TestDefaultConfig`]'s `MinStake`.
        pub const MIN_STAKE: u64 = 1_000;
        /// [`TestDefaultConfig`]'s `StakePerGiB`.
        pub const STAKE_PER_GIB: u64 = 100;
        /// [`TestDefaultConfig`]'s `MinPrice`.
        pub const MIN_PRICE: u64 = 1;

        /// The registry of the Mosaic pallets' test runtimes (`u64`
        /// balances and block numbers, as `frame_system`'s and
        /// `pallet_balances`' test preludes have them). A test runtime
        /// states `Currency`, `MaxDraws` and `OnLeave`, and what it changes.
        pub struct TestDefaultConfig;

        #[derive_impl(frame_system::config_preludes::TestDefaultConfig, no_aggregated_types)]
        impl frame_system::DefaultConfig for TestDefaultConfig {}

        #[frame_support::register_default_impl(TestDefaultConfig)]
        impl DefaultConfig for TestDefaultConfig {
            #[inject_runtime_type]
            type RuntimeHoldReason = ();
            type MinStake = ConstU64<MIN_STAKE>;
            type StakePerGiB = ConstU64<STAKE_PER_GIB>;
            type MinPrice = ConstU64<MIN_PRICE>;
            type UnbondingPeriod = ConstU64<1_000>;
            type MaxProviders = ConstU32<16>;
            type MaxPeerIdLen = ConstU32<64>;
            type MaxMultiaddrs = ConstU32<4>;
            type MaxMultiaddrLen = ConstU32<64>;
            type WeightInfo = ();
        }
    }

    /// Why this pallet holds funds.
    #[pallet::composite_enum]
    pub enum HoldReason {
        /// A provider's stake.
        #[codec(index = 0)]
        ProviderStake,
    }

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A provider registered.
        Registered {
            provider: T::AccountId,
            stake: BalanceOf<T>,
            capacity: u64,
            price: BalanceOf<T>,
        },
        /// A provider changed its terms.
        Updated {
            provider: T::AccountId,
            stake: BalanceOf<T>,
            capacity: u64,
            price: BalanceOf<T>,
        },
        /// A provider asked to leave.
        Unbonding {
            provider: T::AccountId,
            until: BlockNumberFor<T>,
        },
        /// A provider left and its stake was released.
        Withdrawn {
            provider: T::AccountId,
            stake: BalanceOf<T>,
        },
        /// Part of a provider's stake was burnt.
        Slashed {
            provider: T::AccountId,
            amount: BalanceOf<T>,
        },
        /// A provider was removed from service.
        Ejected {
            provider: T::AccountId,
            until: BlockNumberFor<T>,
        },
    }

    #[pallet::error]
    pub enum Error<T> {
        /// The account is already a provider; use `update` to change terms.
        AlreadyRegistered,
        /// The account is not a provider; `register` first.
        NotRegistered,
        /// The registry is full (`MaxProviders`); try again when one leaves.
        TooManyProviders,
        /// The stake is below `MinStake + StakePerGiB × capacity in GiB`;
        /// stake more or declare less capacity.
        StakeTooLow,
        /// Capacity must be at least one byte.
        ZeroCapacity,
        /// The price is below `MinPrice`; ask at least that.
        PriceTooLow,
        /// The new capacity is below what the provider already stores.
        CapacityBelowUsage,
        /// The peer id or a multiaddr is empty, or no multiaddr was given.
        InvalidEndpoint,
        /// The provider is unbonding or ejected and cannot change terms.
        NotActive,
        /// `withdraw` needs an `unbond` (or an ejection) first.
        NotUnbonding,
        /// The unbonding period has not ended yet.
        StillUnbonding,
        /// The provider still holds shards; they must be moved or expire first.
        StillStoring,
        /// The capacity booking exceeds the provider's free capacity.
        InsufficientCapacity,
    }

    /// Registered providers.
    #[pallet::storage]
    pub type Providers<T: Config> =
        CountedStorageMap<_, Blake2_128Concat, T::AccountId, ProviderOf<T>>;

    /// The provider in each slot `0..count`.
    #[pallet::storage]
    pub type Slots<T: Config> = StorageMap<_, Twox64Concat, u32, T::AccountId>;

    /// The sampling index: cells of a Fenwick tree over slots (see
    /// [`fenwick`]), `1..=MaxProviders.next_power_of_two()`.
    #[pallet::storage]
    pub type WeightTree<T: Config> = StorageMap<_, Twox64Concat, u32, u128, ValueQuery>;

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn integrity_test() {
            assert!(T::MaxProviders::get() > 0, "MaxProviders must be positive");
            assert!(
                T::MaxMultiaddrs::get() > 0,
                "MaxMultiaddrs must be positive"
            );
            assert!(!T::MinStake::get().is_zero(), "MinStake must be positive");
        }

        #[cfg(feature = "try-runtime")]
        fn try_state(_: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Registers the caller as a provider, holding `stake`.
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::register())]
        pub fn register(
            origin: OriginFor<T>,
            stake: BalanceOf<T>,
            capacity: u64,
            price: BalanceOf<T>,
            peer_id: PeerIdOf<T>,
            multiaddrs: MultiaddrsOf<T>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(
                !Providers::<T>::contains_key(&who),
                Error::<T>::AlreadyRegistered
            );
            ensure!(
                Providers::<T>::count() < T::MaxProviders::get(),
                Error::<T>::TooManyProviders
            );
            Self::check_terms(stake, capacity, price, &peer_id, &multiaddrs)?;
            T::Currency::hold(&HoldReason::ProviderStake.into(), &who, stake)?;
            let slot = Providers::<T>::count();
            Slots::<T>::insert(slot, &who);
            Self::put(
                &who,
                0,
                ProviderInfo {
                    stake,
                    capacity,
                    used: 0,
                    price,
                    peer_id,
                    multiaddrs,
                    status: ProviderStatus::Active,
                    slot,
                },
            );
            Self::deposit_event(Event::Registered {
                provider: who,
                stake,
                capacity,
                price,
            });
            Ok(())
        }

        /// Changes an active provider's stake, capacity, price and endpoint.
        /// Stake above the old amount is held, stake below it released.
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::update())]
        pub fn update(
            origin: OriginFor<T>,
            stake: BalanceOf<T>,
            capacity: u64,
            price: BalanceOf<T>,
            peer_id: PeerIdOf<T>,
            multiaddrs: MultiaddrsOf<T>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut info = Providers::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
            let weight = Self::weight_of(&info);
            ensure!(info.status == ProviderStatus::Active, Error::<T>::NotActive);
            Self::check_terms(stake, capacity, price, &peer_id, &multiaddrs)?;
            ensure!(capacity >= info.used, Error::<T>::CapacityBelowUsage);
            let reason = HoldReason::ProviderStake.into();
            if stake > info.stake {
                T::Currency::hold(&reason, &who, stake.saturating_sub(info.stake))?;
            } else if stake < info.stake {
                T::Currency::release(
                    &reason,
                    &who,
                    info.stake.saturating_sub(stake),
                    Precision::Exact,
                )?;
            }
            info.stake = stake;
            info.capacity = capacity;
            info.price = price;
            info.peer_id = peer_id;
            info.multiaddrs = multiaddrs;
            Self::put(&who, weight, info);
            Self::deposit_event(Event::Updated {
                provider: who,
                stake,
                capacity,
                price,
            });
            Ok(())
        }

        /// Stops taking new shards; `withdraw` becomes possible after
        /// `UnbondingPeriod` once no shard is left.
        #[pallet::call_index(2)]
        #[pallet::weight(T::WeightInfo::unbond())]
        pub fn unbond(origin: OriginFor<T>) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut info = Providers::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
            ensure!(info.status == ProviderStatus::Active, Error::<T>::NotActive);
            let weight = Self::weight_of(&info);
            let until = Self::unbonding_end();
            info.status = ProviderStatus::Unbonding { until };
            Self::put(&who, weight, info);
            T::OnLeave::on_provider_leave(&who);
            Self::deposit_event(Event::Unbonding {
                provider: who,
                until,
            });
            Ok(())
        }

        /// Leaves the registry and releases the stake.
        #[pallet::call_index(3)]
        #[pallet::weight(T::WeightInfo::withdraw())]
        pub fn withdraw(origin: OriginFor<T>) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let info = Providers::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
            let until = match info.status {
                ProviderStatus::Active => return Err(Error::<T>::NotUnbonding.into()),
                ProviderStatus::Unbonding { until } | ProviderStatus::Ejected { until } => until,
            };
            ensure!(
                frame_system::Pallet::<T>::block_number() >= until,
                Error::<T>::StillUnbonding
            );
            ensure!(info.used == 0, Error::<T>::StillStoring);
            let stake = T::Currency::release_all(
                &HoldReason::ProviderStake.into(),
                &who,
                Precision::BestEffort,
            )?;
            Self::remove_slot(info.slot);
            Providers::<T>::remove(&who);
            Self::deposit_event(Event::Withdrawn {
                provider: who,
                stake,
            });
            Ok(())
        }
    }

    impl<T: Config> Pallet<T> {
        /// Stake needed to declare `capacity` bytes.
        pub fn required_stake(capacity: u64) -> BalanceOf<T> {
            let gib: BalanceOf<T> = capacity.div_ceil(GIB).saturated_into();
            T::MinStake::get().saturating_add(T::StakePerGiB::get().saturating_mul(gib))
        }

        fn check_terms(
            stake: BalanceOf<T>,
            capacity: u64,
            price: BalanceOf<T>,
            peer_id: &PeerIdOf<T>,
            multiaddrs: &MultiaddrsOf<T>,
        ) -> DispatchResult {
            ensure!(capacity > 0, Error::<T>::ZeroCapacity);
            ensure!(price >= T::MinPrice::get(), Error::<T>::PriceTooLow);
            ensure!(
                stake >= Self::required_stake(capacity),
                Error::<T>::StakeTooLow
            );
            ensure!(
                !peer_id.is_empty()
                    && !multiaddrs.is_empty()
                    && multiaddrs.iter().all(|a| !a.is_empty()),
                Error::<T>::InvalidEndpoint
            );
            Ok(())
        }

        /// `info`'s weight in placement.
        fn weight_of(info: &ProviderOf<T>) -> u128 {
            info.weight(Self::required_stake(info.capacity))
        }

        /// Slots in the sampling tree: a power of two.
        fn tree_size() -> u32 {
            T::MaxProviders::get().next_power_of_two()
        }

        /// Stores `info` for `who`, whose weight was `old_weight`, and moves
        /// its weight in the sampling index by the difference.
        fn put(who: &T::AccountId, old_weight: u128, info: ProviderOf<T>) {
            let delta = Self::weight_of(&info).wrapping_sub(old_weight);
            if delta != 0 {
                fenwick::add(
                    &mut StoredTree::<T>::default(),
                    Self::tree_size(),
                    info.slot,
                    delta,
                );
            }
            Providers::<T>::insert(who, info);
        }

        /// Frees `slot` (whose provider has no weight and is leaving) by
        /// moving the last slot's provider into it.
        fn remove_slot(slot: u32) {
            let last = Providers::<T>::count().saturating_sub(1);
            Slots::<T>::remove(slot);
            if slot == last {
                return;
            }
            let Some(moved) = Slots::<T>::take(last) else {
                return;
            };
            if let Some(mut info) = Providers::<T>::get(&moved) {
                let weight = Self::weight_of(&info);
                let mut tree = StoredTree::<T>::default();
                fenwick::add(&mut tree, Self::tree_size(), last, weight.wrapping_neg());
                fenwick::add(&mut tree, Self::tree_size(), slot, weight);
                info.slot = slot;
                Providers::<T>::insert(&moved, info);
            }
            Slots::<T>::insert(slot, moved);
        }

        /// Applies `change` to `who`'s record, keeping its weight in step.
        fn modify<R>(
            who: &T::AccountId,
            change: impl FnOnce(&mut ProviderOf<T>) -> Result<R, DispatchError>,
        ) -> Result<R, DispatchError> {
            let mut info = Providers::<T>::get(who).ok_or(Error::<T>::NotRegistered)?;
            let weight = Self::weight_of(&info);
            let result = change(&mut info)?;
            Self::put(who, weight, info);
            Ok(result)
        }

        pub(crate) fn unbonding_end() -> BlockNumberFor<T> {
            frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingPeriod::get())
        }

        /// Checks the pallet's invariants: the count is bounded, usage fits
        /// capacity, and each provider's recorded stake is what is held.
        pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
            ensure!(
                Providers::<T>::count() <= T::MaxProviders::get(),
                "more providers than MaxProviders"
            );
            ensure!(
                Providers::<T>::count() as usize == Providers::<T>::iter().count(),
                "provider counter out of sync"
            );
            let mut weights = 0u128;
            for (who, info) in Providers::<T>::iter() {
                ensure!(
                    info.used <= info.capacity,
                    "a provider stores more than its capacity"
                );
                ensure!(
                    Slots::<T>::get(info.slot).as_ref() == Some(&who),
                    "a provider's slot does not point back to it"
                );
                weights += Self::weight_of(&info);
                let held = T::Currency::balance_on_hold(&HoldReason::ProviderStake.into(), &who);
                ensure!(
                    held == info.stake,
                    "recorded stake differs from the held balance"
                );
            }
            ensure!(
                fenwick::total(&StoredTree::<T>::default(), Self::tree_size()) == weights,
                "the sampling index's total differs from the providers' weights"
            );
            Ok(())
        }
    }

    /// The sampling index's cells in pallet storage.
    pub(crate) struct StoredTree<T>(PhantomData<T>);

    impl<T> Default for StoredTree<T> {
        fn default() -> Self {
            StoredTree(PhantomData)
        }
    }

    impl<T: Config> fenwick::Cells for StoredTree<T> {
        fn cell(&self, i: u32) -> u128 {
            WeightTree::<T>::get(i)
        }

        fn set_cell(&mut self, i: u32, value: u128) {
            if value == 0 {
                WeightTree::<T>::remove(i);
            } else {
                WeightTree::<T>::insert(i, value);
            }
        }
    }

    impl<T: Config> ProviderRegistry<T::AccountId> for Pallet<T> {
        type Balance = BalanceOf<T>;

        fn pick(
            seed: &[u8; 32],
            wanted: u32,
            min_free: u64,
            max_price: BalanceOf<T>,
            exclude: &[T::AccountId],
        ) -> Vec<Offer<T::AccountId, BalanceOf<T>>> {
            use sp_runtime::traits::Hash;
            let size = Self::tree_size();
            let stored = StoredTree::<T>::default();
            let mut tree = fenwick::Overlay::new(&stored);
            let take_out = |tree: &mut fenwick::Overlay<_>, info: &ProviderOf<T>| {
                fenwick::add(tree, size, info.slot, Self::weight_of(info).wrapping_neg())
            };
            // Each provider's weight comes out once, however often it is
            // named: a second subtraction would leave a negative weight in
            // the overlay, through which `find` could land on it again.
            let mut excluded = std::collections::BTreeSet::new();
            for who in exclude {
                if let Some(info) = Providers::<T>::get(who) {
                    if excluded.insert(info.slot) {
                        take_out(&mut tree, &info);
                    }
                }
            }
            let mut chosen = Vec::new();
            let draws = T::MaxDraws::get().min(wanted.saturating_mul(2).saturating_add(8));
            for draw in 0..draws {
                if chosen.len() as u32 >= wanted {
                    break;
                }
                let total = fenwick::total(&tree, size);
                if total == 0 {
                    break;
                }
                let hash = T::Hashing::hash_of(&(seed, draw));
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&hash.as_ref()[..16]);
                let slot = fenwick::find(&tree, size, u128::from_le_bytes(bytes) % total);
                let Some(info) = Slots::<T>::get(slot)
                    .and_then(|who| Providers::<T>::get(&who).map(|info| (who, info)))
                else {
                    break;
                };
                let (who, info) = info;
                take_out(&mut tree, &info);
                if info.price <= max_price && info.free() >= min_free {
                    chosen.push(Offer {
                        who,
                        free: info.free(),
                        capacity: info.capacity,
                        price: info.price,
                    });
                }
            }
            chosen
        }

        #[cfg(feature = "runtime-benchmarks")]
        fn max_providers() -> u32 {
            T::MaxProviders::get()
        }

        fn reserve(who: &T::AccountId, bytes: u64) -> DispatchResult {
            Self::modify(who, |info| {
                info.used = info
                    .used
                    .checked_add(bytes)
                    .filter(|&used| used <= info.capacity)
                    .ok_or(Error::<T>::InsufficientCapacity)?;
                Ok(())
            })
        }

        fn release(who: &T::AccountId, bytes: u64) {
            let _ = Self::modify(who, |info| {
                info.used = info.used.saturating_sub(bytes);
                Ok(())
            });
        }

        fn price(who: &T::AccountId) -> Option<BalanceOf<T>> {
            Providers::<T>::get(who).map(|p| p.price)
        }

        fn used(who: &T::AccountId) -> u64 {
            Providers::<T>::get(who).map_or(0, |p| p.used)
        }

        fn stake_for(bytes: u64) -> BalanceOf<T> {
            T::StakePerGiB::get().saturating_mul(bytes.div_ceil(GIB).max(1).saturated_into())
        }

        fn slash(who: &T::AccountId, bytes: u64, fraction: Perbill) -> BalanceOf<T> {
            let Some(info) = Providers::<T>::get(who) else {
                return Zero::zero();
            };
            let backing = Self::stake_for(bytes);
            let burnt = T::Currency::burn_held(
                &HoldReason::ProviderStake.into(),
                who,
                (fraction * backing).min(info.stake),
                Precision::BestEffort,
                Fortitude::Force,
            )
            .unwrap_or_else(|_| Zero::zero());
            let _ = Self::modify(who, |info| {
                info.stake = info.stake.saturating_sub(burnt);
                Ok(())
            });
            Self::deposit_event(Event::Slashed {
                provider: who.clone(),
                amount: burnt,
            });
            let below_floor = Providers::<T>::get(who).is_some_and(|info| {
                info.stake < T::MinStake::get() && info.status == ProviderStatus::Active
            });
            if below_floor {
                Self::eject(who);
            }
            burnt
        }

        #[cfg(feature = "runtime-benchmarks")]
        fn register_for_benchmark(who: &T::AccountId, capacity: u64, price: BalanceOf<T>) {
            let (stake, _, _, peer_id, multiaddrs) = crate::benchmarking::terms::<T>(capacity);
            crate::benchmarking::fund::<T>(who, stake);
            Self::register(
                frame_system::RawOrigin::Signed(who.clone()).into(),
                stake,
                capacity,
                price,
                peer_id,
                multiaddrs,
            )
            .expect("a funded account with valid terms registers; qed");
        }

        fn eject(who: &T::AccountId) {
            let until = Self::unbonding_end();
            let ejected = Self::modify(who, |info| {
                ensure!(
                    !matches!(info.status, ProviderStatus::Ejected { .. }),
                    Error::<T>::NotActive
                );
                info.status = ProviderStatus::Ejected { until };
                Ok(())
            });
            if ejected.is_ok() {
                T::OnLeave::on_provider_leave(who);
                Self::deposit_event(Event::Ejected {
                    provider: who.clone(),
                    until,
                });
            }
        }
    }
}
