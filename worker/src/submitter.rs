//! The worker's one transaction submitter: it owns the account's nonce,
//! sends urgent transactions (proofs) before the rest (confirms), and
//! retries a transaction that was dropped, usurped or timed out with a
//! nonce read afresh from the chain.
//!
//! A transaction is signed with the next local nonce and handed to the pool;
//! its inclusion is followed on a task of its own, so several go into one
//! block. Queues are bounded; a full queue makes `submit` wait.

use std::sync::Arc;

use mosaic_api::chain::{ChainError, Included};
use mosaic_runtime::{AccountId, Nonce, RuntimeCall};
use polkadot_sdk::sp_core::{sr25519, Pair};
use tokio::sync::{mpsc, oneshot};

use crate::node::Node;

/// Times a transaction is tried before it is given up.
const ATTEMPTS: u8 = 3;
/// Transactions queued per priority.
const QUEUE: usize = 1024;

struct Job {
    call: RuntimeCall,
    what: String,
    attempt: u8,
    /// Told the block it was included in, if it was.
    included: Option<oneshot::Sender<Included>>,
}

/// A handle on the submitter.
#[derive(Clone)]
pub struct Submitter {
    urgent: mpsc::Sender<Job>,
    normal: mpsc::Sender<Job>,
}

impl Submitter {
    /// Starts the submitter for `signer`'s account.
    pub fn spawn(node: Arc<Node>, signer: sr25519::Pair) -> Self {
        let (urgent, urgent_rx) = mpsc::channel(QUEUE);
        let (normal, normal_rx) = mpsc::channel(QUEUE);
        let submitter = Submitter { urgent, normal };
        tokio::spawn(run(node, signer, submitter.clone(), urgent_rx, normal_rx));
        submitter
    }

    /// Queues `call`; `what` names it in the log.
    pub async fn submit(&self, call: RuntimeCall, what: String) {
        Self::enqueue(&self.normal, call, what, None).await
    }

    /// Queues `call` ahead of every ordinary one; the answer resolves with
    /// its inclusion (and is dropped if it fails or is given up).
    pub async fn submit_urgent(
        &self,
        call: RuntimeCall,
        what: String,
    ) -> oneshot::Receiver<Included> {
        let (tx, rx) = oneshot::channel();
        Self::enqueue(&self.urgent, call, what, Some(tx)).await;
        rx
    }

    async fn enqueue(
        queue: &mpsc::Sender<Job>,
        call: RuntimeCall,
        what: String,
        included: Option<oneshot::Sender<Included>>,
    ) {
        let job = Job {
            call,
            what,
            attempt: 0,
            included,
        };
        // The queue closes only when the submitter stopped with the runtime.
        let _ = queue.send(job).await;
    }

    fn retry(&self, mut job: Job, why: &dyn std::fmt::Display) {
        job.attempt += 1;
        if job.attempt >= ATTEMPTS {
            tracing::error!(target: "mosaic::worker", "{} failed {ATTEMPTS} times, giving up: {why}", job.what);
            return;
        }
        let delay = std::time::Duration::from_secs(1 << job.attempt);
        tracing::warn!(target: "mosaic::worker", "{}: {why}; trying again in {delay:?}", job.what);
        let queue = self.normal.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = queue.send(job).await;
        });
    }
}

async fn run(
    node: Arc<Node>,
    signer: sr25519::Pair,
    handle: Submitter,
    mut urgent: mpsc::Receiver<Job>,
    mut normal: mpsc::Receiver<Job>,
) {
    let me = AccountId::from(signer.public());
    let mut nonce: Option<Nonce> = None;
    loop {
        let job = tokio::select! {
            biased;
            Some(job) = urgent.recv() => job,
            Some(job) = normal.recv() => job,
            else => return,
        };
        let chain = node.get();
        // A retry means a transaction went missing: the local nonce may be
        // ahead of the chain's.
        if job.attempt > 0 {
            nonce = None;
        }
        let next = match nonce {
            Some(next) => next,
            None => match chain.next_nonce(&me).await {
                Ok(next) => next,
                Err(e) => {
                    handle.retry(job, &e);
                    continue;
                }
            },
        };
        let sent = async {
            let extrinsic = chain
                .sign_with_nonce(&signer, job.call.clone(), next)
                .await?;
            let statuses = chain.watch(&extrinsic).await?;
            Ok::<_, ChainError>((extrinsic, statuses))
        };
        match sent.await {
            Ok((extrinsic, statuses)) => {
                nonce = Some(next + 1);
                let handle = handle.clone();
                tokio::spawn(async move {
                    match chain.follow(&extrinsic, statuses).await {
                        Ok(included) => {
                            tracing::info!(target: "mosaic::worker", "{} included in {:?}", job.what, included.block);
                            if let Some(tx) = job.included {
                                let _ = tx.send(included);
                            }
                        }
                        // The call ran and failed: trying again would fail again.
                        Err(ChainError::Failed(why)) => {
                            tracing::warn!(target: "mosaic::worker", "{} failed on chain: {why}", job.what)
                        }
                        Err(e) => handle.retry(job, &e),
                    }
                });
            }
            Err(e) => {
                nonce = None;
                handle.retry(job, &e);
            }
        }
    }
}
