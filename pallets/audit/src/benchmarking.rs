//! Benchmarks of the audit pallet at their worst cases.
//!
//! `submit_proof` of `l` leaves: each proof at full depth (the last leaf of
//! a shard of a piece of the largest object: `MAX_SEGMENTS` segments of one
//! `MAX_SHARD_SIZE` data shard each), in `l` distinct segments, the last
//! one failing only at its final comparison, after every hash: the piece
//! forfeits and is queued to move, the provider is slashed and ejected.
//! Every segment's shard is the same bytes, so every shard root is the
//! same, and so is every segment's path to the piece root: one proof serves
//! every challenged segment, each still verified in full.
//!
//! The block hook: a draw block visiting `h` holders, as many as a block
//! can (its share `⌈MaxProviders / draw blocks⌉`, or fewer if the visit and
//! proof budgets stop it first). Each visit closes an expired
//! challenge (a failure: the piece queued, a slash and an ejection), then
//! draws `LeavesPerPeriod` leaves from the holder's live piece of close to
//! its whole capacity; the block carries a VRF signature the hook
//! verifies.

use super::*;
use frame_support::traits::{fungible::Mutate as _, Hooks};
use frame_support::BoundedVec;
use frame_system::RawOrigin;
use mosaic_primitives::erasure::MAX_SEGMENT_SIZE;
use mosaic_primitives::merkle::{self, ShardRoot, MAX_LEAVES as SHARD_LEAVES, MAX_PROOF_DEPTH};
use mosaic_primitives::piece::{self, MAX_PIECE_PATH, MAX_SEGMENTS};
use pallet_mosaic_market::{Access, PieceIndex};
use pallet_mosaic_providers::ProviderRegistry;
use polkadot_sdk::frame_benchmarking::v2::*;
use polkadot_sdk::sp_core::{crypto::Pair as _, sr25519};
use sp_runtime::traits::{Bounded, Get};

type Market<T> = pallet_mosaic_market::Pallet<T>;

/// The most holders one draw block visits: its share of the largest holder
/// list, or what the budgets let through.
fn most_visits<T: Config>() -> u32 {
    let share = <T as Config>::Providers::max_providers().div_ceil(Pallet::<T>::draw_blocks());
    // Each of the benchmark's visits draws `LeavesPerPeriod` leaves on one
    // piece: the budgets stop the block at this many.
    let most = T::LeavesPerPeriod::get();
    let idle = T::WeightInfo::on_initialize(0, 0, 0);
    let visit = T::WeightInfo::on_initialize(1, most, 0)
        .saturating_sub(idle)
        .ref_time()
        .max(1);
    let by_work = T::VisitWeight::get().ref_time() / visit;
    let proofs = T::WeightInfo::submit_proof(most).ref_time().max(1);
    let worst = T::WeightInfo::submit_proof(1)
        .ref_time()
        .saturating_mul(u64::from(most));
    let by_proofs = T::ProofWeight::get().ref_time().saturating_sub(worst) / proofs + 1;
    u64::from(share).min(by_work).min(by_proofs).max(1) as u32
}
type MarketProviders<T> = <T as pallet_mosaic_market::Config>::Providers;

#[benchmarks(where T: pallet_mosaic_market::Config)]
mod benchmarks {
    use super::*;

    #[benchmark]
    fn submit_proof(l: Linear<1, { T::LeavesPerPeriod::get() }>) {
        let coding = CodingParams::with_segment_size(1, 1, MAX_SEGMENT_SIZE)
            .expect("1 + 1 at the largest segments is valid; qed");
        let layout = Layout::new(coding, Layout::max_stored_size(&coding))
            .expect("the largest size is within bounds; qed");
        assert_eq!(layout.segment_count(), MAX_SEGMENTS);
        let shard = vec![7u8; layout.shard_size(0)];
        let shard_root = merkle::root(&shard).expect("a maximal shard is valid; qed");
        let shard_roots: Vec<ShardRoot> = vec![shard_root; MAX_SEGMENTS as usize];
        // With one data shard the parity shard is the same bytes: both
        // pieces have this root.
        let root = piece::piece_root(&shard_roots);

        // The provider registers first (slot 0, so its ejection rewrites
        // the most cells of the sampling index) and keeps room beside the
        // piece, so that its ejection changes its weight.
        let provider: T::AccountId = whitelisted_caller();
        let other: T::AccountId = account("provider", 1, 0);
        let piece_size = layout.piece_size();
        MarketProviders::<T>::register_for_benchmark(&provider, 2 * piece_size, 1u32.into());
        MarketProviders::<T>::register_for_benchmark(&other, piece_size, 1u32.into());
        let owner: T::AccountId = account("owner", 0, 0);
        <T as pallet_mosaic_market::Config>::Currency::set_balance(
            &owner,
            pallet_mosaic_market::BalanceOf::<T>::max_value() / 64u32.into(),
        );
        Market::<T>::store(
            RawOrigin::Signed(owner).into(),
            BoundedVec::truncate_from(mosaic_primitives::unixfs::file_cid(b"bench").to_bytes()),
            layout.stored_size(),
            coding,
            BoundedVec::truncate_from(vec![root; 2]),
            Access::Public { dag_index: 0 },
            <T as pallet_mosaic_market::Config>::MinPeriods::get(),
            1u32.into(),
        )
        .expect("two providers with room and a funded owner; qed");
        let order = pallet_mosaic_market::NextOrderId::<T>::get() - 1;
        let pieces = pallet_mosaic_market::Orders::<T>::get(order)
            .expect("just stored; qed")
            .pieces;
        for (number, piece) in pieces.into_iter().enumerate() {
            Market::<T>::confirm(
                RawOrigin::Signed(piece.provider).into(),
                order,
                number as u32,
            )
            .expect("each provider confirms its own piece; qed");
        }

        let held = T::Pieces::piece_at_byte(&provider, 0).expect("the provider holds a piece; qed");
        assert!(held.auditable, "the order is live");
        assert_eq!(held.layout, layout);
        // The last leaf of the last `l` segments.
        let per_shard = u64::from(SHARD_LEAVES);
        let leaves: Vec<u64> = (MAX_SEGMENTS - l..MAX_SEGMENTS)
            .map(|segment| u64::from(segment) * per_shard + per_shard - 1)
            .collect();
        Challenges::<T>::insert(
            &provider,
            (held.order, held.piece),
            Challenge {
                period: Market::<T>::current_period(),
                deadline: u64::MAX,
                order: held.order,
                piece: held.piece,
                leaves: BoundedVec::truncate_from(leaves.clone()),
                root: held.root,
                coding: held.layout.coding(),
                size: held.layout.stored_size(),
            },
        );
        LastVisit::<T>::insert(&provider, Market::<T>::current_period());
        Misses::<T>::insert(&provider, T::MaxMisses::get().saturating_sub(1));
        let proof = piece::prove(&shard, &shard_roots, MAX_SEGMENTS - 1, SHARD_LEAVES - 1)
            .expect("the last leaf of the last shard exists; qed");
        assert_eq!(
            (proof.shard_path.len(), proof.piece_path.len()),
            (MAX_PROOF_DEPTH, MAX_PIECE_PATH),
            "both paths at full depth"
        );
        for leaf in &leaves {
            assert_eq!(piece::verify(&held.root, &layout, *leaf, &proof), Ok(()));
        }
        let mut proofs: Vec<LeafProof> = vec![proof.clone().into(); l as usize];
        // A changed byte in the last is found only when its root is compared.
        let mut bad = proof;
        bad.leaf[0] ^= 1;
        let last = *leaves.last().expect("at least one leaf; qed");
        assert_eq!(
            piece::verify(&held.root, &layout, last, &bad),
            Err(merkle::ProofError::RootMismatch)
        );
        *proofs.last_mut().expect("at least one proof; qed") = bad.into();
        #[extrinsic_call]
        _(
            RawOrigin::Signed(provider.clone()),
            held.order,
            held.piece,
            BoundedVec::truncate_from(proofs),
        );
        assert!(Challenges::<T>::get(&provider, (held.order, held.piece)).is_none());
        assert_eq!(Misses::<T>::get(&provider), 0, "ejected");
    }

