//! Audit pallet: challenges drawn over pieces by bytes held, answered within
//! a short window, proofs verified against piece roots, pay per proven
//! piece, slashing in proportion to the bytes at fault.
//!
//! **What is audited.** The unit is the piece (see
//! [`mosaic_primitives::piece`]): piece `i` of an order is shard `i` of
//! every segment, under one piece root on chain. A provider is paid for a
//! piece only for periods a proof of that piece covers (the market's
//! [`PieceIndex::proven`]); a failed piece is named, its provider slashed
//! for its bytes, its unpaid periods forfeited and the piece moved to
//! another provider ([`PieceIndex::failed`]).
//!
//! **Challenges.** In the *draw blocks* (the first half of each period)
//! the audit visits providers holding pieces in turn round the market's
//! dense holder list, from where the last draw block stopped: each block at
//! most its share `⌈holders / H⌉` (`H` draw blocks), and only while its
//! visits' work fits `VisitWeight` and the proofs they ask for fit
//! `ProofWeight` (each visit is checked for room at its worst before it is
//! made). Each provider is visited at most once a period; a round that a
//! period's draw blocks cannot finish goes on in the next period's, so at
//! scale a provider is visited every few periods (the README's *Weights*
//! gives the figures). A visit draws
//! `clamp(⌈bytes held / BytesPerLeaf⌉, 1, LeavesPerPeriod)` leaves: each
//! leaf picks one of the provider's pieces with probability in proportion
//! to its bytes (a Fenwick tree over its piece list, `O(log pieces)`
//! reads), then a segment of it (no two leaves of one piece in the same
//! segment), then a leaf of that segment's shard. Pieces of pending orders
//! and unconfirmed pieces are not drawn. The leaves of one piece form one
//! [`Challenge`]: the provider must answer it with `submit_proof` (each leaf,
//! its path to its shard root, that root's path to the piece root) by its
//! `deadline`, `AnswerWindow` blocks after the block that revealed it. A
//! proof that fails to verify, or none by the deadline, is a failure; an
//! unanswered challenge is closed as missed at the provider's next visit.
//! When a piece leaves its provider (its order ended or was deleted, or the
//! piece moved), its open challenge is withdrawn: nobody answers for what
//! it no longer holds, and a client deleting right after a challenge costs
//! the provider nothing.
//!
//! **Outcomes.** A valid proof pays the piece's periods through the current
//! one, resets the provider's miss count, and costs no fee. A failed piece
//! forfeits its unpaid periods (the client gets them back when the order
//! ends) and is queued to move to another provider, who rebuilds it: at
//! once after a proof that does not verify (the provider showed it lacks
//! the piece), after the market's `FailuresBeforeRepair` misses in a row
//! otherwise (a worker offline for a few minutes is not a lost piece). The
//! pieces a provider fails at once (the expired challenges its next visit
//! finds, or one bad or late proof) cost it one slash, `SlashFraction` of
//! the stake backing their bytes together (`StakePerGiB` per started GiB,
//! see [`pallet_mosaic_providers`]), and count as one failure; after
//! `MaxMisses` in a row it is ejected and all its pieces move. So a block's
//! work stays bounded: a visit slashes once, and the moves happen a few a
//! block in the market's repair pass. A provider whose stake a slash leaves
//! short of what its capacity requires gets no new pieces until it tops up,
//! and one below `MinStake` is ejected. Nothing is minted: providers earn
//! only what clients pay, at no less than the registry's `MinPrice`, and
//! the owner of an order is never one of its providers.
//!
//! **Proofs get in.** `submit_proof` is an operational extrinsic: the block
//! keeps room for that class that ordinary transactions cannot fill, and the
//! pool ranks it above them, so a flood of transfers while proofs are due
//! cannot get an honest provider slashed. A proof is free when it verifies;
//! a call without an open challenge, with the wrong number of leaves or
//! with a failing proof pays its fee.
//!
//! # Threat model
//!
//! *Randomness.* The challenge seed is an accumulator that every block
//! updates with a VRF output of its author: the block's `mvrf` pre-runtime
//! digest carries an sr25519 VRF signature over the previous accumulator
//! and the Aura slot, by the VRF key registered for the slot's author. The
//! runtime verifies it and rejects a block without a valid one (once VRF
//! keys are registered). No one can compute a visit's draws before the
//! block that reveals them is authored; the author cannot grind (a VRF
//! output is unique for its key and input, which nothing else it controls
//! enters), its only lever is to withhold its block, handing the draw to
//! the next author. The author of the revealing block learns the draws one
//! slot early: a provider colluding with it gains one slot (3 s) on top of
//! its window.
//!
//! *A provider that deleted data.* Draws follow bytes, so a provider that
//! dropped a fraction `f` of its bytes fails a period with probability
//! `1 − (1 − f)^L` for `L` leaves (with `L = 64`: 47 % a period at
//! `f = 1 %`, so within about two periods), whatever else it holds: many
//! small pieces kept beside a big deleted one do not hide it. It is never
//! paid for the deleted piece (nothing proves it), loses `SlashFraction`
//! (in the runtime half) of the stake backing it at each failure (5 UNIT
//! per started GiB at 10 UNIT staked per GiB), and the piece is rebuilt
//! elsewhere after its second miss.
//!
//! *A provider that rebuilds on demand.* Pieces are plain
//! (`docs/replica-format.md`): a provider that keeps only the piece's
//! shard-root list can answer a leaf by fetching the challenged segment's
//! shards from `k` other providers (the shard protocol serves whole shards
//! only), decoding and re-encoding it. Each leaf costs it `k × shard size`
//! of transfer, inside the window, and the leaves of a piece lie in
//! distinct segments so that one decoded segment answers one leaf. The
//! figures below price it. Siblings that collude with it, running a
//! server that hands out the same 1 KiB of their own pieces, bring that
//! down to `k` KiB a leaf: only provider-unique replicas sealed slower than
//! the window would stop them, which the pieces' format does not have
//! (`docs/replica-format.md`).
//!
//! *Farming and Sybils.* No reward is minted per proof, prices have a floor
//! and an owner is never its own provider, so storing one's own orders
//! earns nothing: the payment comes out of the owner's own escrow.
//!
//! *Spam.* Proofs are operational (above).
//!
//! # The cost of cheating, per TiB per month
//!
//! At the production parameters (five-minute periods, 8,640 a month; a
//! 5-block (15 s) answer window; `BytesPerLeaf` 16 GiB; `LeavesPerPeriod`
//! 64; default coding 4 + 2 with 8 MiB segments, so 2 MiB shards and
//! `k × shard` = 8 MiB a leaf):
//!
//! | provider pretends to hold | leaves a period | transfer a period | transfer a month | per byte faked |
//! |---|---|---|---|---|
//! | 16 GiB | 1 | 8 MiB | 68 GiB | 4.2 × |
//! | 256 GiB | 16 | 128 MiB | 1.05 TiB | 4.2 × |
//! | 1 TiB | 64 | 512 MiB | 4.2 TiB | 4.2 × |
//! | 4 TiB | 64 (cap) | 512 MiB | 4.2 TiB | 1.05 × |
//!
//! Storing a TiB costs a few dollars a month of disk; moving 4.2 TiB costs
//! tens of dollars at the cheapest cloud egress and needs 512 MiB inside
//! every 15-second window (about 290 Mbit/s in bursts), served by the
//! order's other providers. Up to 1 TiB per provider account, faking costs
//! about four times the bytes it saves, every month; past the cap the
//! factor falls (the cap, `LeavesPerPeriod`, bounds the chain's work; a
//! runtime upgrade raises it as verification gets cheaper). At the parameters before this design (one
//! 1 KiB leaf per provider per period, public for the whole period) a
//! lazy provider needed `k` KiB a period from the siblings whatever it
//! pretended to hold: 4 KiB × 8,640 = 34 MiB a month for any amount.
//!
//! *Chain cost.* A leaf proof is at most 2,188 bytes and verifies with at
//! most 89 SHA-256 compressions: 5.2 µs at full depth, 0.8 µs at the
//! shallowest (`cargo bench -p mosaic-primitives --bench verify`, this
//! 2-core machine), against a goal of 50 µs. A provider at the cap sends 64
//! of them a period (137 KiB, 0.34 ms to verify); 10,000 such providers
//! would fill 1.4 GB of blocks and 3.4 s of verification a five-minute
//! period, which is why the leaves per provider are capped. Charged as
//! measured, with its storage accesses, a proof weighs about 3.2 ms of the
//! block (the failing path's 22 writes dominate), so the proof budget, not
//! verification, sets how many visits a period holds: about 3,000 of
//! one-leaf holders, 50 of holders asked 64 leaves on distinct pieces. The
//! cost-of-cheating figures above assume a visit every period; where a
//! round of visits takes `r` periods, a lazy provider fetches `1/r` as much
//! and the factor falls `r`-fold, which is why batching a visit's proofs
//! is the next step. The heaviest block's hooks (a draw block with every
//! deadline list, repair deadline and repair queue full) are charged
//! 1.04 s of the 2 s block (`runtime/src/tests.rs` holds them under 55 %).

