//! Audit pallet: random challenges, proof verification, rewards and slashing.
//!
//! **Challenges.** Every period, each provider holding pieces gets one
//! challenge: one of its live, confirmed pieces and one leaf of it, drawn
//! from the chain's randomness. The draws are spread over the first half of
//! the period (the *draw blocks*): the market keeps a dense list of holders,
//! and draw block `j` visits holders `j, j + H, j + 2H, …` where `H` is the
//! number of draw blocks, so no block's hook grows with the number of
//! providers beyond `⌈holders / H⌉` (with 10,240 providers and five-minute
//! periods of 100 blocks, 205 a block). A visit first closes the holder's
//! previous challenge: still open, it is a miss. A holder is visited at most
//! once a period, even if the list moves it to a later draw block; one the
//! list moves to an earlier draw block is not challenged that period (it
//! goes unpaid for it, never slashed). Each draw block also sweeps a bounded
//! number of open challenges, closing the expired ones of providers no
//! longer on the list. An expired challenge is a miss only if the provider
//! still holds the piece: one whose order was deleted or ended, or whose
//! piece moved, is dropped without penalty. The
//! provider answers with `submit_proof` (the leaf, its path to its shard
//! root and that root's path to the piece root) before the period ends, so
//! every challenge has at least half a period; a proof after that is a
//! miss. The runtime checks it with [`mosaic_primitives::piece::verify`]
//! against the piece root on chain.
//!
//! **Outcomes.** A valid proof records the period as proven for the provider
//! (the market then pays it for that period, see
//! [`pallet_mosaic_market::ProofLedger`]), mints `Reward`, resets its miss
//! count, and costs no fee. A bad proof, or none by the period's end, burns
//! `SlashFraction` of its stake; after `MaxMisses` failures in a row the
//! provider is ejected and the market moves its shards to others.
//!
//! **Randomness and its threat model.** The challenge seed is an accumulator
//! that every block updates with a VRF output of its author: the block's
//! `mvrf` pre-runtime digest carries an sr25519 VRF signature over the
//! previous accumulator and the Aura slot, by the VRF key registered for the
//! slot's author. The runtime verifies it and rejects a block without a valid
//! one (once VRF keys are registered). So:
//!
//! * no one can compute a period's seed before the block that opens it is
//!   authored: its input includes the previous accumulator, and only the
//!   slot's author can evaluate its VRF;
//! * the author cannot grind: a VRF output is unique for its key and input,
//!   and neither transactions, timestamps nor anything else it controls enter
//!   it. Its only lever is to withhold its block, which costs it the block
//!   and hands the draw to the next author: one bit of bias per slot given up;
//! * the author of a period's first block learns the seed one block (one
//!   slot) early. A provider colluding with it gains one slot of warning;
//!   storage proofs show the data can be served now, and a provider able to
//!   fetch a missing shard within one slot could also have fetched it within
//!   the period, which no proof of retrievability prevents.
//!
//! Without registered VRF keys (unit tests, a chain configured so) the seed
//! only changes when a VRF digest is present, and challenges are predictable.

pub use pallet::*;

use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use polkadot_sdk::{frame_support, frame_system, sp_runtime};
use scale_info::TypeInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet_mosaic_market::{CodingParams, Layout, OrderId, PeriodIndex, PieceRoot};
pub use weights::WeightInfo;

/// Engine id of the pre-runtime digest that carries the author's VRF signature.
pub const VRF_ENGINE_ID: [u8; 4] = *b"mvrf";
/// Label of the VRF transcript.
pub const VRF_LABEL: &[u8] = b"mosaic-randomness";
/// Context for turning the VRF output into randomness bytes.
pub const VRF_CONTEXT: &[u8] = b"mosaic-randomness-output";
/// Periods a provider's proof record reaches back; older periods count as
/// unproven, so providers claim payment within this window.
pub const HISTORY_PERIODS: u32 = 128;