    /// The first block of period 1, draw block 0, whose visits are the
    /// first holders of the list, its share: `h` of them when `h * H`
    /// providers hold pieces (`H` the draw blocks).
    #[benchmark]
    fn on_initialize(h: Linear<1, { most_visits::<T>() }>) {
        let draw_blocks = Pallet::<T>::draw_blocks();
        // Two holders at least, so that an order can be placed; with one
        // draw block and `h` = 1 the block then visits both.
        let providers = h
            .saturating_mul(draw_blocks)
            .min(<T as Config>::Providers::max_providers())
            .max(2);
        for i in 0..providers {
            let holder: T::AccountId = account("holder", i, 0);
            <T as Config>::Providers::register_for_benchmark(&holder, 1 << 40, 1u32.into());
        }
        T::Pieces::spread_for_benchmark();
        assert_eq!(
            T::Pieces::holder_count(),
            providers,
            "every provider holds a piece"
        );
        // The round starts at the head of the list: draw block 0 visits its
        // share, the first `⌈providers / H⌉` holders.
        let visited: Vec<T::AccountId> = (0..providers.div_ceil(draw_blocks))
            .map(|index| T::Pieces::holder_at(index).expect("a dense holder list; qed"))
            .collect();
        assert_eq!(visited.len() as u32, providers.div_ceil(draw_blocks));
        assert!(visited.len() as u32 >= h);
        for holder in &visited {
            // An expired challenge on a piece it still holds, so that the
            // miss counts, and one more ejects it.
            let held =
                T::Pieces::piece_at_byte(holder, 0).expect("every holder holds a piece; qed");
            assert!(held.auditable, "spread orders are live");
            Challenges::<T>::insert(
                holder,
                (held.order, held.piece),
                Challenge {
                    period: 0,
                    deadline: 0,
                    order: held.order,
                    piece: held.piece,
                    leaves: BoundedVec::truncate_from(vec![0]),
                    root: held.root,
                    coding: held.layout.coding(),
                    size: held.layout.stored_size(),
                },
            );
            LastVisit::<T>::insert(holder, 0);
            Misses::<T>::insert(holder, T::MaxMisses::get().saturating_sub(1));
        }
        let validator = sr25519::Pair::from_seed(&[1; 32]);
        VrfAuthorities::<T>::put(BoundedVec::truncate_from(vec![validator.public()]));
        let now = <T as Config>::PeriodLength::get();
        let digest = pre_digest(1, &Randomness::<T>::get(), Some(&validator));
        frame_system::Pallet::<T>::set_block_number(now - 1u32.into());
        frame_system::Pallet::<T>::initialize(&now, &Default::default(), &digest);
        let seed = Randomness::<T>::get();
        #[block]
        {
            Pallet::<T>::on_initialize(now);
        }
        assert_ne!(Randomness::<T>::get(), seed, "the VRF output was absorbed");
        for holder in &visited {
            assert_eq!(Misses::<T>::get(holder), 0, "ejected");
            assert_eq!(LastVisit::<T>::get(holder), Some(1));
            let drawn: usize = Challenges::<T>::iter_prefix_values(holder)
                .map(|c| c.leaves.len())
                .sum();
            assert!(drawn > 0, "leaves were drawn");
        }
        assert_eq!(LastVisit::<T>::iter().count(), visited.len());
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