pub use pallet::*;

use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{frame_support, frame_system, sp_runtime};
use scale_info::TypeInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod challenges;
mod invariants;
#[cfg(test)]
mod mock;
mod randomness;
mod slashing;
#[cfg(test)]
mod tests;
pub mod weights;

pub use randomness::{pre_digest, vrf_transcript, AccumulatedRandomness};

pub use pallet_mosaic_market::{CodingParams, Layout, OrderId, PeriodIndex, PieceIndex, PieceRoot};
pub use weights::WeightInfo;

/// Engine id of the pre-runtime digest that carries the author's VRF signature.
pub const VRF_ENGINE_ID: [u8; 4] = *b"mvrf";
/// Label of the VRF transcript.
pub const VRF_LABEL: &[u8] = b"mosaic-randomness";
/// Context for turning the VRF output into randomness bytes.
pub const VRF_CONTEXT: &[u8] = b"mosaic-randomness-output";
/// Most leaves one provider is asked for in a period, and so in one
/// challenge: the bound of `LeavesPerPeriod`.
pub const MAX_LEAVES: u32 = 64;

/// The leaves of one challenge.
pub type Leaves = frame_support::BoundedVec<u64, frame_support::traits::ConstU32<MAX_LEAVES>>;

/// A challenge to a provider: leaves of one of its pieces to prove by a
/// deadline.
#[derive(
    Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Challenge {
    /// The period it was drawn in; a proof pays the piece through it.
    pub period: PeriodIndex,
    /// The last block in which a proof is accepted.
    pub deadline: u64,
    /// The order.
    pub order: OrderId,
    /// The piece within the order.
    pub piece: u32,
    /// The leaves to prove, numbered across the piece's shards (see
    /// [`mosaic_primitives::piece`]), each in a segment of its own, in the
    /// order their proofs must come.
    pub leaves: Leaves,
    /// The piece's root.
    pub root: PieceRoot,
    /// The order's coding, which with `size` gives the piece's layout.
    pub coding: CodingParams,
    /// The order's stored size.
    pub size: u64,
}

