//! Names pallet: mutable names owned by accounts, each pointing to a CID,
//! with a bounded history of versions (IPNS's role, on chain).
//!
//! **Names.** An account `register`s a free name and holds `NameDeposit`
//! for it. A name is 3 to 64 bytes of lowercase letters `a-z`, digits
//! `0-9`, `-` and `.`, starting and ending with a letter or digit, with no
//! `..` ([`is_valid_name`]): it reads the same in a URL path
//! (`/ipns/{name}`), a shell and a DNS-style hierarchy (`team.dataset`),
//! and one string never has two spellings.
//!
//! **Versions.** The owner's `set(name, cid)` appends a version pointing
//! to the object `cid` (a Mosaic object CID, checked with
//! [`mosaic_primitives::manifest::parse_object_cid`]), numbered from 1 and
//! never reused, and holds `VersionDeposit` for it. The name resolves to
//! its latest version, or to any kept version by number. Every version
//! stays reachable by its CID for as long as an order stores that object:
//! a name records what its owner pointed to and when, it does not keep the
//! data alive.
//!
//! **The history bound.** A name keeps its latest `MaxVersions` versions.
//! A `set` on a name that keeps `MaxVersions` drops the oldest one first
//! and releases that version's deposit (the event `VersionDropped` says
//! which), so that a name can be updated for ever at a bounded cost, the
//! way IPNS records are; the numbers of the kept versions do not change.
//! Refusing instead would freeze a long-lived data set's name once its
//! history filled, for no gain: the dropped version's object keeps its CID.
//!
//! **Transfer and release.** `transfer(name, to)` gives the name, its
//! history and its deposits to `to`: the deposits held from the owner move,
//! still held, to the new owner (`transfer_on_hold`), who gets them back on
//! `release`. The recipient pays nothing, so that nobody can tie up another
//! account's funds by pushing names onto it; filling an account's index
//! with unwanted names costs the sender their deposits, which the
//! recipient collects by releasing them. `release(name)` returns every
//! deposit of the name to its owner and forgets the name and its history;
//! anyone may register it again.
//!
//! **Bounds.** Every storage item is bounded: names (64 bytes), CIDs
//! (`MaxCidLen`), versions per name (`MaxVersions`), and each owner's
//! index of names (`MaxNamesPerOwner`: [`NamesOf`] is one bounded list per
//! owner, read and written whole). The runtime API reads pages of at most
//! [`MAX_PAGE`] versions.

pub use pallet::*;

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};
use polkadot_sdk::{frame_support, frame_system, sp_runtime};
use scale_info::TypeInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod invariants;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use weights::WeightInfo;

/// Fewest bytes in a name.
pub const MIN_NAME_LEN: u32 = 3;
/// Most bytes in a name.
pub const MAX_NAME_LEN: u32 = 64;
/// Most versions one page of a name's history returns.
pub const MAX_PAGE: u32 = 256;

/// A name as calls take it and storage keys it (checked by
/// [`is_valid_name`] before it is stored).
pub type Name = frame_support::BoundedVec<u8, frame_support::traits::ConstU32<MAX_NAME_LEN>>;

/// Whether `name` follows the naming rules: [`MIN_NAME_LEN`] to
/// [`MAX_NAME_LEN`] bytes of `a-z`, `0-9`, `-` and `.`, the first and last a
/// letter or digit, and no `..`.
pub fn is_valid_name(name: &[u8]) -> bool {
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (MIN_NAME_LEN as usize..=MAX_NAME_LEN as usize).contains(&name.len())
        && name
            .iter()
            .all(|b| alphanumeric(b) || *b == b'-' || *b == b'.')
        && name.first().is_some_and(alphanumeric)
        && name.last().is_some_and(alphanumeric)
        && !name.windows(2).any(|pair| pair == b"..")
}

/// A registered name.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct NameRecord<AccountId, Balance, BlockNumber> {
    /// Who may set, transfer and release it.
    pub owner: AccountId,
    /// Everything held from the owner for the name: its own deposit and
    /// each kept version's.
    pub deposit: Balance,
    /// The newest version's number; 0 before the first `set`.
    pub latest: u32,
    /// How many versions are kept: `latest + 1 - kept ..= latest`.
    pub kept: u32,
    /// The block it was registered in.
    pub registered: BlockNumber,
}

