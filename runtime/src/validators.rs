//! Validator set changes.
//!
//! A validator has three keys: Aura (ed25519, block seals), GRANDPA
//! (ed25519, finality votes) and the sr25519 key whose VRF feeds the audit
//! randomness. Genesis sets them; `set_validators` (root only, so sudo or
//! later governance) replaces all three sets together: Aura and the VRF keys
//! from the next block, GRANDPA through a change scheduled `ChangeDelay`
//! blocks ahead, applied once that block is finalized.

pub use pallet::*;

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
        #[pallet::weight(T::DbWeight::get().reads_writes(4, 6).saturating_add(Weight::from_parts(10_000_000, 2_000)))]
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
