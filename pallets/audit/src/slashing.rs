//! Failed audits: pieces forfeit and move, providers are slashed for the
//! bytes at fault and ejected after `MaxMisses`.

use crate::*;
use frame_support::pallet_prelude::*;
use pallet_mosaic_providers::ProviderRegistry;
use sp_runtime::Saturating;

impl<T: Config> Pallet<T> {
    /// Challenges `provider` failed at once: each piece forfeits its
    /// unpaid periods and is counted failed (and moved, see
    /// [`PieceIndex::failed`]); one slash for their bytes
    /// together and one more failure in a row, ejecting the provider at
    /// `MaxMisses`. A piece that left the provider meanwhile costs
    /// nothing (its challenge should have been withdrawn).
    pub(crate) fn penalize(provider: &T::AccountId, failed: &[Challenge], failure: Failure) {
        let mut bytes = 0u64;
        let mut count = 0u32;
        for challenge in failed {
            let (order, piece) = (challenge.order, challenge.piece);
            if !T::Pieces::holds(provider, order, piece) {
                continue;
            }
            let size = challenge.layout().map(|l| l.piece_size()).unwrap_or(0);
            bytes = bytes.saturating_add(size.max(1));
            count += 1;
            T::Pieces::failed(order, piece, challenge.period, failure == Failure::BadProof);
            Self::deposit_event(Event::Failed {
                provider: provider.clone(),
                order,
                piece,
                period: challenge.period,
                failure,
            });
        }
        if bytes == 0 {
            return;
        }
        let slashed = T::Providers::slash(provider, bytes, T::SlashFraction::get());
        Tallies::<T>::mutate(provider, |t| {
            t.failed = t.failed.saturating_add(count);
            t.slashed = t.slashed.saturating_add(slashed);
        });
        let misses = Misses::<T>::mutate(provider, |m| {
            *m = m.saturating_add(1);
            *m
        });
        Self::deposit_event(Event::Penalized {
            provider: provider.clone(),
            bytes,
            slashed,
            misses,
        });
        if misses >= T::MaxMisses::get() {
            Misses::<T>::remove(provider);
            T::Providers::eject(provider);
            Self::deposit_event(Event::Ejected {
                provider: provider.clone(),
            });
        }
    }
}
