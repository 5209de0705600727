//! Repair: rebuilding a piece the chain moved to this provider.
//!
//! When a piece's provider leaves or fails its audit, the market moves the
//! piece to another provider while the order stays live; the new provider
//! must rebuild it and `confirm` before its repair deadline. The worker
//! sees such a piece at a finalized head (assigned, its order live, the
//! piece unconfirmed, not held whole in the store) and rebuilds it in the
//! background. A piece it confirmed and no longer holds (files lost while
//! it was down, a disk replaced) is rebuilt the same way, reported as lost
//! (a warning and `mosaic_worker_pieces_lost_total`), before an audit finds
//! it missing. Each rebuild:
//!
//! 1. segment by segment, it fetches the shards of `k` other pieces from
//!    their providers ([`PieceSource`]: each shard checked against its
//!    piece's shard-root list, itself checked against the piece root on
//!    chain; a provider that fails is not asked again), decodes the
//!    segment, codes it again and keeps its own piece's shard, spooled to
//!    a file beside the store, so memory holds one segment whatever the
//!    piece's size;
//! 2. the shard roots of the rebuilt shards must add up to the piece root
//!    on chain: a rebuild is never stored or confirmed unchecked;
//! 3. the spooled shards go into the store as an upload would (each checked
//!    again on its way in), and the piece is confirmed through the
//!    submitter, as an uploaded piece is.
//!
//! A rebuild that fails (too few providers answer, a bad spool) is logged
//! and counted, and tried again at a later finalized head while the chain
//! still assigns the piece.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mosaic_api::chain::{ChainClient, ChainError, Order, OrderId};
use mosaic_client::get::PieceSource;
use mosaic_client::progress::Progress;
use mosaic_client::providers::endpoints;
use mosaic_primitives::erasure::ErasureCoder;
use mosaic_primitives::merkle::{self, ShardRoot};
use mosaic_primitives::piece::{piece_root, Layout, PieceRoot};
use mosaic_primitives::pipeline::ShardSource;
use mosaic_shard_net::server::Admission;
use mosaic_shard_net::{PieceMeta, ShardClient, ShardStore, StoreError};

use crate::admission::ChainAdmission;
use crate::health::Health;
use crate::metrics::WorkerMetrics;
use crate::node::Node;

