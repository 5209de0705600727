//! Answers the chain's challenges to this provider.
//!
//! On every new best head the worker reads the challenges open for it at
//! that head. Each one it has not answered yet is proven from the stored
//! piece on a blocking thread (every challenged leaf with its path to its
//! shard root and that root's path to the piece root, the shard-root tree
//! hashed once) and handed to the submitter ahead of everything else. A
//! challenge is answered once: it stays marked until the chain no longer
//! lists it (its proof was included, or it expired), so a head seen twice,
//! a reorg or a reconnection never sends a second proof. A challenge the
//! store cannot answer (the piece is missing or damaged) is logged and
//! counted at once: the chain will count it as missed. Every proof is
//! checked against the piece root before it is sent: a piece whose bytes no
//! longer prove (bit rot in the challenged shard) is reported damaged
//! ([`Health::damaged`]) and rebuilt, and no proof the chain would reject
//! (and charge a fee and move the piece for) is sent.
//!
//! How long a proof takes to get in is measured from the head at which the
//! worker first saw the challenge to the block that included the proof, in
//! blocks and seconds (`mosaic_worker_proof_inclusion_*`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use mosaic_api::chain::{ChainClient, Challenge, OrderId};
use mosaic_primitives::merkle::ProofError;
use mosaic_primitives::piece::{self, PieceRoot};
use mosaic_runtime::{AccountId, Header, RuntimeCall};
use mosaic_shard_net::store::read_shard;
use mosaic_shard_net::{ShardStore, StoreError};
use pallet_mosaic_audit::ProofsOf;
use polkadot_sdk::frame_support::BoundedVec;

use crate::health::Health;
use crate::metrics::WorkerMetrics;
use crate::submitter::Submitter;

/// Why a challenge could not be answered from the store.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The piece is not held (lost, or never fully stored).
    #[error("piece {0:?} is not in the store")]
    NotHeld(PieceRoot),
    /// The store failed reading it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored piece does not fit the challenge (damaged metadata, or a
    /// challenge of another layout).
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The stored bytes do not prove leaf `0` against the piece root.
    #[error("the stored bytes of leaf {0} do not prove it against the piece root")]
    Damaged(u64),
}

/// Proves every leaf of `challenge` from `store`.
pub fn prove(store: &dyn ShardStore, challenge: &Challenge) -> Result<ProofsOf, ProveError> {
    let root = challenge.root;
    let meta = store.meta(&root)?.ok_or(ProveError::NotHeld(root))?;
    let layout = meta.layout().map_err(|_| StoreError::Corrupt(root))?;
    let proofs = piece::prove_leaves(&layout, &meta.shard_roots, &challenge.leaves, |segment| {
        read_shard(store, &root, segment).map_err(ProveError::from)
    })?;
    for (leaf, proof) in challenge.leaves.iter().zip(&proofs) {
        if piece::verify(&root, &layout, *leaf, proof).is_err() {
            return Err(ProveError::Damaged(*leaf));
        }
    }
    Ok(BoundedVec::truncate_from(
        proofs.into_iter().map(Into::into).collect(),
    ))
}

/// A challenge as the worker tells it apart from another.
type Key = (OrderId, u32, u64);

fn key(challenge: &Challenge) -> Key {
    (challenge.order, challenge.piece, challenge.deadline)
}

/// The worker's prover.
pub struct Prover {
    me: AccountId,
    store: Arc<dyn ShardStore>,
    submitter: Submitter,
    metrics: WorkerMetrics,
    health: Health,
    /// Challenges answered (or found unanswerable) and still open.
    answered: HashSet<Key>,
}

impl Prover {
    /// A prover answering for `me` from `store` through `submitter`.
    pub fn new(
        me: AccountId,
        store: Arc<dyn ShardStore>,
        submitter: Submitter,
        metrics: WorkerMetrics,
        health: Health,
    ) -> Self {
        Prover {
            me,
            store,
            submitter,
            metrics,
            health,
            answered: HashSet::new(),
        }
    }

