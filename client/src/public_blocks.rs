//! Public content by CID, block by block: what the gateway serves over HTTP
//! and Bitswap.
//!
//! A CID is known either as the root of a live public order (the chain's
//! CID index), or as a block of an object opened before. Opening an object
//! reads its [pack](mosaic_primitives::pack)'s index (its dag-pb blocks,
//! each named by its hash) and learns where every raw leaf lies. A leaf is
//! read from the segments under it, fetched from the providers with every
//! shard checked against the piece roots on chain, and cached (a bounded
//! number of segments), so that reading a file leaf after leaf fetches each
//! segment once; every block handed out is checked against its CID.
//!
//! Bounded: at most [`PublicConfig::objects`] objects open and
//! [`PublicConfig::segments`] segments cached; an object's index is read
//! only up to [`PublicConfig::max_index`] bytes.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use cid::Cid;
use mosaic_api::chain::{Access, ChainClient, ChainError, OrderId, OrderState};
use mosaic_primitives::manifest::Manifest;
use mosaic_primitives::pack::{Pack, PackError};
use mosaic_primitives::pipeline::{self, GetError as PipelineError};
use mosaic_primitives::unixfs::{chunk_digest, RAW_CODEC};
use mosaic_shard_net::{NetError, ShardClient};
use schnellru::{ByLength, LruMap};

use crate::get::{manifest_of, GetError, PieceSource};
use crate::progress::Progress;
use crate::providers::endpoints;

/// Bounds of a [`PublicBlocks`].
#[derive(Clone, Copy, Debug)]
pub struct PublicConfig {
    /// Objects kept open (each holds its DAG index in memory).
    pub objects: u32,
    /// Decoded segments cached, across objects.
    pub segments: u32,
    /// Largest DAG index read.
    pub max_index: u64,
}

impl Default for PublicConfig {
    fn default() -> Self {
        PublicConfig {
            objects: 64,
            segments: 8,
            max_index: 64 << 20,
        }
    }
}

/// Why public content could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The node failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The order on chain is not readable.
    #[error(transparent)]
    Order(#[from] GetError),
    /// Too few providers answered with good shards.
    #[error("the providers of {root} could not serve bytes {}..{}", .range.start, .range.end)]
    Fetch {
        /// The object.
        root: Cid,
        /// The bytes asked for.
        range: Range<u64>,
        /// Why.
        #[source]
        source: PipelineError,
    },
    /// The object's DAG index is malformed or too large.
    #[error("the DAG of {root} cannot be read")]
    Pack {
        /// The object.
        root: Cid,
        /// Why.
        #[source]
        source: Box<PackError>,
    },
    /// Bytes did not hash to the CID that names them.
    #[error("block {0} does not match its bytes")]
    Corrupt(Cid),
}

/// Public objects and their blocks, found through the chain and read from
/// the providers.
#[derive(Clone)]
pub struct PublicBlocks {
    inner: Arc<Shared>,
}

struct Shared {
    chain: ChainClient,
    net: ShardClient,
    config: PublicConfig,
    /// Open objects by root CID.
    objects: Mutex<LruMap<Cid, Arc<OpenObject>>>,
    /// Which open object holds each block it has.
    blocks: Mutex<HashMap<Cid, Cid>>,
    /// Decoded segments by object root and number.
    segments: Mutex<SegmentCache>,
}

/// Decoded segments by object root and segment number.
type SegmentCache = LruMap<(Cid, u32), Arc<Vec<u8>>>;

/// Where a block of an object lies.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// A dag-pb block of the index.
    Node,
    /// A raw leaf: bytes `offset..offset + len` of the object.
    Leaf { offset: u64, len: u64 },
}

/// A public object opened for reading.
pub struct OpenObject {
    /// Its root CID.
    pub root: Cid,
    /// The order that stores it.
    pub order: OrderId,
    manifest: Manifest,
    source: Arc<PieceSource>,
    /// Its DAG, for a pack; `None` for a single raw leaf.
    pack: Option<Pack>,
    places: HashMap<Cid, Place>,
}

impl OpenObject {
    /// The object's DAG, unless it is a single raw leaf.
    pub fn pack(&self) -> Option<&Pack> {
        self.pack.as_ref()
    }

