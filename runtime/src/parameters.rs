//! Chain parameters that differ between development and production chains:
//! set by the genesis preset (see [`crate::genesis`]), not compiled in.
//!
//! The market, provider and audit pallets read them through the `Get`
//! adapters below ([`PeriodLength`], [`ConfirmWindow`], [`UnbondingPeriod`],
//! [`MaxMisses`], [`AnswerWindow`]). They are fixed at genesis: a period length that changed
//! under live orders would move every period boundary they were priced by.
//! A chain without them in its genesis (an empty test state) reads the
//! production values.

pub use pallet::*;

use polkadot_sdk::frame_support::traits::Get;

use crate::{BlockNumber, Runtime, DAYS, MINUTES};

#[polkadot_sdk::frame_support::pallet]
pub mod pallet {
    use super::*;
    use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
    use polkadot_sdk::frame_support::pallet_prelude::*;
    use scale_info::TypeInfo;

    /// The parameters.
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
        serde::Serialize,
        serde::Deserialize,
    )]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct ChainParameters {
        /// Blocks per audit and payment period.
        pub period_length: BlockNumber,
        /// Blocks the providers of a new order have to confirm it.
        pub confirm_window: BlockNumber,
        /// Blocks between a provider's `unbond` (or ejection) and `withdraw`.
        pub unbonding_period: BlockNumber,
        /// Failed audits in a row that get a provider ejected.
        pub max_misses: u32,
        /// Blocks from the block that reveals a challenge to its deadline.
        pub answer_window: BlockNumber,
    }

    impl ChainParameters {
        /// A production chain's: five-minute periods, ten minutes to
        /// confirm, a day to unbond, three misses, five blocks (15 s) to
        /// answer a challenge.
        pub const PRODUCTION: Self = ChainParameters {
            period_length: 5 * MINUTES,
            confirm_window: 10 * MINUTES,
            unbonding_period: DAYS,
            max_misses: 3,
            answer_window: 5,
        };

        /// A development chain's, short enough to watch the whole loop in
        /// minutes: one-minute periods, five minutes to confirm, ten to
        /// unbond.
        pub const DEVELOPMENT: Self = ChainParameters {
            period_length: MINUTES,
            confirm_window: 5 * MINUTES,
            unbonding_period: 10 * MINUTES,
            max_misses: 3,
            answer_window: 5,
        };

        /// Why these parameters cannot run a chain, if they cannot.
        pub fn check(&self) -> Result<(), &'static str> {
            if self.period_length == 0 || self.confirm_window == 0 || self.max_misses == 0 {
                return Err("period length, confirm window and max misses must be positive");
            }
            // Challenges of one visit expire before the next: visits are at
            // least half a period apart.
            if self.answer_window == 0 || self.answer_window > self.period_length / 2 {
                return Err("the answer window must be between one block and half a period");
            }
            Ok(())
        }
    }

    // Development chains show the whole audit loop within minutes.
    const _: () = assert!(
        ChainParameters::DEVELOPMENT.period_length <= MINUTES
            && ChainParameters::DEVELOPMENT.confirm_window <= 5 * MINUTES
    );

    impl Default for ChainParameters {
        fn default() -> Self {
            Self::PRODUCTION
        }
    }

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    #[pallet::config]
    pub trait Config: polkadot_sdk::frame_system::Config {}

    /// The chain's parameters.
    #[pallet::storage]
    pub type Parameters<T> = StorageValue<_, ChainParameters, ValueQuery>;

    #[pallet::genesis_config]
    #[derive(polkadot_sdk::frame_support::DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        /// The chain's parameters.
        pub parameters: ChainParameters,
        #[serde(skip)]
        pub _config: core::marker::PhantomData<T>,
    }

    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            if let Err(why) = self.parameters.check() {
                panic!("invalid chain parameters in genesis: {why}");
            }
            Parameters::<T>::put(self.parameters);
        }
    }
}

/// Declares a `Get` adapter for one field of [`ChainParameters`].
macro_rules! parameter {
    ($(#[$doc:meta])* $name:ident: $type:ty = $field:ident) => {
        $(#[$doc])*
        pub struct $name;

        impl Get<$type> for $name {
            fn get() -> $type {
                Parameters::<Runtime>::get().$field
            }
        }
    };
}

parameter!(
    /// Blocks per audit and payment period.
    PeriodLength: BlockNumber = period_length
);
parameter!(
    /// Blocks the providers of a new order have to confirm it.
    ConfirmWindow: BlockNumber = confirm_window
);
parameter!(
    /// Blocks between `unbond` and `withdraw`.
    UnbondingPeriod: BlockNumber = unbonding_period
);
parameter!(
    /// Failed audits in a row before ejection.
    MaxMisses: u32 = max_misses
);
parameter!(
    /// Blocks from a challenge's reveal to its deadline.
    AnswerWindow: BlockNumber = answer_window
);
