//! Deadlines and expiries: when each order's confirm deadline or expiry is
//! handled, and what a missed confirmation costs.

use crate::*;
use frame_support::pallet_prelude::*;
use frame_support::traits::fungible::MutateHold;
use frame_support::traits::tokens::{Fortitude, Precision};
use frame_system::pallet_prelude::*;
use pallet_mosaic_providers::ProviderRegistry;
use sp_runtime::traits::{SaturatedConversion, Saturating, Zero};

impl<T: Config> Pallet<T> {
    /// Handles the deadlines and expiries due by `now`, oldest first,
    /// spending at most `DeadlineWeight` (the first order handled is never
    /// refused, so the lists always drain); what does not fit stays in its
    /// list for the next block. Returns the weight spent.
    pub(crate) fn handle_deadlines(now: BlockNumberFor<T>) -> Weight {
        let db = T::DbWeight::get();
        let budget = T::DeadlineWeight::get();
        // The cursor, read and written.
        let mut spent = db.reads_writes(1, 1);
        let mut block = DeadlineCursor::<T>::get().unwrap_or(now);
        let mut handled_any = false;
        for _ in 0..LISTS_PER_BLOCK {
            if block > now {
                break;
            }
            // The list, taken and possibly put back.
            spent.saturating_accrue(db.reads_writes(1, 1));
            let mut due = Deadlines::<T>::take(block);
            let mut handled = 0;
            for &order in due.iter() {
                // The order is read here and again, from the overlay, by
                // its handler.
                let Some(record) = Orders::<T>::get(order) else {
                    handled += 1;
                    continue;
                };
                let cost = Self::deadline_weight(record.pieces.len() as u32);
                if handled_any && spent.saturating_add(cost).any_gt(budget) {
                    break;
                }
                spent.saturating_accrue(cost);
                handled += 1;
                handled_any = true;
                match record.state {
                    OrderState::Pending { .. } => Self::confirm_deadline(order, record),
                    OrderState::Live { .. } => Self::end(order, record, EndReason::Expired),
                }
            }
            if handled < due.len() {
                due.drain(..handled);
                Deadlines::<T>::insert(block, due);
                DeadlineCursor::<T>::put(block);
                return spent;
            }
            block = block.saturating_add(1u32.into());
        }
        if block > now {
            DeadlineCursor::<T>::kill();
        } else {
            DeadlineCursor::<T>::put(block);
        }
        spent
    }

    /// The most handling the deadline or expiry of an order of `pieces`
    /// pieces may weigh.
    pub(crate) fn deadline_weight(pieces: u32) -> Weight {
        T::WeightInfo::end(pieces).max(T::WeightInfo::unconfirmed(pieces))
    }

    /// Queues `order` at the first block from `at` whose list has room,
    /// trying a few; returns that block.
    pub(crate) fn schedule(
        at: BlockNumberFor<T>,
        order: OrderId,
    ) -> Result<BlockNumberFor<T>, DispatchError> {
        let mut block = at;
        for _ in 0..SCHEDULE_TRIES {
            if Deadlines::<T>::try_mutate(block, |due| due.try_push(order)).is_ok() {
                return Ok(block);
            }
            block = block.saturating_add(1u32.into());
        }
        Err(Error::<T>::TooManyDeadlines.into())
    }

    /// Queues the expiry of `order`, whose last period is `end - 1`: at a
    /// block of period `end` that the order's id picks, so that orders
    /// ending together are spread over the whole period rather than
    /// crowding its first block, or of a later period if those are full.
    pub(crate) fn schedule_expiry(
        order: OrderId,
        end: PeriodIndex,
    ) -> Result<BlockNumberFor<T>, DispatchError> {
        let length: u64 = T::PeriodLength::get().saturated_into();
        let offset: BlockNumberFor<T> = (order % length.max(1)).saturated_into();
        let mut last = Err(Error::<T>::TooManyDeadlines.into());
        for late in 0..EXPIRY_PERIODS {
            let at = Self::period_start(end.saturating_add(late)).saturating_add(offset);
            last = Self::schedule(at, order);
            if last.is_ok() {
                break;
            }
        }
        last
    }