impl Challenge {
    /// The challenged piece's layout.
    pub fn layout(&self) -> Result<Layout, mosaic_primitives::piece::LayoutError> {
        Layout::new(self.coding, self.size)
    }
}

/// Why an audit failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub enum Failure {
    /// No proof by the deadline.
    Missed,
    /// The proof did not verify against the piece root.
    BadProof,
}

/// What the audit recorded about a provider over its life: what its
/// operator reads in `mosaic-worker status`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Tally<Balance> {
    /// Challenges answered with a proof that verified in time.
    pub proven: u32,
    /// Challenges failed (missed, late or a proof that did not verify).
    pub failed: u32,
    /// Stake slashed for them.
    pub slashed: Balance,
}

/// A period's round of visits through the holder list.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Round {
    /// The period.
    pub period: PeriodIndex,
    /// The position in the holder list the next visit looks at.
    pub next: u32,
    /// Positions still to look at this period: the holder count when the
    /// period's round began, counted down.
    pub left: u32,
}

#[frame_support::pallet]
pub mod pallet {
    use super::*;
    use frame_support::pallet_prelude::*;
    use frame_support::traits::fungible;
    use frame_system::pallet_prelude::*;
    use mosaic_primitives::merkle::{LEAF_SIZE, MAX_PROOF_DEPTH};
    use mosaic_primitives::piece::{self, PieceProof, MAX_PIECE_PATH};

    use pallet_mosaic_providers::ProviderRegistry;

    use polkadot_sdk::sp_core::sr25519::{self};

