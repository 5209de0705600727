//! Checking what peers send, off the swarm's task (all of it reads the
//! database, runs the runtime or checks signatures): gossiped blocks and
//! sync batches are imported (and their justifications verified) one at a
//! time, gossiped transactions are validated by the pool, GRANDPA messages
//! are checked against the authority set and handed to the voter. Each
//! outcome goes back to the swarm's task, which forwards or drops the
//! message and scores the peer.

use std::sync::Arc;

use libp2p::gossipsub::MessageId;
use libp2p::PeerId;
use mosaic_runtime::{Block, BlockNumber};
use polkadot_sdk::sp_runtime::traits::Header as _;
use polkadot_sdk::sp_runtime::Justifications;
use tokio::sync::mpsc;

use super::cost;
use super::protocol::{GrandpaMessage, SyncBlock};
use crate::chain::{now_ms, Chain, ImportError, Source};
use crate::grandpa::{self, GrandpaError};
use crate::pool::{Pool, PoolError};

/// Jobs queued per kind at most; more are dropped.
const QUEUE: usize = 256;

/// What a checked message deserves.
#[derive(Debug)]
pub enum Verdict {
    /// Valid and new: forward it.
    Accept,
    /// Not wrong, but not to forward (known, stale, early).
    Ignore,
    /// Its parent is unknown: we are behind and should sync.
    UnknownParent,
    /// Invalid: drop it and score the peer down.
    Reject {
        /// The reputation it costs.
        cost: i32,
        /// Why, for the log.
        why: String,
    },
}

/// A checked job.
#[derive(Debug)]
pub enum Outcome {
    /// A gossiped block or transaction.
    Gossip {
        /// Who sent it.
        peer: PeerId,
        /// The gossip message.
        id: MessageId,
        /// What it deserves.
        verdict: Verdict,
    },
    /// A batch of blocks we asked for.
    SyncBatch {
        /// Who sent it.
        peer: PeerId,
        /// The worst of it.
        verdict: Verdict,
        /// Blocks newly imported.
        imported: usize,
        /// Blocks fetched for a vote, not a sync batch.
        fetched: bool,
        /// Where to go on along the peer's chain: after a whole batch
        /// that was all processed.
        next: Option<BlockNumber>,
    },
}

/// Where a batch of blocks comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// Our best chain's continuation, asked from our best block.
    FromBest,
    /// The same, asked from our finalized block.
    FromFinalized,
    /// A block some vote names, with its ancestors.
    Fetched,
}

enum BlockJob {
    Gossip(PeerId, MessageId, Block),
    Sync(PeerId, Vec<SyncBlock>, Batch),
}

impl BlockJob {
    /// What to report if the job's task fails: nothing learnt.
    fn failed(&self) -> Outcome {
        match self {
            BlockJob::Gossip(peer, id, _) => Outcome::Gossip {
                peer: *peer,
                id: id.clone(),
                verdict: Verdict::Ignore,
            },
            BlockJob::Sync(peer, _, batch) => Outcome::SyncBatch {
                peer: *peer,
                verdict: Verdict::Ignore,
                imported: 0,
                fetched: *batch == Batch::Fetched,
                next: None,
            },
        }
    }
}

/// Sync batches queued at most (one sync request and the fetches are out
/// at a time).
const SYNC_QUEUE: usize = 32;

/// A gossiped message and where it came from.
type GossipJob<T> = (PeerId, MessageId, T);

/// The queues of the checking tasks.
pub struct Importer {
    blocks: mpsc::Sender<BlockJob>,
    batches: mpsc::Sender<BlockJob>,
    transactions: mpsc::Sender<GossipJob<Vec<u8>>>,
    grandpa: mpsc::Sender<GossipJob<GrandpaMessage>>,
}

impl Importer {
    /// Queues a gossiped block.
    pub fn block(&self, peer: PeerId, id: MessageId, block: Block) {
        if self
            .blocks
            .try_send(BlockJob::Gossip(peer, id, block))
            .is_err()
        {
            tracing::debug!(target: "mosaic::network", "import queue full: block dropped");
        }
    }

    /// Queues blocks we asked for, lowest first; false if the queue is
    /// full and they were dropped.
    pub fn sync_batch(&self, peer: PeerId, blocks: Vec<SyncBlock>, batch: Batch) -> bool {
        let queued = self
            .batches
            .try_send(BlockJob::Sync(peer, blocks, batch))
            .is_ok();
        if !queued {
            tracing::warn!(target: "mosaic::network", "import queue full: sync batch dropped");
        }
        queued
    }

