//! `mosaic-worker run`: serve the shard protocol under the chain's
//! assignments and follow the node.
//!
//! Every new head first answers the challenges it reveals ([`crate::prover`]),
//! then refreshes the capacity and empties the assignment cache.
//! Every finalized head reconciles the store with the chain: a piece, held
//! or partly uploaded, that no assignment at the finalized block or the
//! best block names any more (its order ended, lapsed, was deleted or moved)
//! is removed. The same runs
//! once at start, so pieces of orders that ended while the worker was down
//! go too; and at start, a piece held whole that the chain records
//! unconfirmed (its confirm lost to a crash or a restart) is confirmed.
//! Then each piece of a live order that the chain assigns at the
//! best block and the store lacks is rebuilt from the other pieces
//! ([`crate::repair`]): repair moved it here (it is unconfirmed), or this
//! store lost it (it is confirmed: reported as lost, and rebuilt before an
//! audit finds it missing; at start this is the reconciliation of what the
//! worker holds with what the chain says it holds). When the node's
//! subscriptions end, the worker reconnects and catches up from the head it
//! then sees.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use mosaic_api::chain::{ChainClient, ChainError, OrderId, OrderState};
use mosaic_api::keys::AccountKey;
use mosaic_primitives::piece::PieceRoot;
use mosaic_runtime::{AccountId, Hash};
use mosaic_shard_net::server::{Admission, PieceServer};
use mosaic_shard_net::store::DiskStore;
use mosaic_shard_net::{Multiaddr, NetConfig, NetError, ShardClient, ShardStore, StoreError};
use polkadot_sdk::sp_core::crypto::Ss58Codec;

use crate::admission::ChainAdmission;
use crate::health::Health;
use mosaic_api::p2p_key::P2pKeyError;

use crate::identity;
use crate::metrics::{Metered, WorkerMetrics};
use crate::node::Node;
use crate::prover::Prover;
use crate::repair::Repairer;
use crate::scrub;
use crate::submitter::Submitter;

/// How the worker runs.
pub struct RunConfig {
    /// The node's JSON-RPC address.
    pub rpc: String,
    /// The provider account.
    pub key: AccountKey,
    /// Where the identity and the pieces live.
    pub base_path: PathBuf,
    /// The shard network's settings (listen addresses, limits).
    pub net: NetConfig,
    /// Where to serve Prometheus metrics, if at all.
    pub prometheus: Option<std::net::SocketAddr>,
    /// How fast and how often the scrub reads the store.
    pub scrub: scrub::Schedule,
}

