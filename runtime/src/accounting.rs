//! Token accounting, checked in `try_state` (and after every block the
//! runtime's tests import): every token of the total issuance is in some
//! account, free or held, and what each Mosaic pallet holds matches its
//! records (the pallets check their own holds: escrow, deposits and bonds
//! against the orders, stakes against the registry).
//!
//! A pallet of its own because the check reads every account's balance,
//! which only the runtime, knowing the account data, can do.

pub use pallet::*;

use polkadot_sdk::frame_support::traits::fungible::InspectHold;
use polkadot_sdk::sp_runtime::TryRuntimeError;

use crate::{Balance, Balances, Runtime};

/// Checks the total issuance against every account's balance, and each
/// account's holds against its reserved balance.
pub fn check() -> Result<(), TryRuntimeError> {
    let mut total: Balance = 0;
    for (who, account) in polkadot_sdk::frame_system::Account::<Runtime>::iter() {
        let data = account.data;
        total = total
            .checked_add(data.free)
            .and_then(|t| t.checked_add(data.reserved))
            .ok_or("the balances overflow")?;
        // This runtime reserves only through holds.
        let held: Balance = polkadot_sdk::pallet_balances::Holds::<Runtime>::get(&who)
            .iter()
            .map(|hold| hold.amount)
            .sum();
        if held != data.reserved || held != Balances::total_balance_on_hold(&who) {
            return Err("an account's holds differ from its reserved balance".into());
        }
    }
    if total != polkadot_sdk::pallet_balances::TotalIssuance::<Runtime>::get() {
        return Err("the total issuance differs from the accounts' balances".into());
    }
    Ok(())
}

#[polkadot_sdk::frame_support::pallet]
pub mod pallet {
    use polkadot_sdk::frame_support::pallet_prelude::*;
    use polkadot_sdk::frame_system::pallet_prelude::BlockNumberFor;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    #[pallet::config]
    pub trait Config: polkadot_sdk::frame_system::Config {}

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        #[cfg(feature = "try-runtime")]
        fn try_state(
            _: BlockNumberFor<T>,
        ) -> Result<(), polkadot_sdk::sp_runtime::TryRuntimeError> {
            super::check()
        }
    }
}