    /// Answers the challenges open at `head` not answered yet.
    pub async fn on_head(&mut self, chain: &Arc<ChainClient>, head: &Header) {
        let open = match chain.challenges(&self.me, Some(head.hash())).await {
            Ok(open) => open,
            Err(e) => {
                tracing::warn!(target: "mosaic::worker", "reading challenges: {e}");
                return;
            }
        };
        let still_open: HashSet<Key> = open.iter().map(key).collect();
        self.answered.retain(|k| still_open.contains(k));
        for challenge in open {
            if !self.answered.insert(key(&challenge)) {
                continue;
            }
            // A proof sent now gets in at the next block at the soonest:
            // too late, it would only pay a fee for the same failure.
            if challenge.deadline <= u64::from(head.number) {
                self.metrics.challenges_missed.inc();
                tracing::error!(target: "mosaic::worker", "the challenge of piece {} of order {} was due by block {}, and this worker first saw it at block {}: missed (was the worker stopped or stalled?)", challenge.piece, challenge.order, challenge.deadline, head.number);
                continue;
            }
            let what = format!(
                "proof of {} leaves of piece {} of order {} (due by block {}, now {})",
                challenge.leaves.len(),
                challenge.piece,
                challenge.order,
                challenge.deadline,
                head.number
            );
            let (store, submitter, metrics, health, chain) = (
                self.store.clone(),
                self.submitter.clone(),
                self.metrics.clone(),
                self.health.clone(),
                chain.clone(),
            );
            let (seen, revealed) = (Instant::now(), head.number);
            tokio::spawn(async move {
                let proven = tokio::task::spawn_blocking({
                    let (store, challenge) = (store.clone(), challenge.clone());
                    move || prove(&*store, &challenge)
                })
                .await;
                match proven {
                    Ok(Ok(proofs)) => {
                        let call = RuntimeCall::Audit(pallet_mosaic_audit::Call::submit_proof {
                            order: challenge.order,
                            piece: challenge.piece,
                            proofs,
                        });
                        metrics.proofs_submitted.inc();
                        let included = submitter.submit_urgent(call, what).await;
                        if let Ok(included) = included.await {
                            metrics.proof_seconds.observe(seen.elapsed().as_secs_f64());
                            if let Ok(Some(block)) = chain.header(included.block).await {
                                let blocks = block.number.saturating_sub(revealed);
                                metrics.proof_blocks.observe(f64::from(blocks));
                            }
                        }
                    }
                    Ok(Err(e)) => {
                        metrics.challenges_unanswerable.inc();
                        tracing::error!(target: "mosaic::worker", "cannot answer the challenge of piece {} of order {}: {e}; it will count as missed", challenge.piece, challenge.order);
                        if !matches!(e, ProveError::NotHeld(_)) {
                            let root = challenge.root;
                            let _ = tokio::task::spawn_blocking(move || {
                                health.damaged(store.as_ref(), root, &e)
                            })
                            .await;
                        }
                    }
                    Err(e) => {
                        metrics.challenges_unanswerable.inc();
                        tracing::error!(target: "mosaic::worker", "proving piece {} of order {}: {e}", challenge.piece, challenge.order);
                    }
                }
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use mosaic_primitives::erasure::CodingParams;
    use mosaic_primitives::manifest::ShardId;
    use mosaic_primitives::memory::MemoryShards;
    use mosaic_primitives::pipeline::{self, PutOptions, ShardSource};
    use mosaic_shard_net::store::{MemoryStore, PieceMeta};

    /// Piece 1 of a public object of four 256 KiB segments coded 2 + 1:
    /// its root, metadata and shards.
    pub(crate) fn sample_piece() -> (PieceRoot, PieceMeta, Vec<Vec<u8>>) {
        sample_piece_of(1)
    }

    /// Piece `number` of the sample object.
    pub(crate) fn sample_piece_of(number: u8) -> (PieceRoot, PieceMeta, Vec<Vec<u8>>) {
        let bytes: Vec<u8> = (0..4 * 262_144u32).map(|i| (i * 31 % 251) as u8).collect();
        let coding = CodingParams::with_segment_size(2, 1, 262_144).unwrap();
        let options = PutOptions {
            coding,
            threads: 1,
            ..PutOptions::public()
        };
        let mut shards = MemoryShards::default();
        let manifest = pipeline::put(&bytes[..], &options, &mut shards).unwrap();
        let meta = PieceMeta {
            coding,
            stored_size: manifest.stored_size(),
            shard_roots: shards.shard_roots(number).unwrap(),
        };
        let piece = (0..manifest.segment_count())
            .map(|segment| {
                shards
                    .shard(ShardId {
                        segment,
                        index: number,
                    })
                    .unwrap()
            })
            .collect();
        (manifest.piece_roots[usize::from(number)], meta, piece)
    }

    /// The sample piece stored (with `tamper` applied to its shards), and a
    /// challenge of three of its leaves, one in the last segment.
    fn stored_with(tamper: impl FnOnce(&mut Vec<Vec<u8>>)) -> (MemoryStore, Challenge) {
        let (root, meta, mut shards) = sample_piece();
        tamper(&mut shards);
        let store = MemoryStore::default();
        store.begin(&root, &meta).unwrap();
        for (segment, shard) in shards.iter().enumerate() {
            store.append(&root, segment as u32, shard).unwrap();
        }
        let challenge = Challenge {
            period: 1,
            deadline: 10,
            order: 0,
            piece: 1,
            leaves: BoundedVec::truncate_from(vec![0, 200, 511]),
            root,
            coding: meta.coding,
            size: meta.stored_size,
        };
        (store, challenge)
    }

    fn stored() -> (MemoryStore, Challenge) {
        stored_with(|_| ())
    }

    #[test]
    fn a_damaged_leaf_is_found_before_a_proof_the_chain_would_reject_is_sent() {
        // Leaf 511 is the last leaf of segment 3 (128 leaves of 1 KiB a shard).
        let (store, challenge) = stored_with(|shards| shards[3][127 * 1024] ^= 1);
        assert!(matches!(
            prove(&store, &challenge),
            Err(ProveError::Damaged(511))
        ));
    }

    #[test]
    fn a_stored_piece_answers_its_challenge_and_the_chain_would_accept_it() {
        let (store, challenge) = stored();
        let proofs = prove(&store, &challenge).unwrap();
        assert_eq!(proofs.len(), 3);
        let layout = challenge.layout().unwrap();
        for (leaf, proof) in challenge.leaves.iter().zip(proofs) {
            assert_eq!(
                piece::verify(&challenge.root, &layout, *leaf, &proof.into()),
                Ok(())
            );
        }
    }

    #[test]
    fn a_lost_piece_or_a_leaf_past_its_end_is_an_error_not_a_proof() {
        let (store, mut challenge) = stored();
        store.remove(&challenge.root).unwrap();
        assert!(matches!(
            prove(&store, &challenge),
            Err(ProveError::NotHeld(root)) if root == challenge.root
        ));
        let (store, _) = stored();
        challenge.leaves = BoundedVec::truncate_from(vec![1_000_000]);
        assert!(matches!(
            prove(&store, &challenge),
            Err(ProveError::Proof(ProofError::PieceLeafOutOfRange { .. }))
        ));
    }
}
