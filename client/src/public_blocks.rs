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
//! Concurrent requests for an object not open yet share one open
//! ([`single_flight`]); an open that fails is not remembered, the next
//! request opens again. The root of every object opened is told to those
//! who listen ([`PublicBlocks::opened`]: the libp2p host provides its
//! blocks). An object evicted from the open ones is opened again on demand,
//! by its root or by any of its blocks as long as the map of evicted
//! objects' blocks holds it.
//!
//! Bounded: at most [`PublicConfig::objects`] objects open and
//! [`PublicConfig::segments`] segments cached; an object's index is read
//! only up to [`PublicConfig::max_index`] bytes; blocks of evicted objects
//! are remembered up to [`PublicConfig::evicted_blocks`]; at most
//! [`MAX_SHARED_OPENS`] opens are shared at once.

mod single_flight;

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
use tokio::sync::broadcast;

use crate::get::{manifest_of, GetError, PieceSource};
use crate::progress::Progress;
use crate::providers::endpoints;
use single_flight::SingleFlight;

/// Opens under way that later requests of the same root join; past it an
/// open runs for its request alone (as if unshared).
pub const MAX_SHARED_OPENS: usize = 128;
/// Roots of opened objects queued for a listener of
/// [`PublicBlocks::opened`]; one further behind misses the oldest.
pub const MAX_OPENED_QUEUED: usize = 64;

/// Bounds of a [`PublicBlocks`].
#[derive(Clone, Copy, Debug)]
pub struct PublicConfig {
    /// Objects kept open (each holds its DAG index in memory).
    pub objects: u32,
    /// Decoded segments cached, across objects.
    pub segments: u32,
    /// Largest DAG index read.
    pub max_index: u64,
    /// Blocks of objects evicted from the open ones that keep a note of
    /// their object, so that asking for one opens the object again; the
    /// least recently used notes go first (such a block is then unknown
    /// until its object is opened by its root). As many as the libp2p host
    /// provides keys at most ([`MAX_PROVIDED_KEYS`]).
    ///
    /// [`MAX_PROVIDED_KEYS`]: crate::ipfs_p2p::routing::MAX_PROVIDED_KEYS
    pub evicted_blocks: u32,
}

impl Default for PublicConfig {
    fn default() -> Self {
        PublicConfig {
            objects: 64,
            segments: 8,
            max_index: 64 << 20,
            evicted_blocks: 1 << 18,
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
    /// Opening the object failed: the failure of the one open that every
    /// request waiting for it meanwhile shares.
    #[error(transparent)]
    Open(Arc<BlockError>),
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
    /// Opens under way, by root.
    opening: SingleFlight<Cid, Option<Arc<OpenObject>>, BlockError>,
    /// Which object holds each block.
    holders: Mutex<Holders>,
    /// Decoded segments by object root and number.
    segments: Mutex<SegmentCache>,
    /// The root of each object opened.
    opened: broadcast::Sender<Cid>,
}

/// Which object holds each block: every block of the open objects, and
/// blocks of objects evicted since, as long as a bounded map keeps them.
struct Holders {
    /// Blocks of the open objects, by the root of the object holding them.
    open: HashMap<Cid, Cid>,
    /// Blocks of evicted objects, by root; the least recently used go
    /// first.
    evicted: LruMap<Cid, Cid>,
}

impl Holders {
    fn new(evicted: u32) -> Self {
        Holders {
            open: HashMap::new(),
            evicted: LruMap::new(ByLength::new(evicted)),
        }
    }

    /// The object `root`, holding `blocks`, was opened.
    fn opened<'a>(&mut self, root: Cid, blocks: impl Iterator<Item = &'a Cid>) {
        for cid in blocks {
            self.open.insert(*cid, root);
        }
    }

    /// The object `root`, holding `blocks`, was evicted from the open ones.
    fn evicted<'a>(&mut self, root: Cid, blocks: impl Iterator<Item = &'a Cid>) {
        for cid in blocks {
            // A block of an object opened since stays with it.
            if self.open.get(cid) == Some(&root) {
                self.open.remove(cid);
                self.evicted.insert(*cid, root);
            }
        }
    }

