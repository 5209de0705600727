//! Each provider's piece list, the Fenwick tree of its bytes, the holder
//! list, and the index the audit pallet draws pieces from.

use crate::*;
use frame_support::pallet_prelude::*;
use pallet_mosaic_providers::fenwick;
use sp_runtime::traits::SaturatedConversion;

impl<T: Config> Pallet<T> {
    /// Appends piece `piece` of `order`, of `bytes` bytes, to
    /// `provider`'s list; returns its slot.
    pub(crate) fn push_provider_piece(
        provider: &T::AccountId,
        order: OrderId,
        piece: u32,
        bytes: u64,
    ) -> u32 {
        let slot = ProviderPieceCount::<T>::get(provider);
        ProviderPieces::<T>::insert(provider, slot, (order, piece));
        ProviderPieceCount::<T>::insert(provider, slot + 1);
        let mut tree = PieceTree::<T>(provider);
        let size = fenwick::grow(&mut tree, PieceTreeSize::<T>::get(provider), slot);
        PieceTreeSize::<T>::insert(provider, size);
        fenwick::add(&mut tree, size, slot, u128::from(bytes));
        if slot == 0 {
            let index = HolderCount::<T>::get();
            Holders::<T>::insert(index, provider);
            HolderIndex::<T>::insert(provider, index);
            HolderCount::<T>::put(index + 1);
        }
        slot
    }

    /// Takes a provider that holds nothing any more off the holder list,
    /// moving the last holder into its place.
    pub(crate) fn remove_holder(provider: &T::AccountId) {
        let Some(index) = HolderIndex::<T>::take(provider) else {
            return;
        };
        let last = HolderCount::<T>::get().saturating_sub(1);
        if index != last {
            if let Some(moved) = Holders::<T>::get(last) {
                Holders::<T>::insert(index, &moved);
                HolderIndex::<T>::insert(&moved, index);
            }
        }
        Holders::<T>::remove(last);
        HolderCount::<T>::put(last);
    }

    /// Removes a slot from a provider's list by moving the last one in.
    /// `record` is the order being changed (`order`), which is written
    /// back by the caller, so a moved piece of the same order is updated
    /// there rather than in storage.
    pub(crate) fn remove_provider_piece(
        provider: &T::AccountId,
        slot: u32,
        order: OrderId,
        record: &mut OrderOf<T>,
    ) {
        let last = ProviderPieceCount::<T>::get(provider).saturating_sub(1);
        let size = PieceTreeSize::<T>::get(provider);
        let mut tree = PieceTree::<T>(provider);
        fenwick::add(
            &mut tree,
            size,
            slot,
            u128::from(record.piece_size).wrapping_neg(),
        );
        if slot != last {
            Self::rewind_repair(provider, slot);
            if let Some((moved_order, moved)) = ProviderPieces::<T>::get(provider, last) {
                ProviderPieces::<T>::insert(provider, slot, (moved_order, moved));
                let moved_bytes = if moved_order == order {
                    if let Some(piece) = record.pieces.get_mut(moved as usize) {
                        piece.slot = slot;
                    }
                    record.piece_size
                } else {
                    Orders::<T>::mutate(moved_order, |o| {
                        let o = o.as_mut()?;
                        o.pieces.get_mut(moved as usize)?.slot = slot;
                        Some(o.piece_size)
                    })
                    .unwrap_or_default()
                };
                let moved_bytes = u128::from(moved_bytes);
                fenwick::add(&mut tree, size, last, moved_bytes.wrapping_neg());
                fenwick::add(&mut tree, size, slot, moved_bytes);
            }
        }
        ProviderPieces::<T>::remove(provider, last);
        if last == 0 {
            ProviderPieceCount::<T>::remove(provider);
            PieceTreeSize::<T>::remove(provider);
            Self::remove_holder(provider);
        } else {
            ProviderPieceCount::<T>::insert(provider, last);
        }
    }

