//! Repair: moving pieces away from providers that failed their audit or
//! are leaving.

use crate::*;
use frame_support::pallet_prelude::*;
use pallet_mosaic_providers::{OnProviderLeave, ProviderRegistry};
use sp_runtime::traits::Saturating;

impl<T: Config> Pallet<T> {
    /// Queues piece `piece` of `order` to move away from `provider` in a
    /// repair pass; reports it when the queue is full (it stays, and is
    /// queued again at its next failure).
    pub(crate) fn queue_move(order: OrderId, piece: u32, provider: T::AccountId) {
        let queued = FailedPieces::<T>::mutate(|queue| {
            let entry = (order, piece, provider.clone());
            queue.contains(&entry) || queue.try_push(entry).is_ok()
        });
        if !queued {
            Self::deposit_event(Event::RepairFailed {
                order,
                piece,
                provider,
            });
        }
    }

    /// Looks at up to `budget` pieces that failed their audit, then of
    /// leaving providers (or ends of their lists, each a read too),
    /// moving those it can; returns how many it looked at. A failed
    /// piece no provider can take stays where it is (and is queued again
    /// when it fails again). Leaving providers take turns, one piece
    /// each, from where the last pass stopped; a provider whose list
    /// was tried to its end without emptying starts over, so a piece
    /// nobody could take is tried again until some provider can (it is
    /// reported the first time only).
    pub(crate) fn repair(budget: u32) -> u32 {
        let mut done = 0;
        let mut failed = FailedPieces::<T>::get();
        if !failed.is_empty() {
            let take = (budget as usize).min(failed.len());
            for (order, piece, provider) in failed.drain(..take) {
                done += 1;
                if Self::holder_of(order, piece).as_ref() == Some(&provider)
                    && !Self::reassign(order, piece)
                {
                    Self::deposit_event(Event::RepairFailed {
                        order,
                        piece,
                        provider,
                    });
                }
            }
            FailedPieces::<T>::put(failed);
        }
        while done < budget {
            // A turn of up to the budget left, read before anything
            // changes: a map changed under its iterator may skip keys.
            let wanted = (budget - done) as usize;
            let resumed = LeavingCursor::<T>::take();
            let from_start = resumed.is_none();
            let mut turn = match resumed {
                Some(key) => Leaving::<T>::iter_from(key.into_inner()),
                None => Leaving::<T>::iter(),
            };
            let batch: Vec<_> = turn.by_ref().take(wanted).collect();
            if batch.len() == wanted {
                if let Ok(key) = BoundedVec::try_from(turn.last_raw_key().to_vec()) {
                    LeavingCursor::<T>::put(key);
                }
            }
            if batch.is_empty() {
                if from_start {
                    break;
                }
                // Past the last one: wrap around to the first.
                continue;
            }
            for (leaving, cursor) in batch {
                done += 1;
                Self::repair_one(&leaving, cursor);
            }
        }
        done
    }

    /// Tries the piece at `leaving`'s cursor: moves it (its slot is then
    /// refilled, so the cursor stays) or steps past it. At the end of
    /// the list the provider is done if it holds nothing, else it starts
    /// over.
    pub(crate) fn repair_one(leaving: &T::AccountId, mut cursor: RepairCursor) {
        match ProviderPieces::<T>::get(leaving, cursor.slot) {
            Some((order, piece)) => {
                if !Self::reassign(order, piece) {
                    cursor.slot += 1;
                    if !cursor.retrying {
                        Self::deposit_event(Event::RepairFailed {
                            order,
                            piece,
                            provider: leaving.clone(),
                        });
                    }
                }
                Leaving::<T>::insert(leaving, cursor);
            }
            None if ProviderPieceCount::<T>::get(leaving) == 0 => {
                Leaving::<T>::remove(leaving);
            }
            None => Leaving::<T>::insert(
                leaving,
                RepairCursor {
                    slot: 0,
                    retrying: true,
                },
            ),
        }
    }

    /// Gives one piece to a new provider, drawn like a placement and
    /// distinct from the order's owner and other providers; false if
    /// none can take it. Its periods since it was last settled are not
    /// paid: nobody proved them.
    pub(crate) fn reassign(order: OrderId, number: u32) -> bool {
        let Some(mut record) = Orders::<T>::get(order) else {
            return false;
        };
        let Some(piece) = record.pieces.get(number as usize).cloned() else {
            return false;
        };
        let holders: Vec<T::AccountId> = record
            .pieces
            .iter()
            .map(|p| p.provider.clone())
            .chain([record.owner.clone()])
            .collect();
        let seed =
            Self::placement_seed(&(order, number, frame_system::Pallet::<T>::block_number()));
        let Some(to) = T::Providers::pick(&seed, 1, record.piece_size, piece.price, &holders)
            .into_iter()
            .map(|o| o.who)
            .next()
        else {
            return false;
        };
        if T::Providers::reserve(&to, record.piece_size).is_err() {
            return false;
        }
        Self::settle(
            order,
            &mut record,
            number as usize,
            Self::current_period(),
            false,
        );
        let from = piece.provider.clone();
        T::Providers::release(&from, record.piece_size);
        Self::remove_provider_piece(&from, piece.slot, order, &mut record);
        T::OnPieceLeave::on_piece_leave(&from, order, number);
        let slot = Self::push_provider_piece(&to, order, number, record.piece_size);
        if record.pieces[number as usize].confirmed {
            record.confirmed = record.confirmed.saturating_sub(1);
        }
        let entry = &mut record.pieces[number as usize];
        entry.slot = slot;
        entry.provider = to.clone();
        entry.confirmed = false;
        entry.failures = 0;
        if let OrderState::Live { .. } = record.state {
            // Moves happen only in repair passes, at most
            // `RepairsPerBlock` a block: the list has room.
            let by =
                frame_system::Pallet::<T>::block_number().saturating_add(T::ConfirmWindow::get());
            let _ = RepairDeadlines::<T>::try_mutate(by, |due| {
                due.try_push((order, number, to.clone()))
            });
        }
        Orders::<T>::insert(order, record);
        Self::deposit_event(Event::Reassigned {
            order,
            piece: number,
            from,
            to,
        });
        true
    }
}

impl<T: Config> OnProviderLeave<T::AccountId> for Pallet<T> {
    fn on_provider_leave(who: &T::AccountId) {
        if !Leaving::<T>::contains_key(who) {
            Leaving::<T>::insert(who, RepairCursor::default());
        }
    }
}