/// Why the worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Talking to the node failed at start.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The identity could not be had.
    #[error(transparent)]
    Identity(#[from] P2pKeyError),
    /// The store could not be opened.
    #[error("the piece store: {0}")]
    Store(#[from] StoreError),
    /// The shard network did not start.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The metrics endpoint could not bind.
    #[error("cannot serve Prometheus metrics: {0}; choose another --prometheus-port")]
    Prometheus(#[source] std::io::Error),
    /// The account is no provider.
    #[error("{0} is not a registered provider; register it first with `mosaic-worker register`")]
    NotRegistered(String),
}

/// A started worker.
pub struct Worker {
    /// The shard network handle (its peer id and bound addresses).
    pub net: ShardClient,
    /// The provider account.
    pub account: AccountId,
}

/// Starts the worker, then follows the node until `shutdown` resolves.
pub async fn run(
    config: RunConfig,
    shutdown: impl std::future::Future<Output = ()>,
    started: impl FnOnce(&Worker),
) -> Result<(), RunError> {
    let node = Arc::new(Node::connect(&config.rpc).await?);
    let me = config.key.account_id();
    let record = node
        .get()
        .provider(&me, None)
        .await?
        .ok_or_else(|| RunError::NotRegistered(me.to_ss58check()))?;
    let keypair = identity::load_or_create(&config.base_path)?;
    let peer_id = keypair.public().to_peer_id();
    if record.peer_id.as_slice() != peer_id.to_bytes().as_slice() {
        tracing::warn!(target: "mosaic::worker", "the chain records another peer id for {}; clients will not find this worker (was it registered from another base path?)", me.to_ss58check());
    }
    let store: Arc<dyn ShardStore> = Arc::new(DiskStore::open(&config.base_path.join("store"))?);
    let submitter = Submitter::spawn(node.clone(), config.key.pair());
    let admission = Arc::new(ChainAdmission::new(
        node.clone(),
        me.clone(),
        record.capacity,
        submitter.clone(),
    ));
    let metrics = WorkerMetrics::new();
    let health = Health::new(&config.base_path, metrics.clone());
    // What is damaged is reported before anything is served or proven.
    tokio::task::spawn_blocking({
        let (store, health) = (store.clone(), health.clone());
        move || scrub::check_all(store.as_ref(), &health)
    })
    .await
    .expect("the check does not panic; qed");
    if config.scrub.rate > 0 {
        let (store, health, schedule) = (store.clone(), health.clone(), config.scrub);
        std::thread::Builder::new()
            .name("scrub".into())
            .spawn(move || scrub::scrub(store, health, schedule))
            .expect("a thread starts");
    }
    let prover = Prover::new(
        me.clone(),
        store.clone(),
        submitter,
        metrics.clone(),
        health.clone(),
    );
    metrics.capacity.set(record.capacity as i64);
    if let Some(addr) = config.prometheus {
        let (addr, task) = mosaic_api::metrics::serve(addr, metrics.registry.clone())
            .await
            .map_err(RunError::Prometheus)?;
        tracing::info!(target: "mosaic::worker", "Prometheus listening on {addr}");
        tokio::spawn(task);
    }
    let server = Arc::new(Metered {
        inner: Arc::new(PieceServer::new(store.clone(), admission.clone())),
        metrics: metrics.clone(),
    });
    let net = mosaic_shard_net::net::spawn(keypair, config.net, Some(server)).await?;
    let worker = Worker {
        net,
        account: me.clone(),
    };
    tracing::info!(
        target: "mosaic::worker",
        "worker of provider {} (peer id {peer_id}) serving on {}",
        me.to_ss58check(),
        worker.net.listening().iter().map(Multiaddr::to_string).collect::<Vec<_>>().join(", ")
    );
    started(&worker);
    let repairer = Repairer::new(
        node.clone(),
        worker.net.clone(),
        store.clone(),
        admission.clone(),
        metrics.clone(),
        health,
        config.base_path.join("store").join("repair"),
    );
    let mut follower = Follower {
        node,
        me,
        store,
        admission,
        prover,
        repairer,
        metrics,
        roots: HashMap::new(),
        starting: true,
    };
    tokio::select! {
        () = follower.follow() => Ok(()),
        () = shutdown => Ok(()),
    }
}

struct Follower {
    node: Arc<Node>,
    me: AccountId,
    store: Arc<dyn ShardStore>,
    admission: Arc<ChainAdmission>,
    prover: Prover,
    repairer: Repairer,
    metrics: WorkerMetrics,
    /// The root of each `(order, piece)` seen assigned (a piece's root never
    /// changes, so this only grows with assignments and shrinks with them).
    roots: HashMap<(OrderId, u32), PieceRoot>,
    /// Until the first reconciliation: pieces held whole and unconfirmed
    /// are confirmed (a crash between storing and confirming).
    starting: bool,
}

impl Follower {
    async fn follow(&mut self) {
        loop {
            let chain = self.node.get();
            if let Err(e) = self.reconcile(&chain, None).await {
                tracing::warn!(target: "mosaic::worker", "reconciling the store: {e}");
            }
            match (chain.new_heads().await, chain.finalized_heads().await) {
                (Ok(mut heads), Ok(mut finalized)) => loop {
                    tokio::select! {
                        head = heads.next() => match head {
                            Some(Ok(header)) => {
                                self.prover.on_head(&chain, &header).await;
                                self.on_head(&chain).await;
                            }
                            _ => break,
                        },
                        head = finalized.next() => match head {
                            Some(Ok(header)) => {
                                if let Err(e) = self.reconcile(&chain, Some(header.hash())).await {
                                    tracing::warn!(target: "mosaic::worker", "reconciling the store: {e}");
                                }
                            }
                            _ => break,
                        },
                    }
                },
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(target: "mosaic::worker", "subscribing to heads: {e}");
                }
            }
            tracing::warn!(target: "mosaic::worker", "lost the node; reconnecting");
            self.node.reconnect().await;
        }
    }

    async fn on_head(&self, chain: &ChainClient) {
        match chain.audit_tally(&self.me).await {
            Ok(tally) => {
                self.metrics.challenges_proven.set(i64::from(tally.proven));
                self.metrics.challenges_failed.set(i64::from(tally.failed));
            }
            Err(e) => tracing::warn!(target: "mosaic::worker", "reading the audit tally: {e}"),
        }
        match chain.provider(&self.me, None).await {
            Ok(Some(record)) => {
                self.metrics.capacity.set(record.capacity as i64);
                self.admission.new_block(record.capacity)
            }
            Ok(None) => self.admission.new_block(0),
            Err(e) => tracing::warn!(target: "mosaic::worker", "reading the provider record: {e}"),
        }
    }

    /// The roots of the pieces assigned to this provider at `at`.
    async fn assigned(
        &mut self,
        chain: &ChainClient,
        at: Option<Hash>,
    ) -> Result<HashSet<PieceRoot>, ChainError> {
        let mut roots = HashSet::new();
        for (order, piece) in chain.pieces_of(&self.me, at).await? {
            let root = match self.roots.get(&(order, piece)) {
                Some(root) => *root,
                None => {
                    let Some(record) = chain.order(order, at).await? else {
                        continue;
                    };
                    let Some(entry) = record.pieces.get(piece as usize) else {
                        continue;
                    };
                    self.roots.insert((order, piece), entry.root);
                    entry.root
                }
            };
            roots.insert(root);
        }
        Ok(roots)
    }

    /// The pieces held whole, if the store can list them.
    async fn held(&self) -> Option<HashSet<PieceRoot>> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.pieces()).await {
            Ok(Ok(roots)) => Some(roots.into_iter().collect()),
            Ok(Err(e)) => {
                tracing::warn!(target: "mosaic::worker", "listing the store's pieces: {e}");
                None
            }
            Err(_) => None,
        }
    }

    /// Settles each piece of `assigned` (the roots assigned at the best
    /// block) with the store. One the store lacks whole, of a live order,
    /// is rebuilt: repair moved it here (unconfirmed), or this store lost
    /// it (confirmed). At start, one held whole that the chain records
    /// unconfirmed is confirmed: an upload or a rebuild whose confirm a
    /// crash or a restart lost (later, a piece is confirmed as it is
    /// stored).
    async fn settle(
        &self,
        chain: &ChainClient,
        assigned: &HashSet<PieceRoot>,
    ) -> Result<(), ChainError> {
        // Held whole: a partial rebuild (a crash's) resumes.
        let Some(held) = self.held().await else {
            return Ok(());
        };
        let pending: Vec<((OrderId, u32), PieceRoot)> = self
            .roots
            .iter()
            .filter(|(_, root)| {
                assigned.contains(*root) && (self.starting || !held.contains(*root))
            })
            .map(|(key, root)| (*key, *root))
            .collect();
        for ((id, number), root) in pending {
            let Some(order) = chain.order(id, None).await? else {
                continue;
            };
            let Some(piece) = order.pieces.get(number as usize) else {
                continue;
            };
            if piece.provider != self.me {
                continue;
            }
            if held.contains(&root) {
                if !piece.confirmed {
                    tracing::info!(target: "mosaic::worker", "piece {number} of order {id} is held and unconfirmed on chain (a confirm lost to a restart)");
                    self.admission.stored(id, number as u8, root).await;
                }
            } else if matches!(order.state, OrderState::Live { .. }) {
                let lost = piece.confirmed;
                self.repairer.start(id, order, number as u8, lost);
            }
        }
        Ok(())
    }

    /// Removes held pieces no assignment at `finalized` (or the last
    /// finalized block) nor at the best block names.
    async fn reconcile(
        &mut self,
        chain: &ChainClient,
        finalized: Option<Hash>,
    ) -> Result<(), ChainError> {
        let finalized = match finalized {
            Some(hash) => hash,
            None => chain.finalized_head().await?,
        };
        let mut keep = self.assigned(chain, Some(finalized)).await?;
        let best = self.assigned(chain, None).await?;
        keep.extend(best.iter().copied());
        self.roots.retain(|_, root| keep.contains(root));
        self.settle(chain, &best).await?;
        self.starting = false;
        let store = self.store.clone();
        let metrics = self.metrics.clone();
        let removed = tokio::task::spawn_blocking(move || -> Result<Vec<PieceRoot>, StoreError> {
            let mut removed = Vec::new();
            for root in store.roots()? {
                if !keep.contains(&root) {
                    store.remove(&root)?;
                    removed.push(root);
                }
            }
            metrics.pieces_held.set(store.pieces()?.len() as i64);
            metrics.bytes_stored.set(store.used()? as i64);
            Ok(removed)
        })
        .await;
        match removed {
            Ok(Ok(removed)) => {
                for root in removed {
                    tracing::info!(target: "mosaic::worker", "removed piece {root:?}: no order assigns it any more");
                }
            }
            Ok(Err(e)) => tracing::warn!(target: "mosaic::worker", "removing ended pieces: {e}"),
            Err(e) => tracing::warn!(target: "mosaic::worker", "removing ended pieces: {e}"),
        }
        Ok(())
    }
}