    /// A leaving provider's slots below its repair cursor hold pieces
    /// already tried. Freeing one of them moves an untried piece (the
    /// last) there, which the repair would then skip: the cursor goes
    /// back to the freed slot, and the pieces after it are tried again.
    pub(crate) fn rewind_repair(provider: &T::AccountId, slot: u32) {
        Leaving::<T>::mutate_exists(provider, |entry| {
            if let Some(entry) = entry {
                entry.slot = entry.slot.min(slot);
            }
        });
    }

    /// The piece in slot `slot` of `who`'s list, as the audit sees it.
    pub fn piece_ref(who: &T::AccountId, slot: u32) -> Option<PieceRef> {
        let (order, number) = ProviderPieces::<T>::get(who, slot)?;
        let record = Orders::<T>::get(order)?;
        let piece = record.pieces.get(number as usize)?;
        // Paid periods only: an order past its end waits for its expiry
        // block, and nobody answers for it meanwhile.
        let paid = matches!(
            record.state,
            OrderState::Live { end, .. } if Self::current_period() < end
        );
        Some(PieceRef {
            order,
            piece: number,
            root: piece.root,
            layout: record.layout().ok()?,
            auditable: paid && piece.confirmed,
        })
    }

    /// Who holds piece `piece` of `order`, if the order exists.
    pub(crate) fn holder_of(order: OrderId, piece: u32) -> Option<T::AccountId> {
        Orders::<T>::get(order)?
            .pieces
            .get(piece as usize)
            .map(|p| p.provider.clone())
    }
}

/// The cells of one provider's piece tree in pallet storage.
pub(crate) struct PieceTree<'a, T: Config>(pub(crate) &'a T::AccountId);

impl<T: Config> fenwick::Cells for PieceTree<'_, T> {
    fn cell(&self, i: u32) -> u128 {
        PieceBytes::<T>::get(self.0, i)
    }

    fn set_cell(&mut self, i: u32, value: u128) {
        if value == 0 {
            PieceBytes::<T>::remove(self.0, i);
        } else {
            PieceBytes::<T>::insert(self.0, i, value);
        }
    }
}

impl<T: Config> PieceIndex<T::AccountId> for Pallet<T> {
    fn holder_count() -> u32 {
        HolderCount::<T>::get()
    }

    fn holder_at(index: u32) -> Option<T::AccountId> {
        Holders::<T>::get(index)
    }

    fn held_bytes(who: &T::AccountId) -> u64 {
        let total = fenwick::total(&PieceTree::<T>(who), PieceTreeSize::<T>::get(who));
        total.saturated_into()
    }

    fn piece_at_byte(who: &T::AccountId, target: u64) -> Option<PieceRef> {
        let size = PieceTreeSize::<T>::get(who);
        if size == 0 {
            return None;
        }
        let slot = fenwick::find(&PieceTree::<T>(who), size, u128::from(target));
        Self::piece_ref(who, slot)
    }

    fn holds(who: &T::AccountId, order: OrderId, piece: u32) -> bool {
        Self::holder_of(order, piece).as_ref() == Some(who)
    }

    fn proven(order: OrderId, piece: u32, period: PeriodIndex) {
        let Some(mut record) = Orders::<T>::get(order) else {
            return;
        };
        let upto = period.saturating_add(1);
        Self::settle(order, &mut record, piece as usize, upto, true);
        if let Some(entry) = record.pieces.get_mut(piece as usize) {
            entry.failures = 0;
        }
        Orders::<T>::insert(order, record);
    }

    fn failed(order: OrderId, piece: u32, period: PeriodIndex, lost: bool) {
        let Some(mut record) = Orders::<T>::get(order) else {
            return;
        };
        let upto = period.saturating_add(1);
        Self::settle(order, &mut record, piece as usize, upto, false);
        let Some(entry) = record.pieces.get_mut(piece as usize) else {
            return;
        };
        entry.failures = entry.failures.saturating_add(1);
        let due = lost || entry.failures >= T::FailuresBeforeRepair::get();
        let provider = entry.provider.clone();
        Orders::<T>::insert(order, record);
        if due {
            Self::queue_move(order, piece, provider);
        }
    }

    #[cfg(feature = "runtime-benchmarks")]
    fn spread_for_benchmark() {
        crate::benchmarking::spread::<T>();
    }
}
