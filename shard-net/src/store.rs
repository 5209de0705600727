//! Where a worker keeps pieces: a [`ShardStore`], on disk ([`DiskStore`])
//! or in memory ([`MemoryStore`]). Both are run through one test body.
//!
//! A piece is named by its root (identical pieces are stored once). It is
//! written segment by segment, in order, after the caller verified each
//! shard; the store only keeps the bytes and knows how far a partial piece
//! got, so an interrupted upload resumes from the next segment.

mod disk;
mod memory;

pub use disk::{write_atomic, DiskStore};
pub use memory::MemoryStore;

use mosaic_primitives::erasure::CodingParams;
use mosaic_primitives::merkle::ShardRoot;
use mosaic_primitives::piece::{Layout, LayoutError, PieceRoot};
use parity_scale_codec::{Decode, Encode};

/// What the store keeps about a piece besides its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PieceMeta {
    /// How the object is coded.
    pub coding: CodingParams,
    /// The object's stored size, which fixes every shard's size.
    pub stored_size: u64,
    /// The piece's shard-root list.
    pub shard_roots: Vec<ShardRoot>,
}

impl PieceMeta {
    /// The piece's layout.
    pub fn layout(&self) -> Result<Layout, LayoutError> {
        Layout::new(self.coding, self.stored_size)
    }
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The disk failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The piece is not held (or, for an append, not begun).
    #[error("piece {0:?} is not in the store")]
    NotFound(PieceRoot),
    /// A segment other than the next one was appended, or a shard of the
    /// wrong size, or a range past the piece's end.
    #[error("piece {root:?}: {what}")]
    OutOfOrder {
        /// The piece.
        root: PieceRoot,
        /// What was wrong.
        what: String,
    },
    /// Stored metadata does not decode or describes no valid layout: the
    /// store was damaged.
    #[error("piece {0:?}: its stored metadata is damaged")]
    Corrupt(PieceRoot),
}

/// Piece storage. Blocking; call from a blocking thread.
pub trait ShardStore: Send + Sync + 'static {
    /// Starts or resumes storing the piece `root`; answers how many
    /// segments are stored (all of them when it is held). `meta` must
    /// already be checked against `root`.
    fn begin(&self, root: &PieceRoot, meta: &PieceMeta) -> Result<u32, StoreError>;
    /// Stores the shard of `segment`, which must be the next one; answers
    /// the next segment. The last one makes the piece durable and held.
    fn append(&self, root: &PieceRoot, segment: u32, shard: &[u8]) -> Result<u32, StoreError>;
    /// The metadata of a held (complete) piece.
    fn meta(&self, root: &PieceRoot) -> Result<Option<PieceMeta>, StoreError>;
    /// Bytes `offset..offset + len` of a held piece.
    fn read(&self, root: &PieceRoot, offset: u64, len: usize) -> Result<Vec<u8>, StoreError>;
    /// Forgets a piece, held or partial; no error if absent.
    fn remove(&self, root: &PieceRoot) -> Result<(), StoreError>;
    /// Every held piece.
    fn pieces(&self) -> Result<Vec<PieceRoot>, StoreError>;
    /// Every piece with bytes here, held or partial (an upload that never
    /// finished, or a crash's leftovers): what the worker removes once no
    /// order assigns it.
    fn roots(&self) -> Result<Vec<PieceRoot>, StoreError>;
    /// Bytes of held and partial pieces.
    fn used(&self) -> Result<u64, StoreError>;
    /// Bytes stored of one piece, held or partial (0 if absent).
    fn bytes_of(&self, root: &PieceRoot) -> Result<u64, StoreError>;
}

/// Reads the shard of `segment` of a held piece.
pub fn read_shard(
    store: &dyn ShardStore,
    root: &PieceRoot,
    segment: u32,
) -> Result<Vec<u8>, StoreError> {
    let meta = store.meta(root)?.ok_or(StoreError::NotFound(*root))?;
    let layout = meta.layout().map_err(|_| StoreError::Corrupt(*root))?;
    if segment >= layout.segment_count() {
        return Err(StoreError::OutOfOrder {
            root: *root,
            what: format!("no segment {segment}"),
        });
    }
    store.read(
        root,
        layout.shard_offset(segment),
        layout.shard_size(segment),
    )
}

/// Checks that `segment`'s `shard` is the next one of a piece with `meta`
/// and `next` segments stored (shared by the backends).
fn check_append(
    root: &PieceRoot,
    meta: &PieceMeta,
    next: u32,
    segment: u32,
    shard: &[u8],
) -> Result<Layout, StoreError> {
    let layout = meta.layout().map_err(|_| StoreError::Corrupt(*root))?;
    let out_of_order = |what: String| StoreError::OutOfOrder { root: *root, what };
    if segment != next || segment >= layout.segment_count() {
        return Err(out_of_order(format!(
            "segment {segment} sent, {next} of {} expected",
            layout.segment_count()
        )));
    }
    if shard.len() != layout.shard_size(segment) {
        return Err(out_of_order(format!(
            "a {}-byte shard for segment {segment}, {} expected",
            shard.len(),
            layout.shard_size(segment)
        )));
    }
    Ok(layout)
}