    use sp_runtime::traits::{SaturatedConversion, Zero};
    use sp_runtime::Perbill;

    /// A leaf as submitted.
    pub type LeafOf = BoundedVec<u8, ConstU32<{ LEAF_SIZE as u32 }>>;
    /// A path from a leaf to its shard root as submitted.
    pub type PathOf = BoundedVec<[u8; 32], ConstU32<{ MAX_PROOF_DEPTH as u32 }>>;
    /// A path from a shard root to its piece root as submitted.
    pub type PiecePathOf = BoundedVec<[u8; 32], ConstU32<{ MAX_PIECE_PATH as u32 }>>;

    /// The proof of one challenged leaf as submitted.
    #[derive(
        Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
    )]
    pub struct LeafProof {
        /// The leaf's bytes.
        pub leaf: LeafOf,
        /// Sibling hashes from the leaf to its shard root, nearest first.
        pub shard_path: PathOf,
        /// Sibling hashes from the shard root to the piece root, nearest first.
        pub piece_path: PiecePathOf,
    }

    impl From<PieceProof> for LeafProof {
        /// A proof as [`piece::prove`] builds it; paths past their bounds
        /// are cut (and then fail to verify).
        fn from(proof: PieceProof) -> Self {
            LeafProof {
                leaf: BoundedVec::truncate_from(proof.leaf),
                shard_path: BoundedVec::truncate_from(proof.shard_path),
                piece_path: BoundedVec::truncate_from(proof.piece_path),
            }
        }
    }

    impl From<LeafProof> for PieceProof {
        fn from(proof: LeafProof) -> Self {
            PieceProof {
                leaf: proof.leaf.into_inner(),
                shard_path: proof.shard_path.into_inner(),
                piece_path: proof.piece_path.into_inner(),
            }
        }
    }

    /// The proofs of a challenge's leaves, in its order.
    pub type ProofsOf = BoundedVec<LeafProof, ConstU32<MAX_LEAVES>>;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    #[pallet::config]
    pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
        /// The currency stakes are held in (its balance type).
        type Currency: fungible::Inspect<Self::AccountId>;

        /// The provider registry, to slash and eject.
        type Providers: ProviderRegistry<Self::AccountId, Balance = BalanceOf<Self>>;

        /// The market: each provider's pieces, and what a proof or a
        /// failure does to a piece.
        type Pieces: PieceIndex<Self::AccountId>;

        /// Blocks per period; the market's period length.
        #[pallet::constant]
        type PeriodLength: Get<BlockNumberFor<Self>>;

        /// Blocks from the block that reveals a challenge to its deadline:
        /// at least one, at most half a period.
        #[pallet::constant]
        type AnswerWindow: Get<BlockNumberFor<Self>>;

        /// Part of the stake backing a failed piece's bytes that is burnt.
        #[pallet::constant]
        type SlashFraction: Get<Perbill>;

        /// Failed audits in a row that get a provider ejected.
        #[pallet::constant]
        type MaxMisses: Get<u32>;

        /// A provider is asked for one leaf per this many bytes it holds...
        #[pallet::constant]
        type BytesPerLeaf: Get<u64>;

        /// ...and at most this many leaves a period (at most [`MAX_LEAVES`]).
        #[pallet::constant]
        type LeavesPerPeriod: Get<u32>;

        /// Most weight a draw block's visits may take (the hook's work);
        /// holders left over are visited in the next draw blocks, in turn.
        /// At least one visit of `LeavesPerPeriod` leaves.
        #[pallet::constant]
        type VisitWeight: Get<Weight>;

        /// Most weight of the proofs a draw block's visits may ask for: the
        /// room proofs have in the blocks of their answer window, which
        /// ordinary transactions cannot take (see the threat model). At
        /// least one visit's worth of `LeavesPerPeriod` proofs.
        #[pallet::constant]
        type ProofWeight: Get<Weight>;

        /// Draws a visit may make to find its leaves (a draw lands on an
        /// unauditable piece or a segment already drawn in vain).
        #[pallet::constant]
        type MaxDraws: Get<u32>;

        /// Most VRF keys (validators).
        #[pallet::constant]
        type MaxAuthorities: Get<u32>;

        /// Weights of this pallet's calls and hooks.
        type WeightInfo: WeightInfo;
    }

    /// The balance type of the currency.
    pub type BalanceOf<T> = <<T as Config>::Currency as fungible::Inspect<
        <T as frame_system::Config>::AccountId,
    >>::Balance;

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A provider must prove leaves of one of its pieces by the deadline.
        Challenged {
            provider: T::AccountId,
            challenge: Challenge,
        },
        /// A provider proved a challenge; the piece is paid through `period`.
        Proven {
            provider: T::AccountId,
            order: OrderId,
            piece: u32,
            period: PeriodIndex,
        },
        /// A provider failed the challenge of a piece: the piece's unpaid
        /// periods are forfeited and it is queued to move.
        Failed {
            provider: T::AccountId,
            order: OrderId,
            piece: u32,
            period: PeriodIndex,
            failure: Failure,
        },
        /// A provider was slashed for the pieces it failed at once (a visit's
        /// expired challenges, or one bad or late proof): `bytes` at fault,
        /// one more failure in a row.
        Penalized {
            provider: T::AccountId,
            bytes: u64,
            slashed: BalanceOf<T>,
            misses: u32,
        },
        /// A challenge was dropped because its piece left the provider.
        Withdrawn {
            provider: T::AccountId,
            order: OrderId,
            piece: u32,
        },
        /// A provider failed too often in a row and was ejected.
        Ejected { provider: T::AccountId },
    }

    #[pallet::error]
    pub enum Error<T> {
        /// The caller has no open challenge on this piece; see the
        /// `Challenged` events (or `mosaic_challenges`) for those it has.
        NoChallenge,
        /// The number of leaf proofs differs from the challenge's leaves;
        /// send one proof per leaf, in the challenge's order.
        WrongLeafCount,
    }

    /// The randomness accumulator.
    #[pallet::storage]
    pub type Randomness<T> = StorageValue<_, [u8; 32], ValueQuery>;

    /// The VRF key of each Aura authority, by authority index.
    #[pallet::storage]
    pub type VrfAuthorities<T: Config> =
        StorageValue<_, BoundedVec<sr25519::Public, T::MaxAuthorities>, ValueQuery>;

    /// Open challenges, by provider and `(order, piece)`: at most
    /// `LeavesPerPeriod` per provider, from its last visit.
    #[pallet::storage]
    pub type Challenges<T: Config> = StorageDoubleMap<
        _,
        Blake2_128Concat,
        T::AccountId,
        Twox64Concat,
        (OrderId, u32),
        Challenge,
    >;

    /// Each provider's failures in a row.
    #[pallet::storage]
    pub type Misses<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

    /// Each provider's tally of audits passed, failed and slashed, kept
    /// for as long as the chain (like the market's `Earned`).
    #[pallet::storage]
    pub type Tallies<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, Tally<BalanceOf<T>>, ValueQuery>;

    /// Where this period's round of visits stands in the market's holder
    /// list.
    #[pallet::storage]
    pub type VisitRound<T: Config> = StorageValue<_, Round, ValueQuery>;

    /// The period each holder was last visited in: one visit a period at
    /// most, however the holder list moves holders about.
    #[pallet::storage]
    pub type LastVisit<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, PeriodIndex>;

    #[pallet::genesis_config]
    #[derive(frame_support::DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        /// The VRF key of each Aura authority, in authority order.
        pub vrf_authorities: Vec<sr25519::Public>,
        #[serde(skip)]
        pub _config: core::marker::PhantomData<T>,
    }

    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            // An empty list is accepted here (tests, the default config); a
            // chain's genesis is checked by the runtime against its Aura
            // authorities (`mosaic_runtime::genesis::check`).
            let keys = BoundedVec::try_from(self.vrf_authorities.clone())
                .expect("more VRF keys than MaxAuthorities in genesis");
            VrfAuthorities::<T>::put(keys);
        }
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn on_initialize(now: BlockNumberFor<T>) -> Weight {
            Self::absorb_vrf();
            let length = T::PeriodLength::get();
            let offset: u32 = (now % length).saturated_into();
            let draw_blocks = Self::draw_blocks();
            if offset >= draw_blocks {
                return T::WeightInfo::on_initialize(0, 0, 0);
            }
            let period: PeriodIndex = (now / length).saturated_into();
            let (visited, leaves, stepped) = Self::visit_holders(now, period, draw_blocks);
            T::WeightInfo::on_initialize(visited, leaves, stepped)
        }

        fn integrity_test() {
            assert!(
                !T::PeriodLength::get().is_zero(),
                "PeriodLength must be positive"
            );
            assert!(
                !T::AnswerWindow::get().is_zero()
                    && T::AnswerWindow::get() <= T::PeriodLength::get() / 2u32.into(),
                "AnswerWindow must be between one block and half a period"
            );
            assert!(T::BytesPerLeaf::get() > 0, "BytesPerLeaf must be positive");
            assert!(
                (1..=MAX_LEAVES).contains(&T::LeavesPerPeriod::get()),
                "LeavesPerPeriod must be between 1 and MAX_LEAVES"
            );
            assert!(
                T::MaxDraws::get() >= T::LeavesPerPeriod::get(),
                "MaxDraws below LeavesPerPeriod"
            );
            let most = T::LeavesPerPeriod::get();
            let visit = T::WeightInfo::on_initialize(1, most, 0)
                .saturating_sub(T::WeightInfo::on_initialize(0, 0, 0));
            assert!(
                visit.all_lte(T::VisitWeight::get()),
                "VisitWeight below one visit of LeavesPerPeriod leaves"
            );
            assert!(
                T::WeightInfo::submit_proof(1)
                    .saturating_mul(u64::from(most))
                    .all_lte(T::ProofWeight::get()),
                "ProofWeight below one visit's proofs"
            );
        }

        #[cfg(feature = "try-runtime")]
        fn try_state(_: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Answers the caller's challenge on piece `piece` of `order` with a
        /// proof of each of its leaves, in order. Free when every proof
        /// verifies by the deadline; a failing proof, or one after the
        /// deadline, is a failed audit.
        #[pallet::call_index(0)]
        #[pallet::weight((T::WeightInfo::submit_proof(proofs.len() as u32), DispatchClass::Operational))]
        pub fn submit_proof(
            origin: OriginFor<T>,
            order: OrderId,
            piece: u32,
            proofs: ProofsOf,
        ) -> DispatchResultWithPostInfo {
            let provider = ensure_signed(origin)?;
            let key = (order, piece);
            let challenge = Challenges::<T>::get(&provider, key).ok_or(Error::<T>::NoChallenge)?;
            ensure!(
                proofs.len() == challenge.leaves.len(),
                Error::<T>::WrongLeafCount
            );
            Challenges::<T>::remove(&provider, key);
            let now: u64 = frame_system::Pallet::<T>::block_number().saturated_into();
            if now > challenge.deadline {
                Self::penalize(&provider, &[challenge], Failure::Missed);
                return Ok(Pays::Yes.into());
            }
            let verified = challenge.layout().is_ok_and(|layout| {
                challenge.leaves.iter().zip(proofs).all(|(leaf, proof)| {
                    piece::verify(&challenge.root, &layout, *leaf, &proof.into()).is_ok()
                })
            });
            if !verified {
                Self::penalize(&provider, &[challenge], Failure::BadProof);
                return Ok(Pays::Yes.into());
            }
            Misses::<T>::remove(&provider);
            Tallies::<T>::mutate(&provider, |t| t.proven = t.proven.saturating_add(1));
            T::Pieces::proven(order, piece, challenge.period);
            Self::deposit_event(Event::Proven {
                provider,
                order,
                piece,
                period: challenge.period,
            });
            Ok(Pays::No.into())
        }
    }

    impl<T: Config> Pallet<T> {
        /// The current period.
        pub fn current_period() -> PeriodIndex {
            let now = frame_system::Pallet::<T>::block_number();
            (now / T::PeriodLength::get()).saturated_into()
        }

        /// Blocks at the start of each period over which visits are spread.
        pub fn draw_blocks() -> u32 {
            let length: u32 = T::PeriodLength::get().saturated_into();
            (length / 2).max(1)
        }

        /// Replaces the validators' VRF keys (in Aura authority order), for
        /// the validator-set change that also changes the Aura authorities.
        pub fn set_vrf_authorities(keys: BoundedVec<sr25519::Public, T::MaxAuthorities>) {
            VrfAuthorities::<T>::put(keys);
        }
    }
}
