//! The pallet's invariants, checked by `try_state`.

use crate::pieces::PieceTree;
use crate::*;
use frame_support::pallet_prelude::*;
use frame_support::traits::fungible::InspectHold;
use pallet_mosaic_providers::{fenwick, ProviderRegistry};
use sp_runtime::traits::{Saturating, Zero};

impl<T: Config> Pallet<T> {
    /// Checks the pallet's invariants: escrow and deposits held equal
    /// what the orders record, provider lists match the pieces, the
    /// holder list is dense and lists exactly the providers holding
    /// pieces, each provider's booked capacity equals the sizes of its
    /// pieces, and the owner and CID indexes list exactly the orders.
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        use std::collections::BTreeMap;
        let mut escrow: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
        let mut deposit: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
        let mut bonds: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
        let mut used: BTreeMap<T::AccountId, u64> = BTreeMap::new();
        let mut listed = 0u64;
        for (id, order) in Orders::<T>::iter() {
            let e = escrow.entry(order.owner.clone()).or_default();
            *e = e.saturating_add(order.escrow);
            let d = deposit.entry(order.owner.clone()).or_default();
            *d = d.saturating_add(order.deposit);
            let b = bonds.entry(order.owner.clone()).or_default();
            *b = b.saturating_add(order.bond);
            ensure!(
                order.bond.is_zero() || matches!(order.state, OrderState::Pending { .. }),
                "a live order still holds its owner's bond"
            );
            ensure!(
                Layout::new(order.coding, order.size).map(|l| l.piece_size())
                    == Ok(order.piece_size),
                "an order's piece size differs from its layout"
            );
            ensure!(
                order.pieces.len() == order.coding.total_shards(),
                "an order lacks a piece"
            );
            let mut confirmed = 0;
            for (number, piece) in order.pieces.iter().enumerate() {
                confirmed += u32::from(piece.confirmed);
                *used.entry(piece.provider.clone()).or_default() += order.piece_size;
                ensure!(
                    ProviderPieces::<T>::get(&piece.provider, piece.slot)
                        == Some((id, number as u32)),
                    "a piece's slot does not point back to it"
                );
            }
            ensure!(confirmed == order.confirmed, "confirmed count out of sync");
            ensure!(
                OwnerOrders::<T>::contains_key(&order.owner, id)
                    && CidOrders::<T>::contains_key(&order.cid, id),
                "an order is missing from an index"
            );
            listed += 1;
        }
        ensure!(
            OwnerOrders::<T>::iter_keys().count() as u64 == listed
                && CidOrders::<T>::iter_keys().count() as u64 == listed,
            "an index lists an order that does not exist"
        );
        for (owner, amount) in escrow {
            let held = T::Currency::balance_on_hold(&HoldReason::Escrow.into(), &owner);
            ensure!(
                held == amount,
                "escrow held differs from the orders' escrow"
            );
        }
        for (owner, amount) in deposit {
            let held = T::Currency::balance_on_hold(&HoldReason::Deposit.into(), &owner);
            ensure!(
                held == amount,
                "deposit held differs from the orders' deposits"
            );
        }
        for (owner, amount) in bonds {
            let held = T::Currency::balance_on_hold(&HoldReason::Bond.into(), &owner);
            ensure!(held == amount, "bond held differs from the orders' bonds");
        }
        let holders = HolderCount::<T>::get();
        ensure!(
            ProviderPieceCount::<T>::iter_keys().count() as u32 == holders,
            "the holder list's length differs from the providers holding pieces"
        );
        ensure!(
            Holders::<T>::iter_keys().count() as u32 == holders
                && HolderIndex::<T>::iter_keys().count() as u32 == holders,
            "the holder list has an entry past its end or a stale position"
        );
        for index in 0..holders {
            let holder = Holders::<T>::get(index).ok_or("a gap in the holder list")?;
            ensure!(
                HolderIndex::<T>::get(&holder) == Some(index)
                    && ProviderPieceCount::<T>::get(&holder) > 0,
                "a holder entry does not point back, or holds nothing"
            );
        }
        for (provider, bytes) in &used {
            ensure!(
                T::Providers::used(provider) == *bytes,
                "a provider's booked capacity differs from its pieces"
            );
            let tree = PieceTree::<T>(provider);
            let size = PieceTreeSize::<T>::get(provider);
            ensure!(
                size >= ProviderPieceCount::<T>::get(provider)
                    && fenwick::total(&tree, size) == u128::from(*bytes),
                "a provider's piece tree does not weigh its pieces"
            );
        }
        ensure!(
            PieceBytes::<T>::iter_keys().all(|(who, _)| used.contains_key(&who))
                && PieceTreeSize::<T>::iter_keys().all(|who| used.contains_key(&who)),
            "a piece tree outlives its provider's last piece"
        );
        Ok(())
    }
}
