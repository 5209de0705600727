//! Settlement: escrow, paying a piece's proven periods, ending an order.

use crate::*;
use frame_support::pallet_prelude::*;
use frame_support::traits::fungible::MutateHold;
use frame_support::traits::tokens::{Fortitude, Precision, Restriction};
use pallet_mosaic_providers::ProviderRegistry;
use sp_runtime::traits::{SaturatedConversion, Saturating, Zero};

impl<T: Config> Pallet<T> {
    /// Escrow for `size` bytes at `price` per byte per block for `periods`.
    pub(crate) fn cost(
        size: u64,
        price: BalanceOf<T>,
        periods: u32,
    ) -> Result<BalanceOf<T>, Error<T>> {
        let blocks: BalanceOf<T> = T::PeriodLength::get()
            .saturated_into::<u64>()
            .saturated_into();
        let size: BalanceOf<T> = size.saturated_into();
        let periods: BalanceOf<T> = periods.into();
        size.checked_mul(&price)
            .and_then(|x| x.checked_mul(&blocks))
            .and_then(|x| x.checked_mul(&periods))
            .ok_or(Error::<T>::Overflow)
    }

    /// Escrow for pieces of `piece_size` bytes at `prices` for `periods`.
    pub(crate) fn escrow_for(
        piece_size: u64,
        prices: impl Iterator<Item = BalanceOf<T>>,
        periods: u32,
    ) -> Result<BalanceOf<T>, Error<T>> {
        let mut escrow = BalanceOf::<T>::zero();
        for price in prices {
            escrow = escrow
                .checked_add(&Self::cost(piece_size, price, periods)?)
                .ok_or(Error::<T>::Overflow)?;
        }
        Ok(escrow)
    }

    /// Settles piece `number`'s periods before `upto`: paid to its
    /// provider if `pay`, else forfeited (left in escrow for the owner).
    pub(crate) fn settle(
        order: OrderId,
        record: &mut OrderOf<T>,
        number: usize,
        upto: PeriodIndex,
        pay: bool,
    ) {
        let OrderState::Live { start, end } = record.state else {
            return;
        };
        let piece_size = record.piece_size;
        let Some(piece) = record.pieces.get_mut(number) else {
            return;
        };
        // Nothing before the order's first period is ever owed.
        let from = piece.paid_until.max(start);
        let upto = upto.min(end);
        if !piece.confirmed || from >= upto {
            return;
        }
        piece.paid_until = upto;
        if !pay {
            return;
        }
        let Ok(amount) = Self::cost(piece_size, piece.price, upto - from) else {
            return;
        };
        let amount = amount.min(record.escrow);
        if amount.is_zero() {
            return;
        }
        let provider = piece.provider.clone();
        let paid = T::Currency::transfer_on_hold(
            &HoldReason::Escrow.into(),
            &record.owner,
            &provider,
            amount,
            Precision::Exact,
            Restriction::Free,
            Fortitude::Force,
        );
        if paid.is_ok() {
            record.escrow = record.escrow.saturating_sub(amount);
            Earned::<T>::mutate(&provider, |total| *total = total.saturating_add(amount));
            Self::deposit_event(Event::Paid {
                order,
                provider,
                amount,
            });
        }
    }

    /// Frees every piece, refunds the escrow nobody earned by a proof
    /// and removes the order.
    pub(crate) fn end(order: OrderId, mut record: OrderOf<T>, reason: EndReason) {
        for number in 0..record.pieces.len() {
            let (provider, slot) = {
                let piece = &record.pieces[number];
                (piece.provider.clone(), piece.slot)
            };
            T::Providers::release(&provider, record.piece_size);
            Self::remove_provider_piece(&provider, slot, order, &mut record);
            T::OnPieceLeave::on_piece_leave(&provider, order, number as u32);
        }
        let refund = record.escrow;
        let _ = T::Currency::release(
            &HoldReason::Escrow.into(),
            &record.owner,
            record.escrow,
            Precision::BestEffort,
        );
        let _ = T::Currency::release(
            &HoldReason::Deposit.into(),
            &record.owner,
            record.deposit,
            Precision::BestEffort,
        );
        let _ = T::Currency::release(
            &HoldReason::Bond.into(),
            &record.owner,
            record.bond,
            Precision::BestEffort,
        );
        OwnerOrders::<T>::remove(&record.owner, order);
        CidOrders::<T>::remove(&record.cid, order);
        Orders::<T>::remove(order);
        Self::deposit_event(Event::Ended {
            order,
            reason,
            refund,
        });
    }
}