    /// Bytes of the data part (the files), the whole object for a raw leaf.
    pub fn data_size(&self) -> u64 {
        self.manifest.size - self.manifest.dag_index
    }
}

impl PublicBlocks {
    /// A store reading through `chain` and a shard-network client of its own.
    pub async fn new(chain: ChainClient, config: PublicConfig) -> Result<Self, NetError> {
        let net = mosaic_shard_net::net::spawn(
            mosaic_shard_net::Keypair::generate_ed25519(),
            mosaic_shard_net::NetConfig::default(),
            None,
        )
        .await?;
        Ok(PublicBlocks {
            inner: Arc::new(Shared {
                chain,
                net,
                config,
                objects: Mutex::new(LruMap::new(ByLength::new(config.objects))),
                blocks: Mutex::new(HashMap::new()),
                segments: Mutex::new(LruMap::new(ByLength::new(config.segments))),
            }),
        })
    }

    /// The node connection it reads the chain through.
    pub fn chain(&self) -> &ChainClient {
        &self.inner.chain
    }

    /// The live public object whose root is `root`, opened (its index read)
    /// the first time; `None` if no live public order stores it.
    pub async fn object(&self, root: &Cid) -> Result<Option<Arc<OpenObject>>, BlockError> {
        if let Some(open) = self.lock_objects().get(root) {
            return Ok(Some(open.clone()));
        }
        let chain = &self.inner.chain;
        let mut found = None;
        for id in chain
            .orders_by_cid(&root.to_bytes())
            .await?
            .into_iter()
            .rev()
        {
            let Some(order) = chain.order(id, None).await? else {
                continue;
            };
            let live = matches!(order.state, OrderState::Live { .. });
            if live && matches!(order.access, Access::Public { .. }) {
                found = Some((id, order));
                break;
            }
        }
        let Some((id, order)) = found else {
            return Ok(None);
        };
        let manifest = manifest_of(id, &order)?;
        // Collected first: a borrowing iterator held across the await would
        // keep the future from being `Send` for every lifetime (spawned
        // tasks need that).
        let owners: Vec<_> = order.pieces.iter().map(|p| p.provider.clone()).collect();
        let providers = endpoints(chain, owners, None).await?;
        let source = Arc::new(PieceSource::new(
            self.inner.net.clone(),
            providers,
            manifest.piece_roots.clone(),
            Progress::hidden(),
        ));
        let mut open = OpenObject {
            root: *root,
            order: id,
            manifest,
            source,
            pack: None,
            places: HashMap::new(),
        };
        if open.manifest.dag_index == 0 {
            // A single file: its root must be a raw leaf to be served block
            // by block (objects stored before packs are not).
            if root.codec() != RAW_CODEC || open.manifest.size > mosaic_primitives::pack::MAX_LEAF {
                return Ok(None);
            }
            let len = open.manifest.size;
            open.places.insert(*root, Place::Leaf { offset: 0, len });
        } else {
            if open.manifest.dag_index > self.inner.config.max_index {
                return Err(BlockError::Pack {
                    root: *root,
                    source: Box::new(PackError::MalformedIndex(0)),
                });
            }
            let data_size = open.data_size();
            let index = self.read(&open, data_size..open.manifest.size).await?;
            let pack = Pack::open(*root, &index, data_size).map_err(|source| BlockError::Pack {
                root: *root,
                source: Box::new(source),
            })?;
            for span in pack.files() {
                let leaves = pack.leaves(span.cid).map_err(|source| BlockError::Pack {
                    root: *root,
                    source: Box::new(source),
                })?;
                let mut offset = span.offset;
                for leaf in leaves {
                    open.places.entry(leaf.cid).or_insert(Place::Leaf {
                        offset,
                        len: leaf.len,
                    });
                    offset += leaf.len;
                }
            }
            for cid in pack.block_cids() {
                open.places.insert(cid, Place::Node);
            }
            open.pack = Some(pack);
        }
        let open = Arc::new(open);
        {
            let mut blocks = self.lock_blocks();
            for cid in open.places.keys() {
                blocks.insert(*cid, *root);
            }
        }
        if let Some((_, evicted)) = self.insert_object(open.clone()) {
            let mut blocks = self.lock_blocks();
            blocks.retain(|_, holder| *holder != evicted.root);
        }
        Ok(Some(open))
    }