/// Checks that `offset..offset + len` lies within a piece of `meta`.
fn check_range(
    root: &PieceRoot,
    meta: &PieceMeta,
    offset: u64,
    len: usize,
) -> Result<(), StoreError> {
    let size = meta
        .layout()
        .map_err(|_| StoreError::Corrupt(*root))?
        .piece_size();
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(StoreError::OutOfOrder {
            root: *root,
            what: format!("bytes {offset}+{len} are past the piece's {size}"),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use mosaic_primitives::merkle;
    use mosaic_primitives::piece::piece_root;

    /// A piece of three segments (the last one short) and its shards.
    pub(crate) fn sample_piece() -> (PieceRoot, PieceMeta, Vec<Vec<u8>>) {
        let coding = CodingParams::with_segment_size(2, 1, 256 * 1024).unwrap();
        let stored_size = 2 * 256 * 1024 + 100 * 1024;
        let layout = Layout::new(coding, stored_size).unwrap();
        let shards: Vec<Vec<u8>> = (0..layout.segment_count())
            .map(|s| {
                (0..layout.shard_size(s))
                    .map(|i| (i as u32 * 7 + s) as u8)
                    .collect()
            })
            .collect();
        let shard_roots: Vec<ShardRoot> = shards.iter().map(|s| merkle::root(s).unwrap()).collect();
        let meta = PieceMeta {
            coding,
            stored_size,
            shard_roots,
        };
        (piece_root(&meta.shard_roots), meta, shards)
    }

    /// The behaviour every backend must have.
    pub(crate) fn store_behaves(store: &dyn ShardStore) {
        let (root, meta, shards) = sample_piece();
        assert!(store.meta(&root).unwrap().is_none());
        assert!(matches!(
            store.append(&root, 0, &shards[0]),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(store.begin(&root, &meta).unwrap(), 0);
        assert_eq!(store.bytes_of(&root).unwrap(), 0);
        assert_eq!(store.append(&root, 0, &shards[0]).unwrap(), 1);
        assert_eq!(store.bytes_of(&root).unwrap(), shards[0].len() as u64);
        // Out of order, repeated and wrongly sized shards are refused.
        assert!(store.append(&root, 2, &shards[2]).is_err());
        assert!(store.append(&root, 0, &shards[0]).is_err());
        assert!(store.append(&root, 1, &shards[2]).is_err());
        // A partial piece is not held, but resumes where it stopped.
        assert!(store.meta(&root).unwrap().is_none());
        assert!(store.pieces().unwrap().is_empty());
        assert_eq!(store.roots().unwrap(), vec![root]);
        assert_eq!(store.begin(&root, &meta).unwrap(), 1);
        assert_eq!(store.append(&root, 1, &shards[1]).unwrap(), 2);
        assert_eq!(store.append(&root, 2, &shards[2]).unwrap(), 3);
        assert_eq!(store.meta(&root).unwrap(), Some(meta.clone()));
        assert_eq!(store.pieces().unwrap(), vec![root]);
        assert_eq!(store.roots().unwrap(), vec![root]);
        let size: u64 = shards.iter().map(|s| s.len() as u64).sum();
        assert_eq!(store.used().unwrap(), size);
        assert_eq!(store.bytes_of(&root).unwrap(), size);
        // A held piece offered again needs nothing more.
        assert_eq!(store.begin(&root, &meta).unwrap(), 3);
        for (segment, shard) in shards.iter().enumerate() {
            assert_eq!(&read_shard(store, &root, segment as u32).unwrap(), shard);
        }
        assert_eq!(
            store.read(&root, shards[0].len() as u64 - 2, 4).unwrap(),
            [&shards[0][shards[0].len() - 2..], &shards[1][..2]].concat()
        );
        assert!(store.read(&root, size - 1, 2).is_err());
        assert!(read_shard(store, &root, 3).is_err());
        store.remove(&root).unwrap();
        assert!(store.meta(&root).unwrap().is_none());
        assert_eq!(store.used().unwrap(), 0);
        store.remove(&root).unwrap();

        // A partial piece is removed like a held one.
        store.begin(&root, &meta).unwrap();
        store.append(&root, 0, &shards[0]).unwrap();
        store.remove(&root).unwrap();
        assert!(store.roots().unwrap().is_empty());
        assert_eq!(store.used().unwrap(), 0);
        assert_eq!(store.begin(&root, &meta).unwrap(), 0);
        store.remove(&root).unwrap();
    }

    #[test]
    fn memory_store_behaves() {
        store_behaves(&MemoryStore::default());
    }

    #[test]
    fn disk_store_behaves() {
        let dir = tempfile::tempdir().unwrap();
        store_behaves(&DiskStore::open(dir.path()).unwrap());
    }
}