    /// Takes `order` off the list of block `at`.
    pub(crate) fn unschedule(at: BlockNumberFor<T>, order: OrderId) {
        Deadlines::<T>::mutate(at, |due| due.retain(|o| *o != order));
    }

    /// A pending order's confirm deadline: each provider that did not
    /// confirm forfeits its bond, the owner its share, and the piece is
    /// queued to move; the order gets another window (the owner's share
    /// held again), or is cancelled after `ConfirmRounds` or when the
    /// owner cannot put its share up again.
    pub(crate) fn confirm_deadline(order: OrderId, mut record: OrderOf<T>) {
        record.rounds = record.rounds.saturating_add(1);
        let late: Vec<(u32, T::AccountId)> = record
            .pieces
            .iter()
            .enumerate()
            .filter(|(_, piece)| !piece.confirmed)
            .map(|(number, piece)| (number as u32, piece.provider.clone()))
            .collect();
        let share = Self::bond(record.piece_size);
        let mut lost = BalanceOf::<T>::zero();
        for (number, provider) in &late {
            // The owner's share goes too: the chain cannot tell a
            // provider that did not store from an owner that did not
            // upload, so neither gains by the other's failure.
            let forfeited = T::Currency::burn_held(
                &HoldReason::Bond.into(),
                &record.owner,
                share.min(record.bond),
                Precision::BestEffort,
                Fortitude::Force,
            )
            .unwrap_or_else(|_| Zero::zero());
            record.bond = record.bond.saturating_sub(forfeited);
            lost = lost.saturating_add(forfeited);
            Self::slash_unconfirmed(order, *number, provider, record.piece_size, forfeited);
        }
        let deadline =
            frame_system::Pallet::<T>::block_number().saturating_add(T::ConfirmWindow::get());
        // Another round puts the owner's bond back up for the pieces
        // that move: every round costs both sides alike.
        let another_round = record.rounds < T::ConfirmRounds::get()
            && T::Currency::hold(&HoldReason::Bond.into(), &record.owner, lost).is_ok();
        if another_round {
            record.bond = record.bond.saturating_add(lost);
        }
        let rescheduled = another_round
            .then(|| Self::schedule(deadline, order).ok())
            .flatten();
        let Some(due) = rescheduled else {
            Self::end(order, record, EndReason::Unconfirmed);
            return;
        };
        record.state = OrderState::Pending { deadline };
        record.due = due;
        Orders::<T>::insert(order, record);
        for (number, provider) in late {
            Self::queue_move(order, number, provider);
        }
    }

    /// A repaired piece's confirm deadline: if `provider` still holds it
    /// unconfirmed, it forfeits its bond and the piece moves again.
    pub(crate) fn repair_deadline(order: OrderId, piece: u32, provider: &T::AccountId) {
        let Some(record) = Orders::<T>::get(order) else {
            return;
        };
        let late = record
            .pieces
            .get(piece as usize)
            .is_some_and(|p| p.provider == *provider && !p.confirmed);
        if late {
            Self::slash_unconfirmed(order, piece, provider, record.piece_size, Zero::zero());
            Self::queue_move(order, piece, provider.clone());
        }
    }

    /// The bond each side puts up for one piece of `piece_size` bytes:
    /// `UnconfirmedSlash` of the stake backing it.
    pub(crate) fn bond(piece_size: u64) -> BalanceOf<T> {
        T::UnconfirmedSlash::get() * T::Providers::stake_for(piece_size)
    }

    /// Burns the bond of `provider`, which did not confirm piece `piece`
    /// of `order` (of `bytes` bytes) in time, the owner having
    /// `forfeited` its share.
    pub(crate) fn slash_unconfirmed(
        order: OrderId,
        piece: u32,
        provider: &T::AccountId,
        bytes: u64,
        forfeited: BalanceOf<T>,
    ) {
        let slashed = T::Providers::slash(provider, bytes, T::UnconfirmedSlash::get());
        Self::deposit_event(Event::Unconfirmed {
            order,
            piece,
            provider: provider.clone(),
            slashed,
            forfeited,
        });
    }
}
