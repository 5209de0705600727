//! The pallet's invariants, checked by `try_state`.

use crate::*;
use frame_support::pallet_prelude::*;

impl<T: Config> Pallet<T> {
    /// Checks the pallet's invariants: nobody has reached `MaxMisses`
    /// without being ejected, every open challenge was drawn at a
    /// visit, names leaves of a piece its provider still holds, each in
    /// a segment of its own, and is no more than a visit's worth, and
    /// the audit keeps nothing about providers that hold nothing.
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        for (_, misses) in Misses::<T>::iter() {
            ensure!(
                misses < T::MaxMisses::get(),
                "a provider should have been ejected"
            );
        }
        let mut leaves_of = std::collections::BTreeMap::<T::AccountId, u32>::new();
        for (provider, (order, number), challenge) in Challenges::<T>::iter() {
            ensure!(
                (challenge.order, challenge.piece) == (order, number),
                "a challenge is filed under another piece"
            );
            ensure!(
                LastVisit::<T>::get(&provider).is_some_and(|visit| challenge.period <= visit),
                "a challenge was drawn outside a visit"
            );
            ensure!(
                T::Pieces::holds(&provider, order, number),
                "a challenge outlived its piece's stay with the provider"
            );
            let layout = challenge
                .layout()
                .map_err(|_| "a challenge names an impossible layout")?;
            let mut segments = std::collections::BTreeSet::new();
            for leaf in &challenge.leaves {
                let (segment, _) = layout
                    .locate(*leaf)
                    .ok_or("a challenge names a leaf past the piece's end")?;
                ensure!(
                    segments.insert(segment),
                    "two leaves of a challenge share a segment"
                );
            }
            *leaves_of.entry(provider).or_default() += challenge.leaves.len() as u32;
        }
        ensure!(
            leaves_of.values().all(|n| *n <= T::LeavesPerPeriod::get()),
            "a provider has more leaves open than a visit draws"
        );
        ensure!(
            LastVisit::<T>::iter_keys()
                .chain(Misses::<T>::iter_keys())
                .all(|who| T::Pieces::held_bytes(&who) > 0),
            "the audit keeps state of a provider that holds nothing"
        );
        Ok(())
    }
}
