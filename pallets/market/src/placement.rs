//! Placement: what an order would cost and which providers it draws.

use crate::*;
use frame_support::pallet_prelude::*;
use pallet_mosaic_providers::ProviderRegistry;
use sp_runtime::traits::{Hash, Saturating};

impl<T: Config> Pallet<T> {
    /// A quote whose providers are none of `exclude`.
    pub(crate) fn quote_excluding(
        size: u64,
        coding: CodingParams,
        recipients: u32,
        periods: u32,
        max_price: BalanceOf<T>,
        exclude: &[T::AccountId],
    ) -> Result<Quote<T::AccountId, BalanceOf<T>>, DispatchError> {
        use mosaic_primitives::piece::LayoutError;
        let layout = Layout::new(coding, size).map_err(|e| match e {
            LayoutError::Params(_) => Error::<T>::InvalidCoding,
            LayoutError::Empty => Error::<T>::EmptyObject,
            LayoutError::TooManySegments { .. } => Error::<T>::TooLarge,
        })?;
        ensure!(
            (T::MinPeriods::get()..=T::MaxPeriods::get()).contains(&periods),
            Error::<T>::InvalidPeriods
        );
        ensure!(
            recipients <= T::MaxRecipients::get(),
            Error::<T>::InvalidAccess
        );
        let count = u32::from(layout.piece_count());
        ensure!(count <= T::MaxPieces::get(), Error::<T>::TooManyPieces);
        let piece_size = layout.piece_size();
        let seed = Self::placement_seed(&(NextOrderId::<T>::get(),));
        let pieces: Vec<_> = T::Providers::pick(&seed, count, piece_size, max_price, exclude)
            .into_iter()
            .map(|offer| (offer.who, offer.price))
            .collect();
        ensure!(pieces.len() as u32 == count, Error::<T>::NoProviders);
        let escrow = Self::escrow_for(piece_size, pieces.iter().map(|p| p.1), periods)?;
        let deposit = T::DepositBase::get()
            .saturating_add(T::DepositPerPiece::get().saturating_mul(count.into()))
            .saturating_add(T::DepositPerRecipient::get().saturating_mul(recipients.into()));
        Ok(Quote {
            escrow,
            deposit,
            bond: Self::bond(piece_size).saturating_mul(count.into()),
            piece_size,
            pieces,
        })
    }

    /// Randomness for a placement, from the chain's and `context`.
    pub(crate) fn placement_seed(context: &impl Encode) -> [u8; 32] {
        let hash = T::Hashing::hash_of(&(b"mosaic-placement", T::Randomness::get(), context));
        let mut seed = [0u8; 32];
        let bytes = hash.as_ref();
        let n = bytes.len().min(32);
        seed[..n].copy_from_slice(&bytes[..n]);
        seed
    }
}
