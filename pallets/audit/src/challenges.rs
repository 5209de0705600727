//! Drawing challenges: each period's visits, leaves drawn by bytes held,
//! and challenges withdrawn when their piece leaves its provider.

use crate::*;
use frame_support::pallet_prelude::*;
use frame_system::pallet_prelude::*;
use mosaic_primitives::merkle::LEAF_SIZE;
use pallet_mosaic_market::OnPieceLeave;
use polkadot_sdk::sp_io::hashing::blake2_256;
use sp_runtime::traits::SaturatedConversion;

impl<T: Config> Pallet<T> {
    /// Visits holders in turn round the holder list, from where the last
    /// draw block stopped, in one draw block of `draw_blocks`: at most the
    /// block's share of the holders (`⌈holders / draw_blocks⌉`, so that
    /// visits spread over the draw blocks), and only while the block has
    /// room for one more visit's work (`VisitWeight`) and for the proofs it
    /// may ask for (`ProofWeight`). A period goes once round the list: a
    /// holder visited this period already (the list moved it) is stepped
    /// over. Returns the holders visited, the leaves drawn and the list
    /// entries stepped over.
    pub(crate) fn visit_holders(
        now: BlockNumberFor<T>,
        period: PeriodIndex,
        draw_blocks: u32,
    ) -> (u32, u32, u32) {
        let count = T::Pieces::holder_count();
        let mut round = VisitRound::<T>::get();
        if round.period != period || count == 0 {
            round = Round {
                period,
                next: round.next,
                left: count,
            };
        }
        let most = T::LeavesPerPeriod::get();
        let idle = T::WeightInfo::on_initialize(0, 0, 0);
        let worst_visit = T::WeightInfo::on_initialize(1, most, 0).saturating_sub(idle);
        // Each leaf on a piece of its own: one proof each.
        let worst_proofs = T::WeightInfo::submit_proof(1).saturating_mul(u64::from(most));
        let share = count.div_ceil(draw_blocks.max(1));
        let (mut visited, mut leaves, mut stepped) = (0u32, 0u32, 0u32);
        let (mut work, mut proofs) = (Weight::zero(), Weight::zero());
        while visited < share && round.left > 0 && count > 0 {
            let room = work
                .saturating_add(worst_visit)
                .all_lte(T::VisitWeight::get())
                && proofs
                    .saturating_add(worst_proofs)
                    .all_lte(T::ProofWeight::get());
            if !room {
                break;
            }
            let index = round.next % count;
            round.next = (index + 1) % count;
            round.left -= 1;
            let Some(provider) = T::Pieces::holder_at(index) else {
                continue;
            };
            if LastVisit::<T>::get(&provider).is_some_and(|visit| visit >= period) {
                stepped += 1;
                work.saturating_accrue(T::WeightInfo::on_initialize(0, 0, 1).saturating_sub(idle));
                continue;
            }
            let (drawn, asked) = Self::visit(&provider, now, period);
            work.saturating_accrue(T::WeightInfo::on_initialize(1, drawn, 0).saturating_sub(idle));
            proofs.saturating_accrue(asked);
            visited += 1;
            leaves += drawn;
        }
        VisitRound::<T>::put(round);
        (visited, leaves, stepped)
    }

    /// Closes `provider`'s expired challenges as misses and draws its
    /// challenges for `period`; returns the leaves drawn and the weight of
    /// the proofs that answer them. Challenges expire within half a period
    /// and visits are at least half a period apart, so every challenge of
    /// the previous visit has expired.
    pub(crate) fn visit(
        provider: &T::AccountId,
        now: BlockNumberFor<T>,
        period: PeriodIndex,
    ) -> (u32, Weight) {
        LastVisit::<T>::insert(provider, period);
        let now: u64 = now.saturated_into();
        let expired: Vec<Challenge> = Challenges::<T>::iter_prefix_values(provider)
            .filter(|challenge| challenge.deadline < now)
            .collect();
        for challenge in &expired {
            Challenges::<T>::remove(provider, (challenge.order, challenge.piece));
        }
        Self::penalize(provider, &expired, Failure::Missed);
        Self::draw(provider, now, period)
    }

    /// Draws `provider`'s challenges for `period`: leaves in proportion
    /// to its bytes, each on a piece drawn by bytes and in a segment of
    /// its own; returns how many and the weight of the proofs that
    /// answer them.
    pub(crate) fn draw(provider: &T::AccountId, now: u64, period: PeriodIndex) -> (u32, Weight) {
        let held = T::Pieces::held_bytes(provider);
        if held == 0 {
            return (0, Weight::zero());
        }
        let wanted = held
            .div_ceil(T::BytesPerLeaf::get())
            .clamp(1, u64::from(T::LeavesPerPeriod::get())) as usize;
        let seed = Randomness::<T>::get();
        let mut drawn: Vec<(pallet_mosaic_market::PieceRef, Vec<(u32, u64)>)> = Vec::new();
        let mut count = 0;
        for draw in 0..T::MaxDraws::get() {
            if count == wanted {
                break;
            }
            let random = blake2_256(&(seed, period, provider, draw).encode());
            let word = |at: usize| {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&random[at..at + 8]);
                u64::from_le_bytes(bytes)
            };
            let Some(piece) = T::Pieces::piece_at_byte(provider, word(0) % held) else {
                continue;
            };
            if !piece.auditable {
                continue;
            }
            let layout = piece.layout;
            let segment = (word(8) % u64::from(layout.segment_count())) as u32;
            let per_shard = (layout.shard_size(0) / LEAF_SIZE) as u64;
            let here = (layout.shard_size(segment) / LEAF_SIZE) as u64;
            let leaf = u64::from(segment) * per_shard + word(16) % here;
            let at = match drawn
                .iter()
                .position(|(p, _)| (p.order, p.piece) == (piece.order, piece.piece))
            {
                Some(at) => at,
                None => {
                    drawn.push((piece, Vec::new()));
                    drawn.len() - 1
                }
            };
            let leaves = &mut drawn[at].1;
            if leaves.iter().any(|(s, _)| *s == segment) {
                continue;
            }
            leaves.push((segment, leaf));
            count += 1;
        }
        let deadline = now.saturating_add(T::AnswerWindow::get().saturated_into());
        let mut proofs = Weight::zero();
        for (piece, leaves) in drawn {
            proofs.saturating_accrue(T::WeightInfo::submit_proof(leaves.len() as u32));
            let challenge = Challenge {
                period,
                deadline,
                order: piece.order,
                piece: piece.piece,
                leaves: BoundedVec::truncate_from(
                    leaves.into_iter().map(|(_, leaf)| leaf).collect(),
                ),
                root: piece.root,
                coding: piece.layout.coding(),
                size: piece.layout.stored_size(),
            };
            Challenges::<T>::insert(provider, (piece.order, piece.piece), challenge.clone());
            Self::deposit_event(Event::Challenged {
                provider: provider.clone(),
                challenge,
            });
        }
        (count as u32, proofs)
    }
}

impl<T: Config> OnPieceLeave<T::AccountId> for Pallet<T> {
    fn on_piece_leave(who: &T::AccountId, order: OrderId, piece: u32) {
        if Challenges::<T>::take(who, (order, piece)).is_some() {
            Self::deposit_event(Event::Withdrawn {
                provider: who.clone(),
                order,
                piece,
            });
        }
        // A provider that holds nothing any more has nothing to answer
        // for: what the audit kept about it goes, so that providers that
        // come and go leave no state behind.
        if T::Pieces::held_bytes(who) == 0 {
            LastVisit::<T>::remove(who);
            Misses::<T>::remove(who);
        }
    }
}