    /// The block `cid` of any public object, checked against its CID; `None`
    /// if no live public object is known to hold it. A CID not seen before
    /// is looked up as an object's root.
    pub async fn block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, BlockError> {
        let Some(open) = self.holder(cid).await? else {
            return Ok(None);
        };
        let bytes = match open.places.get(cid) {
            None => return Ok(None),
            Some(Place::Node) => open
                .pack
                .as_ref()
                .and_then(|pack| pack.block(cid))
                .map(<[u8]>::to_vec),
            Some(Place::Leaf { offset, len }) => {
                let bytes = self.read(&open, *offset..offset + len).await?;
                if cid.hash().digest() != chunk_digest(&bytes).as_slice() {
                    return Err(BlockError::Corrupt(*cid));
                }
                Some(bytes)
            }
        };
        Ok(bytes)
    }

    /// The open object that holds block `cid` (its root, an inner node or
    /// a leaf); `None` if no live public object is known to hold it. A CID
    /// not seen before is looked up as an object's root.
    pub async fn holder(&self, cid: &Cid) -> Result<Option<Arc<OpenObject>>, BlockError> {
        let holder = self.lock_blocks().get(cid).copied();
        let open = match holder {
            Some(root) => self.object(&root).await?,
            None => self.object(cid).await?,
        };
        Ok(open.filter(|open| open.places.contains_key(cid)))
    }

    /// Whether [`block`](Self::block) would find `cid` (a root is looked
    /// up on chain).
    pub async fn has(&self, cid: &Cid) -> Result<bool, BlockError> {
        if self.lock_blocks().contains_key(cid) {
            return Ok(true);
        }
        Ok(self
            .object(cid)
            .await?
            .is_some_and(|open| open.places.contains_key(cid)))
    }

    /// Bytes `range` of `open`'s stored object, through the segment cache.
    pub async fn read(&self, open: &OpenObject, range: Range<u64>) -> Result<Vec<u8>, BlockError> {
        let segment_size = u64::from(open.manifest.coding.segment_size);
        let mut out = Vec::with_capacity((range.end - range.start) as usize);
        let mut at = range.start;
        while at < range.end {
            let number = (at / segment_size) as u32;
            let start = u64::from(number) * segment_size;
            let segment = self
                .segment(open, number)
                .await
                .map_err(|source| BlockError::Fetch {
                    root: open.root,
                    range: range.clone(),
                    source,
                })?;
            let from = (at - start) as usize;
            let to = ((range.end - start) as usize).min(segment.len());
            out.extend_from_slice(&segment[from..to]);
            at = start + to as u64;
        }
        Ok(out)
    }

    /// Segment `number` of `open`, decoded, from the cache or the providers.
    async fn segment(&self, open: &OpenObject, number: u32) -> Result<Arc<Vec<u8>>, PipelineError> {
        let key = (open.root, number);
        if let Some(segment) = self.lock_segments().get(&key) {
            return Ok(segment.clone());
        }
        let segment_size = u64::from(open.manifest.coding.segment_size);
        let start = u64::from(number) * segment_size;
        let end = (start + segment_size).min(open.manifest.size);
        let manifest = open.manifest.clone();
        let source = open.source.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            let mut bytes = Vec::new();
            pipeline::read_range(&manifest, source.as_ref(), start..end, &mut bytes, 1)
                .map(|()| bytes)
        })
        .await
        .expect("reading does not panic; qed")?;
        let segment = Arc::new(bytes);
        self.lock_segments().insert(key, segment.clone());
        Ok(segment)
    }

    fn insert_object(&self, open: Arc<OpenObject>) -> Option<(Cid, Arc<OpenObject>)> {
        let mut objects = self.lock_objects();
        let evicted = (objects.len() >= self.inner.config.objects as usize)
            .then(|| objects.pop_oldest())
            .flatten();
        objects.insert(open.root, open);
        evicted
    }

    fn lock_objects(&self) -> std::sync::MutexGuard<'_, LruMap<Cid, Arc<OpenObject>>> {
        self.inner.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_blocks(&self) -> std::sync::MutexGuard<'_, HashMap<Cid, Cid>> {
        self.inner.blocks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_segments(&self) -> std::sync::MutexGuard<'_, SegmentCache> {
        self.inner
            .segments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}