    /// Queues a gossiped transaction.
    pub fn transaction(&self, peer: PeerId, id: MessageId, bytes: Vec<u8>) {
        if self.transactions.try_send((peer, id, bytes)).is_err() {
            tracing::debug!(target: "mosaic::network", "transaction queue full: dropped");
        }
    }

    /// Queues a gossiped GRANDPA message.
    pub fn grandpa(&self, peer: PeerId, id: MessageId, message: GrandpaMessage) {
        if self.grandpa.try_send((peer, id, message)).is_err() {
            tracing::debug!(target: "mosaic::network", "GRANDPA queue full: dropped");
        }
    }
}

/// Starts the checking tasks.
pub fn spawn(
    chain: Arc<Chain>,
    pool: Arc<Pool>,
    link: grandpa::NetworkLink,
) -> (Importer, mpsc::Receiver<Outcome>) {
    let (outcomes, receiver) = mpsc::channel(QUEUE * 3);
    let (blocks, mut block_jobs) = mpsc::channel(QUEUE);
    let (batches, mut batch_jobs) = mpsc::channel(SYNC_QUEUE);
    let (transactions, tx_jobs) = mpsc::channel(QUEUE);
    let (grandpa, grandpa_jobs) = mpsc::channel(QUEUE);
    let block_outcomes = outcomes.clone();
    let chain_for_grandpa = chain.clone();
    tokio::spawn(async move {
        loop {
            // Gossiped blocks first: they are the chain's head.
            let job: BlockJob = tokio::select! {
                biased;
                Some(job) = block_jobs.recv() => job,
                Some(job) = batch_jobs.recv() => job,
                else => return,
            };
            let failed = job.failed();
            let chain = chain.clone();
            let outcome = tokio::task::spawn_blocking(move || import(&chain, job))
                .await
                .unwrap_or(failed);
            if block_outcomes.send(outcome).await.is_err() {
                return;
            }
        }
    });
    tokio::spawn(check_each(
        tx_jobs,
        outcomes.clone(),
        move |_, bytes: Vec<u8>| transaction_verdict(pool.submit_from_peer(&bytes)),
    ));
    tokio::spawn(check_each(grandpa_jobs, outcomes, move |peer, message| {
        grandpa_verdict(&chain_for_grandpa, &link, peer, message)
    }));
    (
        Importer {
            blocks,
            batches,
            transactions,
            grandpa,
        },
        receiver,
    )
}

