//! The serving side of the protocol: admission, verification and storage of
//! offered pieces, and reads of held ones.
//!
//! Nothing is written unless the chain assigns the piece to this provider
//! ([`Admission::assigned`]), its shard-root list adds up to the piece root
//! the chain records, and each shard's Merkle root is the list's entry for
//! its segment. Hashing and disk work run on blocking threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use libp2p::PeerId;
use mosaic_primitives::erasure::CodingParams;
use mosaic_primitives::merkle;
use mosaic_primitives::piece::{self, Layout, PieceRoot};

use crate::net::Handler;
use crate::protocol::{Answer, OrderId, Refusal, Request, Response};
use crate::store::{read_shard, PieceMeta, ShardStore, StoreError};

/// Uploads in progress at once; past it an offer is answered `busy`.
pub const MAX_UPLOADS: usize = 64;

/// What the chain records for a piece assigned to this provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The piece root.
    pub root: PieceRoot,
    /// How the order is coded.
    pub coding: CodingParams,
    /// The order's stored size.
    pub stored_size: u64,
}

/// The worker's view of the chain.
#[async_trait]
pub trait Admission: Send + Sync + 'static {
    /// What the chain records for `piece` of `order`, if it assigns it to
    /// this provider; [`Refusal::NotAssigned`] otherwise.
    async fn assigned(&self, order: OrderId, piece: u8) -> Result<Assignment, Refusal>;
    /// The piece is held and durable: time to confirm it on chain. Called
    /// again for a piece offered again after it was held.
    async fn stored(&self, order: OrderId, piece: u8, root: PieceRoot);
    /// Bytes this provider may keep in all.
    fn capacity(&self) -> u64;
}

/// Serves a [`ShardStore`] under an [`Admission`].
pub struct PieceServer {
    store: Arc<dyn ShardStore>,
    admission: Arc<dyn Admission>,
    /// Metadata of the pieces being uploaded, by root.
    uploads: Mutex<HashMap<PieceRoot, Arc<PieceMeta>>>,
}

fn refusal(error: StoreError) -> Refusal {
    match error {
        StoreError::NotFound(_) => Refusal::NotFound,
        StoreError::OutOfOrder { .. } => Refusal::Malformed,
        error => {
            tracing::warn!(target: "mosaic::shard", "store: {error}");
            Refusal::Failed
        }
    }
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or(Err(Refusal::Failed))
}

impl PieceServer {
    /// Serves `store`, admitting what `admission` says.
    pub fn new(store: Arc<dyn ShardStore>, admission: Arc<dyn Admission>) -> Self {
        PieceServer {
            store,
            admission,
            uploads: Mutex::new(HashMap::new()),
        }
    }

    fn uploads(&self) -> std::sync::MutexGuard<'_, HashMap<PieceRoot, Arc<PieceMeta>>> {
        self.uploads.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn offer(
        &self,
        order: OrderId,
        piece: u8,
        shard_roots: Vec<merkle::ShardRoot>,
    ) -> Response {
        let assignment = self.admission.assigned(order, piece).await?;
        let layout = Layout::new(assignment.coding, assignment.stored_size)
            .map_err(|_| Refusal::Malformed)?;
        if !piece::verify_shard_roots(&assignment.root, &layout, &shard_roots) {
            return Err(Refusal::RootMismatch);
        }
        let meta = PieceMeta {
            coding: assignment.coding,
            stored_size: assignment.stored_size,
            shard_roots,
        };
        let root = assignment.root;
        let store = self.store.clone();
        let capacity = self.admission.capacity();
        let begun = meta.clone();
        let next = blocking(move || {
            let held = store.meta(&root).map_err(refusal)?.is_some();
            // What the piece adds: a resumed upload already holds some.
            let others = store.used().map_err(refusal)? - store.bytes_of(&root).map_err(refusal)?;
            if !held && others + layout.piece_size() > capacity {
                return Err(Refusal::OverCapacity);
            }
            store.begin(&root, &begun).map_err(refusal)
        })
        .await?;
        if next == layout.segment_count() {
            self.admission.stored(order, piece, root).await;
        } else {
            let mut uploads = self.uploads();
            if uploads.len() >= MAX_UPLOADS && !uploads.contains_key(&root) {
                return Err(Refusal::Busy);
            }
            uploads.insert(root, Arc::new(meta));
        }
        Ok(Answer::Accepted { next })
    }

