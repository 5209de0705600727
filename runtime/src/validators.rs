//! Validator set changes.
//!
//! A validator has three keys: Aura (ed25519, block seals), GRANDPA
//! (ed25519, finality votes) and the sr25519 key whose VRF feeds the audit
//! randomness. Genesis sets them; `set_validators` (root only, so sudo or
//! later governance) replaces all three sets together: Aura and the VRF keys
//! from the next block, GRANDPA through a change scheduled `ChangeDelay`
//! blocks ahead, applied once that block is finalized.
//!
//! The block that enacts the GRANDPA change also raises GRANDPA's set id:
//! nodes see the new set there, and the old set finalizes up to it and no
//! further. (`pallet_grandpa` raises the id only from a session handler,
//! and this runtime has no sessions.)

pub use pallet::*;

use polkadot_sdk::frame_support::weights::Weight;

/// Weight of `set_validators` with `v` validators, measured by the
/// benchmark below like the Mosaic pallets' weights (see
/// `pallets/market/src/weights.rs`).
pub fn set_validators_weight(v: u32) -> Weight {
    let v = u64::from(v);
    pallet_mosaic_providers::weights::measured(30_000_000 + 60_000 * v, 1, 3)
}

#[polkadot_sdk::frame_support::pallet]
pub mod pallet {
    use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
    use polkadot_sdk::frame_support::pallet_prelude::*;
    use polkadot_sdk::frame_system::pallet_prelude::*;
    use polkadot_sdk::sp_core::sr25519;
    use polkadot_sdk::{pallet_aura, pallet_grandpa};
    use scale_info::TypeInfo;

    use crate::AuraId;

    /// The keys of one validator.
    #[derive(
        Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
    )]
    pub struct ValidatorKeys {
        /// Seals blocks.
        pub aura: AuraId,
        /// Votes for finality.
        pub grandpa: pallet_grandpa::AuthorityId,
        /// Signs each block's VRF.
        pub vrf: sr25519::Public,
    }

    /// A new validator set as passed to `set_validators`.
    pub type ValidatorsOf<T> =
        BoundedVec<ValidatorKeys, <T as pallet_aura::Config>::MaxAuthorities>;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    #[pallet::config]
    pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>>
        + pallet_aura::Config<AuthorityId = AuraId>
        + pallet_grandpa::Config
        + pallet_mosaic_audit::Config<MaxAuthorities = <Self as pallet_aura::Config>::MaxAuthorities>
    {
        /// Blocks before a GRANDPA set change takes effect.
        #[pallet::constant]
        type ChangeDelay: Get<BlockNumberFor<Self>>;
    }

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A new validator set was installed (GRANDPA after the delay).
        ValidatorsChanged { count: u32 },
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        /// In the block that enacts a scheduled GRANDPA change, the set id
        /// rises as it starts; `pallet_grandpa` changes the authorities as
        /// it ends.
        fn on_initialize(now: BlockNumberFor<T>) -> Weight {
            let enacting = pallet_grandpa::PendingChange::<T>::get()
                .is_some_and(|change| change.scheduled_at + change.delay == now);
            if !enacting {
                return T::DbWeight::get().reads(1);
            }
            pallet_grandpa::CurrentSetId::<T>::mutate(|id| *id += 1);
            T::DbWeight::get().reads_writes(2, 1)
        }

        fn integrity_test() {
            // The set id is raised in `on_initialize` of the enacting block,
            // which must come after the scheduling one.
            assert!(
                !T::ChangeDelay::get().is_zero(),
                "ChangeDelay must be positive"
            );
        }
    }

    #[pallet::error]
    pub enum Error<T> {
        /// A validator set cannot be empty.
        NoValidators,
        /// A GRANDPA change is still pending; wait until it is applied.
        ChangePending,
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Replaces the validator set (root only).
        #[pallet::call_index(0)]
        #[pallet::weight(super::set_validators_weight(validators.len() as u32))]
        pub fn set_validators(origin: OriginFor<T>, validators: ValidatorsOf<T>) -> DispatchResult {
            ensure_root(origin)?;
            ensure!(!validators.is_empty(), Error::<T>::NoValidators);
            let grandpa = validators.iter().map(|v| (v.grandpa.clone(), 1)).collect();
            pallet_grandpa::Pallet::<T>::schedule_change(grandpa, T::ChangeDelay::get(), None)
                .map_err(|_| Error::<T>::ChangePending)?;
            let aura =
                BoundedVec::truncate_from(validators.iter().map(|v| v.aura.clone()).collect());
            pallet_aura::Pallet::<T>::change_authorities(aura);
            let vrf = BoundedVec::truncate_from(validators.iter().map(|v| v.vrf).collect());
            pallet_mosaic_audit::Pallet::<T>::set_vrf_authorities(vrf);
            Self::deposit_event(Event::ValidatorsChanged {
                count: validators.len() as u32,
            });
            Ok(())
        }
    }
}

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking {
    //! `set_validators` with up to `MaxAuthorities` new validators.

    use super::*;
    use polkadot_sdk::frame_benchmarking::v2::*;
    use polkadot_sdk::frame_support::{traits::Get, BoundedVec};
    use polkadot_sdk::frame_system::RawOrigin;
    use polkadot_sdk::sp_core::{ed25519, sr25519};
    use polkadot_sdk::{pallet_aura, pallet_grandpa};

    #[benchmarks]
    mod benchmarks {
        use super::*;

        #[benchmark]
        fn set_validators(v: Linear<1, { <T as pallet_aura::Config>::MaxAuthorities::get() }>) {
            let keys: Vec<ValidatorKeys> = (0..v)
                .map(|i| {
                    let seed = [i as u8 + 1; 32];
                    ValidatorKeys {
                        aura: ed25519::Public::from_raw(seed).into(),
                        grandpa: ed25519::Public::from_raw(seed).into(),
                        vrf: sr25519::Public::from_raw(seed),
                    }
                })
                .collect();
            #[extrinsic_call]
            _(RawOrigin::Root, BoundedVec::truncate_from(keys));
            assert_eq!(pallet_aura::Authorities::<T>::get().len() as u32, v);
            assert!(pallet_grandpa::PendingChange::<T>::exists());
        }
    }
}
