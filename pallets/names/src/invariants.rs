//! The pallet's invariants, checked by `try_state`.

use crate::*;
use frame_support::pallet_prelude::*;
use frame_support::traits::fungible::InspectHold;
use sp_runtime::traits::{Saturating, Zero};

impl<T: Config> Pallet<T> {
    /// Checks the pallet's invariants: every stored name follows the naming
    /// rules; each name keeps at most `MaxVersions` versions, exactly those
    /// its record says, each a valid object CID; the deposit a name records
    /// covers its versions'; the owners' indexes list exactly the names
    /// their owners hold; and what is held from each owner is what its
    /// names record.
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        use std::collections::BTreeMap;
        let mut held: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
        let mut names = 0usize;
        let mut versions = 0usize;
        for (name, record) in Records::<T>::iter() {
            ensure!(
                is_valid_name(&name),
                "a stored name breaks the naming rules"
            );
            ensure!(
                record.kept <= T::MaxVersions::get() && record.kept <= record.latest,
                "a name keeps more versions than MaxVersions or than it had"
            );
            let mut stored = 0u32;
            let mut versions_deposit = BalanceOf::<T>::zero();
            for (version, entry) in Versions::<T>::iter_prefix(&name) {
                ensure!(
                    record.keeps(version),
                    "a version outside the kept range is stored"
                );
                ensure!(
                    mosaic_primitives::manifest::parse_object_cid(&entry.cid).is_some(),
                    "a version points to something that is not an object CID"
                );
                stored += 1;
                versions_deposit = versions_deposit.saturating_add(entry.deposit);
            }
            ensure!(stored == record.kept, "a kept version is missing");
            ensure!(
                record.deposit > versions_deposit,
                "a name's deposit does not cover its own and its versions'"
            );
            ensure!(
                NamesOf::<T>::get(&record.owner).contains(&name),
                "a name is missing from its owner's index"
            );
            let owed = held.entry(record.owner.clone()).or_default();
            *owed = owed.saturating_add(record.deposit);
            names += 1;
            versions += stored as usize;
        }
        ensure!(
            Versions::<T>::iter_keys().count() == versions,
            "versions of an unregistered name are stored"
        );
        let mut listed = 0usize;
        for (owner, list) in NamesOf::<T>::iter() {
            ensure!(!list.is_empty(), "an empty index is stored");
            for name in list.iter() {
                ensure!(
                    Records::<T>::get(name).is_some_and(|record| record.owner == owner),
                    "an index lists a name its owner does not hold"
                );
            }
            listed += list.len();
        }
        // Each name is in its owner's index and each entry is a name of
        // that owner: equal counts leave no room for a name listed twice.
        ensure!(listed == names, "an index lists a name twice");
        for (owner, amount) in held {
            ensure!(
                T::Currency::balance_on_hold(&HoldReason::Deposit.into(), &owner) == amount,
                "the deposit held from an owner differs from what its names record"
            );
        }
        Ok(())
    }
}
