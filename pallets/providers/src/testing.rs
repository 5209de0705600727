//! What the Mosaic pallets' test runtimes share beyond their config
//! ([`crate::config_preludes`]): the accounts endowed at genesis, and the
//! check, after every test, that no token was created and none destroyed
//! except by burning.
//!
//! Like `frame_system::mocking`, this is built with the pallet, for the test
//! runtimes of this crate and of the pallets that depend on it; a runtime
//! never calls it.

use crate::{BalanceOf, Config, Event};
use frame_support::traits::fungible::Inspect;
use polkadot_sdk::{frame_support, frame_system, sp_runtime};
use sp_runtime::traits::Zero;

/// Accounts `1..=accounts`, each endowed with `each` at genesis.
#[derive(Clone, Copy, Debug)]
pub struct Endowment {
    /// How many accounts, numbered from 1.
    pub accounts: u64,
    /// What each account starts with.
    pub each: u64,
}

impl Endowment {
    /// The genesis balances, for `pallet_balances::GenesisConfig`.
    pub fn balances(&self) -> Vec<(u64, u64)> {
        (1..=self.accounts).map(|who| (who, self.each)).collect()
    }

    /// Asserts that the endowed accounts' balances add up to total
    /// issuance, and that total issuance is the endowment less `burnt`.
    pub fn assert_conserved<T>(&self, burnt: u64)
    where
        T: Config<AccountId = u64>,
        T::Currency: Inspect<u64, Balance = u64>,
    {
        self.assert_currency_conserved::<T::Currency>(burnt)
    }

    /// [`Self::assert_conserved`] for any currency, for test runtimes
    /// without the registry.
    pub fn assert_currency_conserved<C: Inspect<u64, Balance = u64>>(&self, burnt: u64) {
        let issuance = C::total_issuance();
        let total: u64 = (1..=self.accounts).map(|who| C::total_balance(&who)).sum();
        assert_eq!(total, issuance, "balances differ from total issuance");
        assert_eq!(
            issuance + burnt,
            self.accounts * self.each,
            "tokens appeared or vanished"
        );
    }
}

/// Stake the registry burnt by slashing, from the events of the block.
pub fn slashed<T: Config>() -> BalanceOf<T>
where
    <T as frame_system::Config>::RuntimeEvent: TryInto<Event<T>>,
{
    frame_system::Pallet::<T>::events()
        .into_iter()
        .filter_map(|record| match record.event.try_into() {
            Ok(Event::Slashed { amount, .. }) => Some(amount),
            _ => None,
        })
        .fold(Zero::zero(), |sum, amount| sum + amount)
}