    async fn put_shard(&self, order: OrderId, piece: u8, segment: u32, shard: Vec<u8>) -> Response {
        let root = self.admission.assigned(order, piece).await?.root;
        let meta = self
            .uploads()
            .get(&root)
            .cloned()
            .ok_or(Refusal::NotFound)?;
        let store = self.store.clone();
        let upload = meta.clone();
        let next = blocking(move || {
            let expected = upload
                .shard_roots
                .get(segment as usize)
                .ok_or(Refusal::Malformed)?;
            if merkle::root(&shard).ok() != Some(*expected) {
                return Err(Refusal::RootMismatch);
            }
            store.append(&root, segment, &shard).map_err(refusal)
        })
        .await?;
        if next as usize == meta.shard_roots.len() {
            self.uploads().remove(&root);
            self.admission.stored(order, piece, root).await;
        }
        Ok(Answer::Stored { next })
    }

    async fn read(&self, request: Request) -> Response {
        let store = self.store.clone();
        blocking(move || {
            let meta = |root| store.meta(&root).map_err(refusal)?.ok_or(Refusal::NotFound);
            match request {
                Request::Roots { root } => Ok(Answer::Roots(meta(root)?.shard_roots)),
                Request::Shard { root, segment } => read_shard(&*store, &root, segment)
                    .map(Answer::Bytes)
                    .map_err(refusal),
                Request::Offer { .. } | Request::PutShard { .. } => Err(Refusal::Malformed),
            }
        })
        .await
    }
}

