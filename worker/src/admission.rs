//! What the chain assigns this provider, as the shard server asks it: the
//! order's record read over JSON-RPC (cached until the next block), and a
//! confirmation queued once a piece is durable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mosaic_primitives::piece::PieceRoot;
use mosaic_runtime::{AccountId, RuntimeCall};
use mosaic_shard_net::protocol::OrderId;
use mosaic_shard_net::server::{Admission, Assignment};
use mosaic_shard_net::Refusal;

use crate::node::Node;
use crate::submitter::Submitter;

/// Most assignments cached; the cache is emptied when it fills and at every
/// new block.
const CACHE: usize = 4096;

/// The chain's view for the shard server.
pub struct ChainAdmission {
    node: Arc<Node>,
    me: AccountId,
    capacity: AtomicU64,
    submitter: Submitter,
    cache: Mutex<HashMap<(OrderId, u8), Assignment>>,
}

impl ChainAdmission {
    /// For provider `me` declaring `capacity` bytes.
    pub fn new(node: Arc<Node>, me: AccountId, capacity: u64, submitter: Submitter) -> Self {
        ChainAdmission {
            node,
            me,
            capacity: AtomicU64::new(capacity),
            submitter,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A new block: assignments may have changed, and so the capacity.
    pub fn new_block(&self, capacity: u64) {
        self.capacity.store(capacity, Ordering::Relaxed);
        self.cache().clear();
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<(OrderId, u8), Assignment>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Admission for ChainAdmission {
    async fn assigned(&self, order: OrderId, piece: u8) -> Result<Assignment, Refusal> {
        if let Some(assignment) = self.cache().get(&(order, piece)) {
            return Ok(*assignment);
        }
        let record = match self.node.get().order(order, None).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(Refusal::NotAssigned),
            Err(e) => {
                tracing::warn!(target: "mosaic::worker", "reading order {order}: {e}");
                return Err(Refusal::Busy);
            }
        };
        let entry = record
            .pieces
            .get(usize::from(piece))
            .filter(|p| p.provider == self.me)
            .ok_or(Refusal::NotAssigned)?;
        let assignment = Assignment {
            root: entry.root,
            coding: record.coding,
            stored_size: record.size,
        };
        let mut cache = self.cache();
        if cache.len() >= CACHE {
            cache.clear();
        }
        cache.insert((order, piece), assignment);
        Ok(assignment)
    }

    async fn stored(&self, order: OrderId, piece: u8, root: PieceRoot) {
        let confirmed = match self.node.get().order(order, None).await {
            Ok(Some(record)) => record
                .pieces
                .get(usize::from(piece))
                .is_some_and(|p| p.confirmed),
            _ => false,
        };
        if confirmed {
            return;
        }
        tracing::info!(target: "mosaic::worker", "stored piece {piece} of order {order} ({root:?}); confirming");
        let call = RuntimeCall::Market(pallet_mosaic_market::Call::confirm {
            order,
            piece: u32::from(piece),
        });
        self.submitter
            .submit(call, format!("confirm of piece {piece} of order {order}"))
            .await;
    }

    fn capacity(&self) -> u64 {
        self.capacity.load(Ordering::Relaxed)
    }
}