impl<AccountId, Balance, BlockNumber> NameRecord<AccountId, Balance, BlockNumber> {
    /// The oldest kept version's number (`latest + 1` when none is kept).
    pub fn oldest(&self) -> u32 {
        self.latest.saturating_add(1).saturating_sub(self.kept)
    }

    /// Whether version `version` is kept.
    pub fn keeps(&self, version: u32) -> bool {
        (self.oldest()..=self.latest).contains(&version)
    }
}

/// One version of a name.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxCidLen))]
pub struct VersionRecord<Balance, BlockNumber, MaxCidLen: frame_support::traits::Get<u32>> {
    /// The object it points to (binary CID).
    pub cid: frame_support::BoundedVec<u8, MaxCidLen>,
    /// The block of the `set` that recorded it.
    pub set_at: BlockNumber,
    /// Held from the owner while it is kept.
    pub deposit: Balance,
}

/// A version as the runtime API answers it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct Entry<BlockNumber> {
    /// Its number, from 1.
    pub version: u32,
    /// The object it points to (binary CID).
    pub cid: Vec<u8>,
    /// The block of the `set` that recorded it.
    pub set_at: BlockNumber,
}

/// What resolving a name answers.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct Resolution<AccountId, BlockNumber> {
    /// The name's owner.
    pub owner: AccountId,
    /// Its newest version's number; 0 if it was never set.
    pub latest: u32,
    /// Its oldest kept version's number (`latest + 1` if none is kept).
    pub oldest: u32,
    /// The version asked for; `None` if it is not kept (never set yet, or
    /// dropped from the history).
    pub entry: Option<Entry<BlockNumber>>,
}

#[frame_support::pallet]
pub mod pallet {
    use super::*;
    use frame_support::pallet_prelude::*;
    use frame_support::traits::fungible::{self, Inspect, MutateHold};
    use frame_support::traits::tokens::{Fortitude, Precision, Restriction};
    use frame_system::pallet_prelude::*;
    use sp_runtime::traits::{Saturating, StaticLookup, Zero};

    /// The balance type of the currency.
    pub type BalanceOf<T> =
        <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
    /// A name record as stored.
    pub type NameRecordOf<T> =
        NameRecord<<T as frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>>;
    /// A version as stored.
    pub type VersionOf<T> =
        VersionRecord<BalanceOf<T>, BlockNumberFor<T>, <T as Config>::MaxCidLen>;
    /// A CID as passed to `set`.
    pub type CidOf<T> = BoundedVec<u8, <T as Config>::MaxCidLen>;
    /// A resolution as the runtime API answers it.
    pub type ResolutionOf<T> =
        Resolution<<T as frame_system::Config>::AccountId, BlockNumberFor<T>>;
    /// An account as `transfer` takes it.
    pub type AccountIdLookupOf<T> = <<T as frame_system::Config>::Lookup as StaticLookup>::Source;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    /// The pallet's configuration. Test runtimes take defaults from
    /// [`config_preludes::TestDefaultConfig`] for all but `Currency`.
    #[pallet::config(with_default)]
    pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
        /// The currency deposits are held in.
        #[pallet::no_default]
        type Currency: fungible::Inspect<Self::AccountId>
            + fungible::Mutate<Self::AccountId>
            + fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

        /// The runtime's hold reasons, which include this pallet's.
        #[pallet::no_default_bounds]
        type RuntimeHoldReason: From<HoldReason>;

        /// Deposit held for a name's record while it is registered.
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type NameDeposit: Get<BalanceOf<Self>>;

        /// Deposit held for each kept version.
        #[pallet::constant]
        #[pallet::no_default_bounds]
        type VersionDeposit: Get<BalanceOf<Self>>;

        /// Versions a name keeps; a `set` beyond them drops the oldest.
        /// Lowering it needs a migration that drops the excess versions.
        #[pallet::constant]
        type MaxVersions: Get<u32>;

        /// Names one account may hold at once.
        #[pallet::constant]
        type MaxNamesPerOwner: Get<u32>;

        /// Longest CID in bytes.
        #[pallet::constant]
        type MaxCidLen: Get<u32>;