/// A challenge to a provider.
#[derive(
    Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
pub struct Challenge {
    /// Period it belongs to; it must be answered before the period ends.
    pub period: PeriodIndex,
    /// The order.
    pub order: OrderId,
    /// The piece within the order.
    pub piece: u32,
    /// The leaf to prove, numbered across the piece's shards (see
    /// [`mosaic_primitives::piece`]).
    pub leaf: u64,
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

/// Which of the last [`HISTORY_PERIODS`] periods a provider proved.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct ProofHistory {
    /// The period of bit 0.
    pub base: PeriodIndex,
    /// Bit `i`: period `base + i` was proven.
    pub bits: u128,
}

impl ProofHistory {
    /// Marks `period` proven, sliding the window forward if needed.
    pub fn record(&mut self, period: PeriodIndex) {
        if period < self.base {
            return;
        }
        let top = self.base.saturating_add(HISTORY_PERIODS - 1);
        if period > top {
            let shift = period - top;
            self.bits = self.bits.checked_shr(shift).unwrap_or(0);
            self.base = self.base.saturating_add(shift);
        }
        self.bits |= 1 << (period - self.base);
    }

    /// Proven periods in `from..to` that are still in the window.
    pub fn count(&self, from: PeriodIndex, to: PeriodIndex) -> u32 {
        let end = self.base.saturating_add(HISTORY_PERIODS);
        let (from, to) = (from.max(self.base), to.min(end));
        if from >= to {
            return 0;
        }
        let width = to - from;
        let mask = if width >= 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        ((self.bits >> (from - self.base)) & mask).count_ones()
    }
}

/// Why an audit failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub enum Failure {
    /// No proof before the period ended.
    Missed,
    /// The proof did not verify against the piece root.
    BadProof,
}

#[frame_support::pallet]
pub mod pallet {
    use super::*;
    use frame_support::pallet_prelude::*;
    use frame_support::traits::fungible::{self, Mutate as _};
    use frame_system::pallet_prelude::*;
    use mosaic_primitives::merkle::{LEAF_SIZE, MAX_PROOF_DEPTH};
    use mosaic_primitives::piece::{self, PieceProof, MAX_PIECE_PATH};
    use pallet_mosaic_market::{PieceIndex, ProofLedger};
    use pallet_mosaic_providers::ProviderRegistry;
    use polkadot_sdk::sp_core::crypto::VrfPublic;
    use polkadot_sdk::sp_core::sr25519::{
        self,
        vrf::{VrfSignature, VrfTranscript},
    };
    use polkadot_sdk::sp_io::hashing::blake2_256;
    use sp_runtime::traits::{SaturatedConversion, Saturating, Zero};
    use sp_runtime::Perbill;

    /// The balance type of the currency.
    pub type BalanceOf<T> = <<T as Config>::Currency as fungible::Inspect<
        <T as frame_system::Config>::AccountId,
    >>::Balance;

    /// A leaf as submitted.
    pub type LeafOf = BoundedVec<u8, ConstU32<{ LEAF_SIZE as u32 }>>;
    /// A path from a leaf to its shard root as submitted.
    pub type PathOf = BoundedVec<[u8; 32], ConstU32<{ MAX_PROOF_DEPTH as u32 }>>;
    /// A path from a shard root to its piece root as submitted.
    pub type PiecePathOf = BoundedVec<[u8; 32], ConstU32<{ MAX_PIECE_PATH as u32 }>>;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    #[pallet::config]
    pub trait Config: polkadot_sdk::frame_system::Config<RuntimeEvent: From<Event<Self>>> {
        /// The currency rewards are minted in.
        type Currency: fungible::Mutate<Self::AccountId>;

        /// The provider registry, to slash and eject.
        type Providers: ProviderRegistry<Self::AccountId, Balance = BalanceOf<Self>>;

        /// The market, to find each provider's pieces.
        type Pieces: PieceIndex<Self::AccountId>;