#[async_trait]
impl Handler for PieceServer {
    async fn handle(&self, _peer: PeerId, request: Request) -> Response {
        match request {
            Request::Offer {
                order,
                piece,
                shard_roots,
            } => self.offer(order, piece, shard_roots).await,
            Request::PutShard {
                order,
                piece,
                segment,
                shard,
            } => self.put_shard(order, piece, segment, shard).await,
            read => self.read(read).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::sample_piece;
    use crate::store::MemoryStore;

    struct Chain {
        assignment: Assignment,
        capacity: u64,
        stored: Mutex<Vec<(OrderId, u8)>>,
    }

    #[async_trait]
    impl Admission for Chain {
        async fn assigned(&self, order: OrderId, piece: u8) -> Result<Assignment, Refusal> {
            if (order, piece) == (1, 0) {
                Ok(self.assignment)
            } else {
                Err(Refusal::NotAssigned)
            }
        }
        async fn stored(&self, order: OrderId, piece: u8, _: PieceRoot) {
            self.stored.lock().unwrap().push((order, piece));
        }
        fn capacity(&self) -> u64 {
            self.capacity
        }
    }

    fn server(capacity: u64) -> (PieceServer, Arc<Chain>) {
        let (root, meta, _) = sample_piece();
        let chain = Arc::new(Chain {
            assignment: Assignment {
                root,
                coding: meta.coding,
                stored_size: meta.stored_size,
            },
            capacity,
            stored: Mutex::new(Vec::new()),
        });
        let store = Arc::new(MemoryStore::default());
        (PieceServer::new(store, chain.clone()), chain)
    }

    fn peer() -> PeerId {
        PeerId::random()
    }

    #[tokio::test]
    async fn only_assigned_pieces_that_verify_are_stored_and_then_served() {
        let (root, meta, shards) = sample_piece();
        let (server, chain) = server(u64::MAX);
        let offer = |order, roots: Vec<_>| Request::Offer {
            order,
            piece: 0,
            shard_roots: roots,
        };
        let put = |segment: u32, shard: Vec<u8>| Request::PutShard {
            order: 1,
            piece: 0,
            segment,
            shard,
        };
        // Not assigned, a wrong list, a shard before the offer.
        let handle = |r| server.handle(peer(), r);
        assert_eq!(
            handle(offer(2, meta.shard_roots.clone())).await,
            Err(Refusal::NotAssigned)
        );
        let mut wrong = meta.shard_roots.clone();
        wrong[1].0[0] ^= 1;
        assert_eq!(handle(offer(1, wrong)).await, Err(Refusal::RootMismatch));
        assert_eq!(
            handle(put(0, shards[0].clone())).await,
            Err(Refusal::NotFound)
        );

        assert_eq!(
            handle(offer(1, meta.shard_roots.clone())).await,
            Ok(Answer::Accepted { next: 0 })
        );
        let mut corrupt = shards[0].clone();
        corrupt[5] ^= 1;
        assert_eq!(handle(put(0, corrupt)).await, Err(Refusal::RootMismatch));
        assert_eq!(
            handle(put(1, shards[1].clone())).await,
            Err(Refusal::Malformed)
        );
        assert_eq!(
            handle(put(0, shards[0].clone())).await,
            Ok(Answer::Stored { next: 1 })
        );
        // An interrupted upload resumes where it stopped.
        assert_eq!(
            handle(offer(1, meta.shard_roots.clone())).await,
            Ok(Answer::Accepted { next: 1 })
        );
        assert_eq!(
            handle(Request::Roots { root }).await,
            Err(Refusal::NotFound)
        );
        assert_eq!(
            handle(put(1, shards[1].clone())).await,
            Ok(Answer::Stored { next: 2 })
        );
        assert!(chain.stored.lock().unwrap().is_empty());
        assert_eq!(
            handle(put(2, shards[2].clone())).await,
            Ok(Answer::Stored { next: 3 })
        );
        assert_eq!(*chain.stored.lock().unwrap(), vec![(1, 0)]);
        // Offered again once held: nothing to send, confirmed again.
        assert_eq!(
            handle(offer(1, meta.shard_roots.clone())).await,
            Ok(Answer::Accepted { next: 3 })
        );
        assert_eq!(chain.stored.lock().unwrap().len(), 2);

        // Reads.
        assert_eq!(
            handle(Request::Roots { root }).await,
            Ok(Answer::Roots(meta.shard_roots.clone()))
        );
        assert_eq!(
            handle(Request::Shard { root, segment: 2 }).await,
            Ok(Answer::Bytes(shards[2].clone()))
        );
        assert_eq!(
            handle(Request::Shard { root, segment: 3 }).await,
            Err(Refusal::Malformed),
            "no segment 3"
        );
    }

    #[tokio::test]
    async fn an_upload_resumes_on_a_provider_at_its_capacity() {
        let (_, meta, shards) = sample_piece();
        let size: u64 = shards.iter().map(|s| s.len() as u64).sum();
        let (server, _) = server(size);
        let offer = || Request::Offer {
            order: 1,
            piece: 0,
            shard_roots: meta.shard_roots.clone(),
        };
        assert_eq!(
            server.handle(peer(), offer()).await,
            Ok(Answer::Accepted { next: 0 })
        );
        let put = Request::PutShard {
            order: 1,
            piece: 0,
            segment: 0,
            shard: shards[0].clone(),
        };
        assert_eq!(
            server.handle(peer(), put).await,
            Ok(Answer::Stored { next: 1 })
        );
        // Offered again (the client lost its connection): its own bytes are
        // not counted twice against the capacity.
        assert_eq!(
            server.handle(peer(), offer()).await,
            Ok(Answer::Accepted { next: 1 })
        );
    }

    #[tokio::test]
    async fn a_piece_past_the_capacity_is_refused() {
        let (_, meta, _) = sample_piece();
        let (server, _) = server(1000);
        assert_eq!(
            server
                .handle(
                    peer(),
                    Request::Offer {
                        order: 1,
                        piece: 0,
                        shard_roots: meta.shard_roots,
                    }
                )
                .await,
            Err(Refusal::OverCapacity)
        );
    }
}