    /// The root of the object known to hold `cid`, an open one first.
    fn holder(&mut self, cid: &Cid) -> Option<Cid> {
        match self.open.get(cid) {
            Some(root) => Some(*root),
            None => self.evicted.get(cid).copied(),
        }
    }

    /// Whether an open object holds `cid`.
    fn is_open(&self, cid: &Cid) -> bool {
        self.open.contains_key(cid)
    }

    /// The evicted object noted for `cid` no longer holds it (its order is
    /// not live any more).
    fn forget_evicted(&mut self, cid: &Cid) {
        self.evicted.remove(cid);
    }
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

    /// Every block of the object, its dag-pb nodes (the root among them)
    /// and its raw leaves; a single raw leaf for a file of one.
    pub fn block_cids(&self) -> impl Iterator<Item = &Cid> + '_ {
        self.places.keys()
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
                opening: SingleFlight::new(MAX_SHARED_OPENS),
                holders: Mutex::new(Holders::new(config.evicted_blocks)),
                segments: Mutex::new(LruMap::new(ByLength::new(config.segments))),
                opened: broadcast::channel(MAX_OPENED_QUEUED).0,
            }),
        })
    }

    /// The node connection it reads the chain through.
    pub fn chain(&self) -> &ChainClient {
        &self.inner.chain
    }

    /// The roots of the objects opened from now on (an object evicted and
    /// opened again is told again). A receiver more than
    /// [`MAX_OPENED_QUEUED`] roots behind misses the oldest
    /// ([`broadcast::error::RecvError::Lagged`]).
    pub fn opened(&self) -> broadcast::Receiver<Cid> {
        self.inner.opened.subscribe()
    }

    /// The object `root` if it is open now; nothing is read and it is not
    /// marked as used.
    pub fn open_object(&self, root: &Cid) -> Option<Arc<OpenObject>> {
        self.lock_objects().peek(root).cloned()
    }

    /// The open object holding block `cid` (its root, an inner node or a
    /// leaf), if one is open now; nothing is read from the chain or the
    /// providers (for `Cache-Control: only-if-cached`).
    pub fn holder_in_memory(&self, cid: &Cid) -> Option<Arc<OpenObject>> {
        let root = self.lock_holders().open.get(cid).copied()?;
        self.open_object(&root)
            .filter(|open| open.places.contains_key(cid))
    }

    /// Whether block `cid` of `open` is in memory now: a dag-pb node of its
    /// index, or a leaf in decoded segments cached.
    pub fn block_in_memory(&self, open: &OpenObject, cid: &Cid) -> bool {
        match open.places.get(cid) {
            None => false,
            Some(Place::Node) => true,
            Some(Place::Leaf { offset, len }) => self.in_memory(open, *offset..offset + len),
        }
    }

    /// Whether bytes `range` of `open`'s object all lie in decoded segments
    /// cached now (the cache's order is left as it is).
    pub fn in_memory(&self, open: &OpenObject, range: Range<u64>) -> bool {
        if range.is_empty() {
            return true;
        }
        let size = u64::from(open.manifest.coding.segment_size);
        let segments = self.lock_segments();
        (range.start / size..=(range.end - 1) / size)
            .all(|number| segments.peek(&(open.root, number as u32)).is_some())
    }

    /// The live public object whose root is `root`, opened (its index read)
    /// the first time; `None` if no live public order stores it. Requests
    /// that come while it is being opened wait for that open.
    pub async fn object(&self, root: &Cid) -> Result<Option<Arc<OpenObject>>, BlockError> {
        if let Some(open) = self.lock_objects().get(root) {
            return Ok(Some(open.clone()));
        }
        let this = self.clone();
        let root = *root;
        self.inner
            .opening
            .run(root, move || this.open(root))
            .await
            .map_err(BlockError::Open)
    }

    /// Opens the object `root` (see [`object`](Self::object)).
    async fn open(self, root: Cid) -> Result<Option<Arc<OpenObject>>, BlockError> {
        // Opened by a run that ended after this caller missed it in the
        // cache and before it looked for a run.
        if let Some(open) = self.lock_objects().get(&root) {
            return Ok(Some(open.clone()));
        }
        let root = &root;
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
        self.lock_holders().opened(*root, open.places.keys());
        if let Some((_, evicted)) = self.insert_object(open.clone()) {
            self.lock_holders()
                .evicted(evicted.root, evicted.places.keys());
        }
        // Nobody listening is nothing to tell.
        let _ = self.inner.opened.send(*root);
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
    /// a leaf); `None` if no live public object is known to hold it. A
    /// block of an evicted object opens it again; a CID not seen before is
    /// looked up as an object's root.
    pub async fn holder(&self, cid: &Cid) -> Result<Option<Arc<OpenObject>>, BlockError> {
        let known = self.lock_holders().holder(cid);
        if let Some(root) = known {
            let open = self.object(&root).await?;
            if let Some(open) = open.filter(|open| open.places.contains_key(cid)) {
                return Ok(Some(open));
            }
            // Its object is no longer live.
            self.lock_holders().forget_evicted(cid);
            if root == *cid {
                return Ok(None);
            }
            // It may be the root of a live object itself.
        }
        let open = self.object(cid).await?;
        Ok(open.filter(|open| open.places.contains_key(cid)))
    }

    /// Whether [`block`](Self::block) would find `cid` (a block of an
    /// evicted object opens it again, a root is looked up on chain).
    pub async fn has(&self, cid: &Cid) -> Result<bool, BlockError> {
        if self.lock_holders().is_open(cid) {
            return Ok(true);
        }
        Ok(self.holder(cid).await?.is_some())
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
        // An unshared open of an object open meanwhile replaces it.
        let full = objects.len() >= self.inner.config.objects as usize;
        let evicted = (full && objects.peek(&open.root).is_none())
            .then(|| objects.pop_oldest())
            .flatten();
        objects.insert(open.root, open);
        evicted
    }

    fn lock_objects(&self) -> std::sync::MutexGuard<'_, LruMap<Cid, Arc<OpenObject>>> {
        self.inner.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_holders(&self) -> std::sync::MutexGuard<'_, Holders> {
        self.inner.holders.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_segments(&self) -> std::sync::MutexGuard<'_, SegmentCache> {
        self.inner
            .segments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use mosaic_primitives::unixfs::cid_v1;

    use super::*;

    /// A raw-leaf CID for `n`.
    fn leaf(n: u32) -> Cid {
        cid_v1(RAW_CODEC, chunk_digest(&n.to_le_bytes()))
    }

    #[test]
    fn a_block_of_an_evicted_object_still_names_its_root() {
        let mut holders = Holders::new(3);
        let (a, b) = (leaf(100), leaf(200));
        let a_blocks = [a, leaf(1), leaf(2)];
        let b_blocks = [b, leaf(2), leaf(3)];
        holders.opened(a, a_blocks.iter());
        holders.opened(b, b_blocks.iter());
        assert_eq!(holders.holder(&leaf(1)), Some(a));
        assert_eq!(holders.holder(&leaf(2)), Some(b), "the later object");

        holders.evicted(a, a_blocks.iter());
        assert!(!holders.is_open(&leaf(1)));
        assert_eq!(holders.holder(&leaf(1)), Some(a), "opened again through it");
        assert_eq!(holders.holder(&a), Some(a));
        assert!(holders.is_open(&leaf(2)), "still in the open object b");
        assert_eq!(holders.holder(&leaf(2)), Some(b));

        // Bounded: b's three blocks push a's two out.
        holders.evicted(b, b_blocks.iter());
        assert_eq!(holders.holder(&leaf(3)), Some(b));
        assert_eq!(holders.holder(&leaf(1)), None, "forgotten past the bound");
        assert_eq!(holders.holder(&a), None);

        holders.opened(a, a_blocks.iter());
        assert_eq!(holders.holder(&leaf(1)), Some(a));
        assert!(holders.is_open(&leaf(1)));

        holders.forget_evicted(&leaf(3));
        assert_eq!(holders.holder(&leaf(3)), None);
        assert_eq!(holders.holder(&b), Some(b), "only that note goes");
    }
}