        /// Blocks per period; the market's period length.
        #[pallet::constant]
        type PeriodLength: Get<BlockNumberFor<Self>>;

        /// Stake burnt per failed audit.
        #[pallet::constant]
        type SlashFraction: Get<Perbill>;

        /// Failed audits in a row that get a provider ejected.
        #[pallet::constant]
        type MaxMisses: Get<u32>;

        /// Minted for every passed audit.
        #[pallet::constant]
        type Reward: Get<BalanceOf<Self>>;

        /// Draws per provider to find an auditable piece.
        #[pallet::constant]
        type MaxDraws: Get<u32>;

        /// Most VRF keys (validators).
        #[pallet::constant]
        type MaxAuthorities: Get<u32>;

        /// Weights of this pallet's calls and hooks.
        type WeightInfo: WeightInfo;
    }

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A provider must prove a leaf of one of its pieces this period.
        Challenged {
            provider: T::AccountId,
            challenge: Challenge,
        },
        /// A provider proved its challenge and was rewarded.
        Proven {
            provider: T::AccountId,
            period: PeriodIndex,
            reward: BalanceOf<T>,
        },
        /// A provider failed its challenge and was slashed.
        Failed {
            provider: T::AccountId,
            period: PeriodIndex,
            failure: Failure,
            slashed: BalanceOf<T>,
            misses: u32,
        },
        /// A provider failed too often in a row and was ejected.
        Ejected { provider: T::AccountId },
    }

    #[pallet::error]
    pub enum Error<T> {
        /// The caller has no open challenge; wait for the next period.
        NoChallenge,
    }

    /// The randomness accumulator.
    #[pallet::storage]
    pub type Randomness<T> = StorageValue<_, [u8; 32], ValueQuery>;

    /// The VRF key of each Aura authority, by authority index.
    #[pallet::storage]
    pub type VrfAuthorities<T: Config> =
        StorageValue<_, BoundedVec<sr25519::Public, T::MaxAuthorities>, ValueQuery>;

    /// Open challenges.
    #[pallet::storage]
    pub type Challenges<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, Challenge>;

    /// What each provider was minted in rewards so far, in all.
    #[pallet::storage]
    pub type Rewarded<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, BalanceOf<T>, ValueQuery>;

    /// Each provider's proven periods.
    #[pallet::storage]
    pub type History<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, ProofHistory, ValueQuery>;

    /// Each provider's failures in a row.
    #[pallet::storage]
    pub type Misses<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

    /// The period each holder was last visited in. A holder visited once is
    /// not visited again in the same period, even after answering its
    /// challenge, when the holder list moves it to a later draw block.
    #[pallet::storage]
    pub type LastVisit<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, PeriodIndex>;

    /// Where the sweep of expired challenges stopped: a raw key of
    /// `Challenges`, or none to start from the first.
    #[pallet::storage]
    pub type SweepCursor<T: Config> = StorageValue<_, BoundedVec<u8, ConstU32<128>>>;

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
                return T::WeightInfo::on_initialize(0);
            }
            let period: PeriodIndex = (now / length).saturated_into();
            let visited = Self::visit_holders(period, offset, draw_blocks);
            let budget = T::Pieces::holder_count().div_ceil(draw_blocks) + 1;
            let swept = Self::sweep(period, budget);
            T::WeightInfo::on_initialize(visited.saturating_add(swept))
        }

        fn integrity_test() {
            assert!(
                !T::PeriodLength::get().is_zero(),
                "PeriodLength must be positive"
            );
            assert!(T::MaxDraws::get() > 0, "MaxDraws must be positive");
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Answers the caller's open challenge with the leaf, its path to
        /// its shard root and that root's path to the piece root. Free when
        /// the proof is valid; a bad proof is a failed audit.
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::submit_proof())]
        pub fn submit_proof(
            origin: OriginFor<T>,
            leaf: LeafOf,
            shard_path: PathOf,
            piece_path: PiecePathOf,
        ) -> DispatchResultWithPostInfo {
            let provider = ensure_signed(origin)?;
            let challenge = Challenges::<T>::take(&provider).ok_or(Error::<T>::NoChallenge)?;
            if challenge.period < Self::current_period() {
                // Its period is over: a miss, whatever the proof.
                Self::fail(&provider, challenge.period, Failure::Missed);
                return Ok(Pays::Yes.into());
            }
            let proof = PieceProof {
                leaf: leaf.into_inner(),
                shard_path: shard_path.into_inner(),
                piece_path: piece_path.into_inner(),
            };
            let verified = challenge.layout().map_err(|_| ()).and_then(|layout| {
                piece::verify(&challenge.root, &layout, challenge.leaf, &proof).map_err(|_| ())
            });
            match verified {
                Ok(()) => {
                    History::<T>::mutate(&provider, |h| h.record(challenge.period));
                    Misses::<T>::remove(&provider);
                    let reward = T::Reward::get();
                    let reward = T::Currency::mint_into(&provider, reward).unwrap_or_default();
                    Rewarded::<T>::mutate(&provider, |total| *total = total.saturating_add(reward));
                    Self::deposit_event(Event::Proven {
                        provider,
                        period: challenge.period,
                        reward,
                    });
                    Ok(Pays::No.into())
                }
                Err(_) => {
                    Self::fail(&provider, challenge.period, Failure::BadProof);
                    Ok(Pays::Yes.into())
                }
            }
        }
    }

    impl<T: Config> Pallet<T> {
        /// Checks the pallet's invariants: nobody has reached `MaxMisses`
        /// without being ejected, and every challenge was drawn at a visit
        /// and names a real leaf.
        pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
            for (_, misses) in Misses::<T>::iter() {
                ensure!(
                    misses < T::MaxMisses::get(),
                    "a provider should have been ejected"
                );
            }
            for (provider, challenge) in Challenges::<T>::iter() {
                ensure!(
                    LastVisit::<T>::get(&provider).is_some_and(|visit| challenge.period <= visit),
                    "a challenge was drawn outside a visit"
                );
                let layout = challenge
                    .layout()
                    .map_err(|_| "a challenge names an impossible layout")?;
                ensure!(
                    challenge.leaf < layout.piece_leaves(),
                    "a challenge names a leaf past the piece's end"
                );
            }
            Ok(())
        }

        /// Replaces the validators' VRF keys (in Aura authority order), for
        /// the validator-set change that also changes the Aura authorities.
        pub fn set_vrf_authorities(keys: BoundedVec<sr25519::Public, T::MaxAuthorities>) {
            VrfAuthorities::<T>::put(keys);
        }

        /// Mixes this block's VRF output into the accumulator. Panics (the
        /// block is invalid) when VRF keys are registered and the block lacks
        /// a valid VRF signature by its slot's author.
        fn absorb_vrf() {
            let keys = VrfAuthorities::<T>::get();
            let digest = frame_system::Pallet::<T>::digest();
            let pre_runtime = |id: [u8; 4]| {
                digest
                    .logs
                    .iter()
                    .filter_map(|item| item.as_pre_runtime())
                    .find_map(|(engine, data)| (engine == id).then_some(data))
            };
            let slot = pre_runtime(polkadot_sdk::sp_consensus_aura::AURA_ENGINE_ID)
                .and_then(|data| u64::decode(&mut &data[..]).ok());
            let signature = pre_runtime(VRF_ENGINE_ID)
                .and_then(|data| VrfSignature::decode(&mut &data[..]).ok());
            let (Some(slot), Some(signature)) = (slot, signature) else {
                assert!(keys.is_empty(), "block lacks the author's VRF signature");
                return;
            };
            if keys.is_empty() {
                return;
            }
            let author = &keys[(slot % keys.len() as u64) as usize];
            let previous = Randomness::<T>::get();
            let transcript = vrf_transcript(&previous, slot);
            assert!(
                author.vrf_verify(&transcript.clone().into_sign_data(), &signature),
                "invalid VRF signature"
            );
            let output: [u8; 32] = author
                .make_bytes(VRF_CONTEXT, &transcript, &signature.pre_output)
                .expect("a verified pre-output yields bytes; qed");
            Randomness::<T>::put(blake2_256(&(previous, output).encode()));
        }

        /// The current period.
        pub fn current_period() -> PeriodIndex {
            let now = frame_system::Pallet::<T>::block_number();
            (now / T::PeriodLength::get()).saturated_into()
        }

        /// Blocks at the start of each period over which draws are spread.
        pub fn draw_blocks() -> u32 {
            let length: u32 = T::PeriodLength::get().saturated_into();
            (length / 2).max(1)
        }

        /// Visits the holders of draw block `offset` of `draw_blocks`:
        /// closes each one's previous challenge and draws its next; returns
        /// how many it visited.
        fn visit_holders(period: PeriodIndex, offset: u32, draw_blocks: u32) -> u32 {
            let count = T::Pieces::holder_count();
            let mut visited = 0;
            let mut index = offset;
            while index < count {
                if let Some(provider) = T::Pieces::holder_at(index) {
                    Self::visit(&provider, period);
                    visited += 1;
                }
                index = index.saturating_add(draw_blocks);
            }
            visited
        }

        /// Looks at up to `budget` open challenges from where the last sweep
        /// stopped and closes those of periods before `period` as misses;
        /// returns how many it looked at. Visits close their holders' own
        /// expired challenges; the sweep closes those of providers no longer
        /// on the holder list (their last piece deleted, expired or moved).
        /// Each draw block sweeps `⌈holders / draw blocks⌉ + 1`, so a
        /// period's sweeps cover every holder's challenge and as many again
        /// as there are draw blocks.
        fn sweep(period: PeriodIndex, budget: u32) -> u32 {
            let mut open = match SweepCursor::<T>::take() {
                Some(key) => Challenges::<T>::iter_from(key.into_inner()),
                None => Challenges::<T>::iter(),
            };
            let mut seen = 0;
            let mut expired = Vec::new();
            while seen < budget {
                let Some((provider, challenge)) = open.next() else {
                    break;
                };
                seen += 1;
                if challenge.period < period {
                    expired.push((provider, challenge));
                }
            }
            if seen == budget {
                if let Ok(key) = BoundedVec::try_from(open.last_raw_key().to_vec()) {
                    SweepCursor::<T>::put(key);
                }
            }
            // Removed only after the walk: a map changed under its iterator
            // may skip or repeat keys.
            for (provider, challenge) in expired {
                Challenges::<T>::remove(&provider);
                Self::close_missed(&provider, &challenge);
            }
            seen
        }

        /// Closes `provider`'s challenge of an earlier period (a miss) and
        /// draws its challenge for `period`, unless it was visited in
        /// `period` already (the holder list moved it to a later draw block;
        /// its challenge may be open or answered by now).
        fn visit(provider: &T::AccountId, period: PeriodIndex) {
            if LastVisit::<T>::get(provider).is_some_and(|visit| visit >= period) {
                return;
            }
            LastVisit::<T>::insert(provider, period);
            if let Some(open) = Challenges::<T>::take(provider) {
                Self::close_missed(provider, &open);
            }
            Self::draw(provider, period);
        }

        /// An expired challenge, unanswered: a miss, unless the piece left
        /// the provider meanwhile (its order deleted or ended, the piece
        /// moved), which must not cost an honest provider that dropped it.
        fn close_missed(provider: &T::AccountId, challenge: &Challenge) {
            if T::Pieces::holds(provider, challenge.order, challenge.piece) {
                Self::fail(provider, challenge.period, Failure::Missed);
            }
        }

        /// Draws `provider`'s challenge for `period` among its auditable
        /// pieces, trying `MaxDraws` slots.
        fn draw(provider: &T::AccountId, period: PeriodIndex) {
            let seed = Randomness::<T>::get();
            let count = T::Pieces::piece_count(provider);
            for draw in 0..T::MaxDraws::get() {
                let random = blake2_256(&(seed, period, provider, draw).encode());
                let pick = |at: usize| {
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(&random[at..at + 8]);
                    u64::from_le_bytes(bytes)
                };
                let slot = (pick(0) % u64::from(count.max(1))) as u32;
                let Some(piece) = T::Pieces::piece_at(provider, slot) else {
                    continue;
                };
                if !piece.auditable {
                    continue;
                }
                let challenge = Challenge {
                    period,
                    order: piece.order,
                    piece: piece.piece,
                    leaf: pick(8) % piece.layout.piece_leaves(),
                    root: piece.root,
                    coding: piece.layout.coding(),
                    size: piece.layout.stored_size(),
                };
                Challenges::<T>::insert(provider, challenge.clone());
                Self::deposit_event(Event::Challenged {
                    provider: provider.clone(),
                    challenge,
                });
                break;
            }
        }

        fn fail(provider: &T::AccountId, period: PeriodIndex, failure: Failure) {
            let slashed = T::Providers::slash(provider, T::SlashFraction::get());
            let misses = Misses::<T>::mutate(provider, |m| {
                *m = m.saturating_add(1);
                *m
            });
            Self::deposit_event(Event::Failed {
                provider: provider.clone(),
                period,
                failure,
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

    /// The transcript a block's VRF signs: the previous accumulator and the slot.
    pub fn vrf_transcript(previous: &[u8; 32], slot: u64) -> VrfTranscript {
        VrfTranscript::new(
            VRF_LABEL,
            &[
                (b"randomness", &previous[..]),
                (b"slot", &slot.to_le_bytes()),
            ],
        )
    }

    /// The pre-runtime digest of a block at `slot`: Aura's slot and, if
    /// given, `signer`'s VRF signature over the current accumulator. Tests
    /// and benchmarks build blocks with it.
    #[cfg(any(test, feature = "runtime-benchmarks"))]
    pub fn slot_digest<T: Config>(slot: u64, signer: Option<&sr25519::Pair>) -> sp_runtime::Digest {
        use polkadot_sdk::sp_core::crypto::VrfSecret;
        use sp_runtime::DigestItem;
        let aura = polkadot_sdk::sp_consensus_aura::AURA_ENGINE_ID;
        let mut logs = vec![DigestItem::PreRuntime(aura, slot.encode())];
        if let Some(signer) = signer {
            let transcript = vrf_transcript(&Randomness::<T>::get(), slot);
            let signature = signer.vrf_sign(&transcript.into_sign_data());
            logs.push(DigestItem::PreRuntime(VRF_ENGINE_ID, signature.encode()));
        }
        sp_runtime::Digest { logs }
    }

    /// The randomness accumulator, for other pallets (the market's
    /// placement) to draw from.
    pub struct AccumulatedRandomness<T>(PhantomData<T>);

    impl<T: Config> Get<[u8; 32]> for AccumulatedRandomness<T> {
        fn get() -> [u8; 32] {
            Randomness::<T>::get()
        }
    }

    impl<T: Config> ProofLedger<T::AccountId> for Pallet<T> {
        fn proven_periods(who: &T::AccountId, from: PeriodIndex, to: PeriodIndex) -> u32 {
            History::<T>::get(who).count(from, to)
        }

        #[cfg(feature = "runtime-benchmarks")]
        fn prove_for_benchmark(who: &T::AccountId, from: PeriodIndex, to: PeriodIndex) {
            History::<T>::mutate(who, |history| (from..to).for_each(|p| history.record(p)));
        }
    }
}