/// Checks each gossiped message of `jobs` on the blocking pool, one at a
/// time, and sends its outcome.
async fn check_each<T: Send + 'static>(
    mut jobs: mpsc::Receiver<GossipJob<T>>,
    outcomes: mpsc::Sender<Outcome>,
    check: impl Fn(PeerId, T) -> Verdict + Send + Sync + 'static,
) {
    let check = Arc::new(check);
    while let Some((peer, id, message)) = jobs.recv().await {
        let check = check.clone();
        let Ok(verdict) = tokio::task::spawn_blocking(move || check(peer, message)).await else {
            continue;
        };
        if outcomes
            .send(Outcome::Gossip { peer, id, verdict })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Checks a GRANDPA message and hands a new valid one to the voter.
fn grandpa_verdict(
    chain: &Chain,
    link: &grandpa::NetworkLink,
    peer: PeerId,
    message: GrandpaMessage,
) -> Verdict {
    match link.check(&message) {
        check @ (grandpa::Check::Valid | grandpa::Check::Known) => {
            // A commit's signatures do not cover its target: forward it
            // only when its target is a block we have (a copy sent again is
            // forwarded once we have it).
            let forward = match &message {
                GrandpaMessage::Commit { commit, .. } => {
                    chain.has_block(commit.target_hash, commit.target_number)
                }
                GrandpaMessage::Vote { .. } => true,
            };
            if check == grandpa::Check::Valid {
                link.deliver(grandpa::Incoming::Message(peer, message));
            }
            if forward {
                Verdict::Accept
            } else {
                Verdict::Ignore
            }
        }
        grandpa::Check::OtherSet | grandpa::Check::Stale => Verdict::Ignore,
        grandpa::Check::Invalid(why) => Verdict::Reject {
            cost: cost::INVALID_GRANDPA,
            why: why.into(),
        },
    }
}

fn import(chain: &Chain, job: BlockJob) -> Outcome {
    match job {
        BlockJob::Gossip(peer, id, block) => Outcome::Gossip {
            peer,
            id,
            verdict: match chain.import(block, now_ms(), Source::Gossip) {
                Ok(_) => Verdict::Accept,
                Err(e) => import_verdict(e),
            },
        },
        BlockJob::Sync(peer, blocks, batch) => {
            let mut imported = 0;
            let mut verdict = Verdict::Accept;
            let full = blocks.len() == super::protocol::MAX_BLOCKS_PER_RESPONSE as usize;
            let mut last = None;
            for (
                i,
                SyncBlock {
                    block,
                    justification,
                },
            ) in blocks.into_iter().enumerate()
            {
                let header = block.header.clone();
                match chain.import(block, now_ms(), Source::Requested) {
                    Ok(_) => imported += 1,
                    Err(ImportError::Known(_)) => {}
                    // Our best chain is not the peer's; from our finalized
                    // block on, a peer whose blocks do not attach is on
                    // another finalized chain, or lying.
                    Err(ImportError::UnknownParent(_)) => {
                        verdict = if i == 0 && batch == Batch::FromBest {
                            Verdict::UnknownParent
                        } else {
                            Verdict::Ignore
                        };
                        break;
                    }
                    Err(e) => {
                        verdict = import_verdict(e);
                        break;
                    }
                }
                last = Some(*header.number());
                let Some(justification) = justification else {
                    continue;
                };
                if *header.number() <= chain.info().finalized_number {
                    continue;
                }
                if let Err(e) = finalize(chain, &header, &justification) {
                    verdict = match e {
                        GrandpaError::BadJustification(why) => Verdict::Reject {
                            cost: cost::INVALID_GRANDPA,
                            why: format!("justification of #{}: {why}", header.number()),
                        },
                        e => {
                            tracing::warn!(target: "mosaic::network", "finalizing #{}: {e}", header.number());
                            Verdict::Ignore
                        }
                    };
                    break;
                }
            }
            let whole = full && matches!(verdict, Verdict::Accept);
            Outcome::SyncBatch {
                peer,
                verdict,
                imported,
                fetched: batch == Batch::Fetched,
                next: last.filter(|_| whole).map(|n| n + 1),
            }
        }
    }
}

/// Verifies a block's justification and finalizes it.
fn finalize(
    chain: &Chain,
    header: &mosaic_runtime::Header,
    encoded: &[u8],
) -> Result<(), GrandpaError> {
    grandpa::verify_justification(chain, header, encoded)?;
    let justifications = Justifications::from((grandpa::ENGINE_ID, encoded.to_vec()));
    chain.finalize(header.hash(), Some(justifications))?;
    Ok(())
}

fn import_verdict(e: ImportError) -> Verdict {
    match e {
        ImportError::Known(_) | ImportError::BelowFinalized(_) | ImportError::FutureSlot(_) => {
            Verdict::Ignore
        }
        ImportError::UnknownParent(_) => Verdict::UnknownParent,
        // Not forwarded; the sender may be a relay that saw the other block
        // second, so it costs less than an invalid block.
        e @ ImportError::Equivocation { .. } => Verdict::Reject {
            cost: cost::EQUIVOCATION,
            why: e.to_string(),
        },
        // Our own failure, not the peer's.
        ImportError::Store(e) => {
            tracing::error!(target: "mosaic::network", "importing: {e}");
            Verdict::Ignore
        }
        e => Verdict::Reject {
            cost: cost::INVALID_BLOCK,
            why: format!("invalid block: {e}"),
        },
    }
}

/// Only undecodable bytes are surely the sender's fault: validity depends
/// on the state, and even a signature does on the branch (a mortal
/// transaction signs its birth block's hash), which the sender may see
/// differently.
fn transaction_verdict(result: Result<mosaic_runtime::Hash, PoolError>) -> Verdict {
    match result {
        Ok(_) => Verdict::Accept,
        Err(PoolError::BadFormat) => Verdict::Reject {
            cost: cost::GARBAGE,
            why: "undecodable transaction".into(),
        },
        Err(_) => Verdict::Ignore,
    }
}