        /// Weights of this pallet's calls.
        type WeightInfo: WeightInfo;
    }

    /// Defaults for [`Config`], taken with `#[derive_impl]`.
    pub mod config_preludes {
        use super::*;
        use frame_support::derive_impl;
        use frame_support::traits::ConstU64;

        /// [`TestDefaultConfig`]'s `NameDeposit`.
        pub const NAME_DEPOSIT: u64 = 100;
        /// [`TestDefaultConfig`]'s `VersionDeposit`.
        pub const VERSION_DEPOSIT: u64 = 7;
        /// [`TestDefaultConfig`]'s `MaxVersions`.
        pub const MAX_VERSIONS: u32 = 4;
        /// [`TestDefaultConfig`]'s `MaxNamesPerOwner`.
        pub const MAX_NAMES_PER_OWNER: u32 = 3;

        /// The names pallet of the Mosaic pallets' test runtimes (`u64`
        /// balances and block numbers, as `frame_system`'s and
        /// `pallet_balances`' test preludes have them), with bounds small
        /// enough for tests to reach. A test runtime states `Currency`,
        /// and what it changes.
        pub struct TestDefaultConfig;

        #[derive_impl(frame_system::config_preludes::TestDefaultConfig, no_aggregated_types)]
        impl frame_system::DefaultConfig for TestDefaultConfig {}

        #[frame_support::register_default_impl(TestDefaultConfig)]
        impl DefaultConfig for TestDefaultConfig {
            #[inject_runtime_type]
            type RuntimeHoldReason = ();
            type NameDeposit = ConstU64<NAME_DEPOSIT>;
            type VersionDeposit = ConstU64<VERSION_DEPOSIT>;
            type MaxVersions = ConstU32<MAX_VERSIONS>;
            type MaxNamesPerOwner = ConstU32<MAX_NAMES_PER_OWNER>;
            type MaxCidLen = ConstU32<64>;
            type WeightInfo = ();
        }
    }

    /// Why this pallet holds funds.
    #[pallet::composite_enum]
    pub enum HoldReason {
        /// Deposit for a name's record and its kept versions.
        #[codec(index = 0)]
        Deposit,
    }

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A name was registered.
        Registered {
            name: Name,
            owner: T::AccountId,
            deposit: BalanceOf<T>,
        },
        /// A name points to a new version.
        Set {
            name: Name,
            version: u32,
            cid: CidOf<T>,
            deposit: BalanceOf<T>,
        },
        /// A name's oldest version was dropped to keep `MaxVersions`, and
        /// its deposit returned.
        VersionDropped {
            name: Name,
            version: u32,
            refund: BalanceOf<T>,
        },
        /// A name, its history and its deposits went to another account.
        Transferred {
            name: Name,
            from: T::AccountId,
            to: T::AccountId,
            deposit: BalanceOf<T>,
        },
        /// A name and its history were forgotten and its deposits returned.
        Released {
            name: Name,
            owner: T::AccountId,
            refund: BalanceOf<T>,
        },
    }

    #[pallet::error]
    pub enum Error<T> {
        /// The name breaks the naming rules: 3 to 64 bytes of `a-z`, `0-9`,
        /// `-` and `.`, starting and ending with a letter or digit, with no
        /// `..`. Choose one that follows them.
        InvalidName,
        /// Another account holds the name; choose another, or ask its owner
        /// to transfer it.
        NameTaken,
        /// No such name is registered; check its spelling, or register it.
        UnknownName,
        /// Only the name's owner may set, transfer or release it; sign with
        /// the owner's key.
        NotOwner,
        /// The CID is not a Mosaic object CID (a CIDv1 over SHA-256 of raw
        /// or dag-pb data, in canonical binary form); pass the CID
        /// `mosaic put` printed.
        InvalidCid,
        /// The name's latest version already points to this CID; nothing
        /// to record.
        Unchanged,
        /// The account holds `MaxNamesPerOwner` names already; it must
        /// release one first.
        TooManyNames,
        /// The name already belongs to that account.
        AlreadyOwner,
        /// The name was set `u32::MAX` times and has no version number
        /// left; register another name.
        VersionsExhausted,
        /// The recipient's account does not exist (it holds no tokens);
        /// send it at least the existential deposit first.
        UnknownAccount,
    }

    /// Registered names.
    #[pallet::storage]
    pub type Records<T: Config> = StorageMap<_, Blake2_128Concat, Name, NameRecordOf<T>>;

    /// The kept versions of each name, by number.
    #[pallet::storage]
    pub type Versions<T: Config> =
        StorageDoubleMap<_, Blake2_128Concat, Name, Twox64Concat, u32, VersionOf<T>>;

    /// Each owner's names, in the order they came to it (no entry for an
    /// owner of none).
    #[pallet::storage]
    pub type NamesOf<T: Config> = StorageMap<
        _,
        Blake2_128Concat,
        T::AccountId,
        BoundedVec<Name, T::MaxNamesPerOwner>,
        ValueQuery,
    >;

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn integrity_test() {
            assert!(T::MaxVersions::get() > 0, "MaxVersions must be positive");
            assert!(
                T::MaxNamesPerOwner::get() > 0,
                "MaxNamesPerOwner must be positive"
            );
            assert!(
                !T::NameDeposit::get().is_zero() && !T::VersionDeposit::get().is_zero(),
                "NameDeposit and VersionDeposit must be positive: no record is free"
            );
        }

        #[cfg(feature = "try-runtime")]
        fn try_state(_: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Registers a free name to the caller, holding `NameDeposit`.
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::register())]
        pub fn register(origin: OriginFor<T>, name: Name) -> DispatchResult {
            let owner = ensure_signed(origin)?;
            ensure!(is_valid_name(&name), Error::<T>::InvalidName);
            ensure!(!Records::<T>::contains_key(&name), Error::<T>::NameTaken);
            Self::add_to_index(&owner, &name)?;
            let deposit = T::NameDeposit::get();
            T::Currency::hold(&HoldReason::Deposit.into(), &owner, deposit)?;
            Records::<T>::insert(
                &name,
                NameRecord {
                    owner: owner.clone(),
                    deposit,
                    latest: 0,
                    kept: 0,
                    registered: frame_system::Pallet::<T>::block_number(),
                },
            );
            Self::deposit_event(Event::Registered {
                name,
                owner,
                deposit,
            });
            Ok(())
        }

        /// Points the caller's name to `cid` as a new version, holding
        /// `VersionDeposit`; at `MaxVersions` kept, the oldest is dropped
        /// first and its deposit returned.
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::set())]
        pub fn set(origin: OriginFor<T>, name: Name, cid: CidOf<T>) -> DispatchResult {
            let owner = ensure_signed(origin)?;
            let mut record = Self::owned(&owner, &name)?;
            mosaic_primitives::manifest::parse_object_cid(&cid).ok_or(Error::<T>::InvalidCid)?;
            let unchanged = record.kept > 0
                && Versions::<T>::get(&name, record.latest).is_some_and(|v| v.cid == cid);
            ensure!(!unchanged, Error::<T>::Unchanged);
            let version = record
                .latest
                .checked_add(1)
                .ok_or(Error::<T>::VersionsExhausted)?;
            let reason: T::RuntimeHoldReason = HoldReason::Deposit.into();
            if record.kept >= T::MaxVersions::get() {
                let oldest = record.oldest();
                let refund = match Versions::<T>::take(&name, oldest) {
                    Some(dropped) => {
                        T::Currency::release(&reason, &owner, dropped.deposit, Precision::Exact)?
                    }
                    None => Zero::zero(),
                };
                record.kept = record.kept.saturating_sub(1);
                record.deposit = record.deposit.saturating_sub(refund);
                Self::deposit_event(Event::VersionDropped {
                    name: name.clone(),
                    version: oldest,
                    refund,
                });
            }
            let deposit = T::VersionDeposit::get();
            T::Currency::hold(&reason, &owner, deposit)?;
            Versions::<T>::insert(
                &name,
                version,
                VersionRecord {
                    cid: cid.clone(),
                    set_at: frame_system::Pallet::<T>::block_number(),
                    deposit,
                },
            );
            record.latest = version;
            record.kept = record.kept.saturating_add(1);
            record.deposit = record.deposit.saturating_add(deposit);
            Records::<T>::insert(&name, record);
            Self::deposit_event(Event::Set {
                name,
                version,
                cid,
                deposit,
            });
            Ok(())
        }

        /// Gives the caller's name, its history and its deposits to `to`:
        /// what is held for the name moves to `to`, still held.
        #[pallet::call_index(2)]
        #[pallet::weight(T::WeightInfo::transfer())]
        pub fn transfer(
            origin: OriginFor<T>,
            name: Name,
            to: AccountIdLookupOf<T>,
        ) -> DispatchResult {
            let from = ensure_signed(origin)?;
            let to = T::Lookup::lookup(to)?;
            let mut record = Self::owned(&from, &name)?;
            ensure!(to != from, Error::<T>::AlreadyOwner);
            // An account that does not exist would hold the deposits with
            // no balance of its own to keep it alive.
            ensure!(
                frame_system::Pallet::<T>::account_exists(&to),
                Error::<T>::UnknownAccount
            );
            Self::add_to_index(&to, &name)?;
            Self::remove_from_index(&from, &name);
            T::Currency::transfer_on_hold(
                &HoldReason::Deposit.into(),
                &from,
                &to,
                record.deposit,
                Precision::Exact,
                Restriction::OnHold,
                Fortitude::Polite,
            )?;
            let deposit = record.deposit;
            record.owner = to.clone();
            Records::<T>::insert(&name, record);
            Self::deposit_event(Event::Transferred {
                name,
                from,
                to,
                deposit,
            });
            Ok(())
        }

        /// Forgets the caller's name and its history, and returns every
        /// deposit held for them.
        #[pallet::call_index(3)]
        #[pallet::weight(T::WeightInfo::release(T::MaxVersions::get()))]
        pub fn release(origin: OriginFor<T>, name: Name) -> DispatchResultWithPostInfo {
            let owner = ensure_signed(origin)?;
            let record = Self::owned(&owner, &name)?;
            for version in record.oldest()..=record.latest {
                Versions::<T>::remove(&name, version);
            }
            Self::remove_from_index(&owner, &name);
            Records::<T>::remove(&name);
            let refund = T::Currency::release(
                &HoldReason::Deposit.into(),
                &owner,
                record.deposit,
                Precision::BestEffort,
            )?;
            Self::deposit_event(Event::Released {
                name,
                owner,
                refund,
            });
            Ok(Some(T::WeightInfo::release(record.kept)).into())
        }
    }

    impl<T: Config> Pallet<T> {
        /// The record of `name`, if `who` owns it.
        fn owned(who: &T::AccountId, name: &Name) -> Result<NameRecordOf<T>, DispatchError> {
            let record = Records::<T>::get(name).ok_or(Error::<T>::UnknownName)?;
            ensure!(record.owner == *who, Error::<T>::NotOwner);
            Ok(record)
        }

        /// Adds `name` to `owner`'s index.
        fn add_to_index(owner: &T::AccountId, name: &Name) -> DispatchResult {
            NamesOf::<T>::try_mutate(owner, |names| names.try_push(name.clone()))
                .map_err(|_| Error::<T>::TooManyNames.into())
        }

        /// Takes `name` out of `owner`'s index, keeping the others' order.
        fn remove_from_index(owner: &T::AccountId, name: &Name) {
            NamesOf::<T>::mutate_exists(owner, |names| {
                if let Some(list) = names {
                    list.retain(|n| n != name);
                    if list.is_empty() {
                        *names = None;
                    }
                }
            });
        }

        /// What `name` resolves to: its latest version, or version
        /// `version`. `None` if no such name is registered.
        pub fn resolve(name: &[u8], version: Option<u32>) -> Option<ResolutionOf<T>> {
            let name = Name::try_from(name.to_vec()).ok()?;
            let record = Records::<T>::get(&name)?;
            let wanted = version.unwrap_or(record.latest);
            let entry = if record.keeps(wanted) {
                Versions::<T>::get(&name, wanted).map(|v| Entry {
                    version: wanted,
                    cid: v.cid.into_inner(),
                    set_at: v.set_at,
                })
            } else {
                None
            };
            Some(Resolution {
                oldest: record.oldest(),
                owner: record.owner,
                latest: record.latest,
                entry,
            })
        }

        /// One page of `name`'s kept versions, newest first: those numbered
        /// below `before` (all if `None`), at most `limit` (capped at
        /// [`MAX_PAGE`]). Empty for an unknown name.
        pub fn history(
            name: &[u8],
            before: Option<u32>,
            limit: u32,
        ) -> Vec<Entry<BlockNumberFor<T>>> {
            let Ok(name) = Name::try_from(name.to_vec()) else {
                return Vec::new();
            };
            let Some(record) = Records::<T>::get(&name) else {
                return Vec::new();
            };
            let below = before
                .unwrap_or(u32::MAX)
                .min(record.latest.saturating_add(1));
            (record.oldest()..below)
                .rev()
                .take(limit.min(MAX_PAGE) as usize)
                .filter_map(|version| {
                    Versions::<T>::get(&name, version).map(|v| Entry {
                        version,
                        cid: v.cid.into_inner(),
                        set_at: v.set_at,
                    })
                })
                .collect()
        }

        /// `owner`'s names, in the order they came to it (at most
        /// `MaxNamesPerOwner`).
        pub fn names_of(owner: &T::AccountId) -> Vec<Name> {
            NamesOf::<T>::get(owner).into_inner()
        }
    }
}