/// Why a rebuild failed.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// The chain could not be read.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The order's coding or size is out of bounds.
    #[error("the order's layout is invalid")]
    Layout,
    /// Fewer than `k` other pieces' providers served a segment.
    #[error("too few providers served segment {segment} whole and verified: {failed}")]
    TooFewShards {
        /// The segment.
        segment: u32,
        /// The providers that failed, and how.
        failed: String,
    },
    /// The rebuilt shards do not add up to the piece root on chain.
    #[error("the rebuilt piece does not match its root on chain")]
    Mismatch,
    /// The spool file failed.
    #[error("spooling the rebuilt piece at {path}: {source}")]
    Spool {
        /// The spool file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The store refused the rebuilt piece.
    #[error("storing the rebuilt piece: {0}")]
    Store(#[from] StoreError),
}

/// Rebuilds the pieces repair assigns to this provider.
#[derive(Clone)]
pub struct Repairer {
    node: Arc<Node>,
    net: ShardClient,
    store: Arc<dyn ShardStore>,
    admission: Arc<ChainAdmission>,
    metrics: WorkerMetrics,
    health: Health,
    /// Where rebuilt pieces are spooled.
    spool: PathBuf,
    /// The pieces being rebuilt.
    running: Arc<Mutex<HashSet<PieceRoot>>>,
}

impl Repairer {
    /// A repairer storing into `store`, spooling under `spool`.
    pub fn new(
        node: Arc<Node>,
        net: ShardClient,
        store: Arc<dyn ShardStore>,
        admission: Arc<ChainAdmission>,
        metrics: WorkerMetrics,
        health: Health,
        spool: PathBuf,
    ) -> Self {
        Repairer {
            node,
            net,
            store,
            admission,
            metrics,
            health,
            spool,
            running: Arc::default(),
        }
    }

    /// Starts rebuilding piece `number` of `order` (`id`) in the
    /// background, unless it is being rebuilt already; `lost` if the
    /// provider had confirmed it and the store lost it.
    pub fn start(&self, id: OrderId, order: Order, number: u8, lost: bool) {
        let Some(root) = order.pieces.get(usize::from(number)).map(|p| p.root) else {
            return;
        };
        if !self.lock().insert(root) {
            return;
        }
        let repairer = self.clone();
        tokio::spawn(async move {
            if repairer.health.repair_started(root, id, number, lost) {
                tracing::info!(target: "mosaic::worker", "rebuilding damaged piece {number} of order {id} ({root:?}) from its other providers");
            } else if lost {
                tracing::warn!(target: "mosaic::worker", "piece {number} of order {id} ({root:?}) is confirmed on chain but missing from the store: lost; rebuilding it from its other providers before an audit finds it missing");
            } else {
                tracing::info!(target: "mosaic::worker", "rebuilding piece {number} of order {id} ({root:?}), moved here, from its other providers");
            }
            repairer.metrics.repairs_started.inc();
            let chain = repairer.node.get();
            let done = match repairer.rebuild(&chain, id, &order, number).await {
                Ok(bytes) => {
                    repairer.metrics.repaired_bytes.inc_by(bytes);
                    repairer.admission.stored(id, number, root).await;
                    true
                }
                Err(e) => {
                    repairer.metrics.repairs_failed.inc();
                    tracing::warn!(target: "mosaic::worker", "rebuilding piece {number} of order {id}: {e}; trying again at a later block");
                    false
                }
            };
            repairer.health.repair_ended(root, done);
            repairer.lock().remove(&root);
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<PieceRoot>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rebuilds and stores the piece; returns its size.
    async fn rebuild(
        &self,
        chain: &ChainClient,
        id: OrderId,
        order: &Order,
        number: u8,
    ) -> Result<u64, RepairError> {
        let accounts: Vec<_> = order.pieces.iter().map(|p| p.provider.clone()).collect();
        let providers = endpoints(chain, accounts, None).await?;
        let roots: Vec<PieceRoot> = order.pieces.iter().map(|p| p.root).collect();
        let source = PieceSource::new(
            self.net.clone(),
            providers,
            roots.clone(),
            Progress::hidden(),
        );
        source.exclude(number, "the piece being rebuilt");
        let layout = order.layout().map_err(|_| RepairError::Layout)?;
        let store = self.store.clone();
        let spool = self.spool.join(format!("{id}-{number}.spool"));
        tokio::task::spawn_blocking(move || {
            let result = rebuild_into(&source, &layout, &roots, number, &spool, store.as_ref());
            let _ = std::fs::remove_file(&spool);
            result.map_err(|e| match e {
                RepairError::TooFewShards { segment, .. } => RepairError::TooFewShards {
                    segment,
                    failed: source
                        .failures()
                        .into_iter()
                        .map(|(provider, why)| format!("{provider}: {why}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                },
                e => e,
            })
        })
        .await
        .expect("the rebuild does not panic; qed")
    }
}

/// Rebuilds piece `number` of an object of `layout` whose piece roots are
/// `roots` from `source`, through the spool file `spool`; checks it against
/// its root and stores it; returns its size. Every shard-root list from the
/// source is checked against its piece root and every shard against that
/// list, whatever the source.
pub fn rebuild_into<S: ShardSource>(
    source: &S,
    layout: &Layout,
    roots: &[PieceRoot],
    number: u8,
    spool: &Path,
    store: &dyn ShardStore,
) -> Result<u64, RepairError> {
    let spool_error = |source| RepairError::Spool {
        path: spool.display().to_string(),
        source,
    };
    let coding = layout.coding();
    let coder = ErasureCoder::new(coding).map_err(|_| RepairError::Layout)?;
    let k = usize::from(coding.data_shards);
    let total = coding.total_shards();
    let root = *roots.get(usize::from(number)).ok_or(RepairError::Layout)?;
    // The other pieces whose shard-root list checks, in the source's order.
    let mut lists: Vec<Option<Vec<ShardRoot>>> = vec![None; total];
    let mut others = Vec::new();
    for piece in source.preference(total as u8) {
        if piece == number || usize::from(piece) >= total {
            continue;
        }
        let list = source
            .shard_roots(piece)
            .filter(|list| piece_root(list) == roots[usize::from(piece)]);
        if list.is_some() {
            lists[usize::from(piece)] = list;
            others.push(piece);
        }
    }
    if let Some(dir) = spool.parent() {
        std::fs::create_dir_all(dir).map_err(spool_error)?;
    }
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(spool)
        .map_err(spool_error)?;
    let mut shard_roots = Vec::new();
    let mut buf = Vec::new();
    for segment in 0..layout.segment_count() {
        let segment_len = coding.segment_len(layout.stored_size(), u64::from(segment));
        let mut shards: Vec<Option<Vec<u8>>> = vec![None; total];
        let mut have = 0;
        let mut candidates = others.iter().copied();
        while have < k {
            let batch: Vec<u8> = candidates.by_ref().take(k - have).collect();
            if batch.is_empty() {
                return Err(RepairError::TooFewShards {
                    segment,
                    failed: String::new(),
                });
            }
            for (piece, shard) in batch.iter().zip(source.shards(segment, &batch)) {
                let piece = usize::from(*piece);
                let expected = lists[piece]
                    .as_ref()
                    .and_then(|list| list.get(segment as usize));
                if let Some(shard) = shard.filter(|s| merkle::root(s).ok().as_ref() == expected) {
                    shards[piece] = Some(shard);
                    have += 1;
                }
            }
        }
        buf = coder
            .decode(shards, segment_len)
            .map_err(|_| RepairError::Layout)?;
        let shard_size = coder.encode(&mut buf, segment_len);
        let at = usize::from(number) * shard_size;
        let shard = &buf[at..at + shard_size];
        shard_roots.push(merkle::root(shard).map_err(|_| RepairError::Layout)?);
        file.write_all(shard).map_err(spool_error)?;
    }
    if piece_root(&shard_roots) != root {
        return Err(RepairError::Mismatch);
    }
    file.sync_all().map_err(spool_error)?;
    file.seek(SeekFrom::Start(0)).map_err(spool_error)?;
    let meta = PieceMeta {
        coding,
        stored_size: layout.stored_size(),
        shard_roots,
    };
    let mut next = store.begin(&root, &meta)?;
    for segment in 0..layout.segment_count() {
        buf.resize(layout.shard_size(segment), 0);
        file.read_exact(&mut buf).map_err(spool_error)?;
        if segment >= next {
            next = store.append(&root, segment, &buf)?;
        }
    }
    Ok(layout.piece_size())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mosaic_primitives::erasure::CodingParams;
    use mosaic_primitives::manifest::ShardId;
    use mosaic_primitives::memory::MemoryShards;
    use mosaic_primitives::pipeline::{self, PutOptions};
    use mosaic_shard_net::store::{read_shard, MemoryStore};

    /// A public object of three 1 MiB segments coded 4 + 2, its shards in
    /// memory, and its piece roots.
    fn object() -> (MemoryShards, Vec<PieceRoot>, Layout) {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let coding = CodingParams::with_segment_size(4, 2, 1 << 20).unwrap();
        let mut shards = MemoryShards::default();
        let options = PutOptions {
            coding,
            threads: 1,
            ..PutOptions::public()
        };
        let manifest = pipeline::put(&data[..], &options, &mut shards).unwrap();
        let layout = Layout::new(coding, manifest.stored_size()).unwrap();
        assert_eq!(layout.segment_count(), 3);
        (shards, manifest.piece_roots, layout)
    }

    fn id(segment: u32, index: u8) -> ShardId {
        ShardId { segment, index }
    }

    #[test]
    fn a_lost_piece_is_rebuilt_byte_for_byte_though_a_sibling_lies() {
        let (mut shards, roots, layout) = object();
        let number = 2;
        let lost: Vec<Vec<u8>> = (0..3)
            .map(|segment| shards.shards_mut().remove(&id(segment, number)).unwrap())
            .collect();
        // Piece 0 serves a damaged shard of segment 1: it is not used.
        shards.shards_mut().get_mut(&id(1, 0)).unwrap()[0] ^= 1;
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::default();
        let spool = dir.path().join("repair").join("spool");
        let size = rebuild_into(&shards, &layout, &roots, number, &spool, &store).unwrap();
        assert_eq!(size, layout.piece_size());
        let root = roots[usize::from(number)];
        assert_eq!(store.pieces().unwrap(), vec![root]);
        for (segment, shard) in lost.iter().enumerate() {
            assert_eq!(read_shard(&store, &root, segment as u32).unwrap(), *shard);
        }
    }

    #[test]
    fn a_rebuild_that_does_not_match_the_root_on_chain_is_never_stored() {
        let (shards, mut roots, layout) = object();
        let number = 5;
        roots[usize::from(number)].0[0] ^= 1;
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::default();
        let result = rebuild_into(
            &shards,
            &layout,
            &roots,
            number,
            &dir.path().join("s"),
            &store,
        );
        assert!(matches!(result, Err(RepairError::Mismatch)), "{result:?}");
        assert!(store.roots().unwrap().is_empty());
    }

    #[test]
    fn fewer_than_k_verified_siblings_is_an_error_naming_the_segment() {
        let (mut shards, roots, layout) = object();
        // Of segment 2, only three of the five other pieces remain.
        for index in [0, 1] {
            shards.shards_mut().remove(&id(2, index));
        }
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::default();
        let result = rebuild_into(&shards, &layout, &roots, 3, &dir.path().join("s"), &store);
        assert!(
            matches!(result, Err(RepairError::TooFewShards { segment: 2, .. })),
            "{result:?}"
        );
        assert!(store.pieces().unwrap().is_empty());
    }
}
