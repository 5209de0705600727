//! Finding damage in the store before an audit does.
//!
//! * At start, [`check`] looks at every held piece without reading its
//!   bytes: its metadata decodes, its shard-root list adds up to its root
//!   and has one root per segment, its data file has the piece's size. A
//!   piece deleted while the worker was down is found by the follower
//!   (confirmed on chain, missing here); one truncated or with damaged
//!   metadata is found here.
//! * Then the scrub runs in the background for as long as the worker:
//!   pass after pass over the held pieces (in root order, which is as good
//!   as random), it reads every shard and checks it against its shard
//!   root ([`verify`]), at no more than `--scrub-rate` bytes a second and
//!   one pass per `--scrub-interval-secs` at most, so silent corruption
//!   (bit rot, a bad sector) is found within a pass.
//!
//! What either finds is reported and rebuilt through [`Health::damaged`].
//! A piece removed while it is being checked (its order ended) is no
//! damage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mosaic_primitives::merkle;
use mosaic_primitives::piece::{verify_shard_roots, Layout, PieceRoot};
use mosaic_shard_net::{PieceMeta, ShardStore, StoreError};

use crate::health::Health;

/// What is wrong with a held piece.
#[derive(Debug, thiserror::Error)]
pub enum Damage {
    /// Its metadata is unreadable or does not add up to its root.
    #[error("its metadata does not match its root")]
    Metadata,
    /// Its data file is not the piece's size.
    #[error("its data file has {actual} bytes, {expected} expected")]
    Size {
        /// Bytes on disk.
        actual: u64,
        /// The piece's size.
        expected: u64,
    },
    /// A shard does not hash to its shard root.
    #[error("segment {0} does not match its shard root")]
    Segment(u32),
    /// The disk failed reading it.
    #[error(transparent)]
    Store(StoreError),
}

/// A store error as damage; `Ok` when the piece merely left the store.
fn gone_or(e: StoreError) -> Result<(), Damage> {
    match e {
        StoreError::NotFound(_) => Ok(()),
        StoreError::Corrupt(_) => Err(Damage::Metadata),
        e => Err(Damage::Store(e)),
    }
}

/// `root`'s metadata and layout once they add up to its root and its data
/// file has the piece's size (no bytes read); `None` if it is not held.
fn sound_meta(
    store: &dyn ShardStore,
    root: &PieceRoot,
) -> Result<Option<(PieceMeta, Layout)>, Damage> {
    let meta = match store.meta(root) {
        Ok(Some(meta)) => meta,
        Ok(None) => return Ok(None),
        Err(e) => return gone_or(e).map(|()| None),
    };
    let layout = meta.layout().map_err(|_| Damage::Metadata)?;
    if !verify_shard_roots(root, &layout, &meta.shard_roots) {
        return Err(Damage::Metadata);
    }
    let actual = match store.bytes_of(root) {
        Ok(bytes) => bytes,
        Err(e) => return gone_or(e).map(|()| None),
    };
    if actual != layout.piece_size() {
        return Err(Damage::Size {
            actual,
            expected: layout.piece_size(),
        });
    }
    Ok(Some((meta, layout)))
}

/// Checks `root`'s metadata and data size without reading its bytes.
/// `Ok` if it is sound or no longer held.
pub fn check(store: &dyn ShardStore, root: &PieceRoot) -> Result<(), Damage> {
    sound_meta(store, root).map(|_| ())
}

/// Reads every shard of `root` and checks it against its shard root,
/// calling `pace` with each shard's size; answers the bytes verified.
/// `Ok` if it is sound or no longer held.
pub fn verify(
    store: &dyn ShardStore,
    root: &PieceRoot,
    mut pace: impl FnMut(u64),
) -> Result<u64, Damage> {
    let Some((meta, layout)) = sound_meta(store, root)? else {
        return Ok(0);
    };
    let mut verified = 0;
    for segment in 0..layout.segment_count() {
        let size = layout.shard_size(segment);
        let shard = match store.read(root, layout.shard_offset(segment), size) {
            Ok(shard) => shard,
            Err(e) => return gone_or(e).map(|()| verified),
        };
        if merkle::root(&shard).ok() != meta.shard_roots.get(segment as usize).copied() {
            return Err(Damage::Segment(segment));
        }
        verified += size as u64;
        pace(size as u64);
    }
    Ok(verified)
}

/// Checks every held piece with [`check`]; reports what is damaged.
/// Blocking.
pub fn check_all(store: &dyn ShardStore, health: &Health) {
    let roots = match store.pieces() {
        Ok(roots) => roots,
        Err(e) => {
            tracing::error!(target: "mosaic::worker", "listing the store's pieces: {e}");
            return;
        }
    };
    for root in roots {
        if let Err(damage) = check(store, &root) {
            health.damaged(store, root, &damage);
        }
    }
}

/// Keeps reading to `rate` bytes a second on average.
struct Pace {
    rate: u64,
    start: Instant,
    bytes: u64,
}

impl Pace {
    fn new(rate: u64) -> Self {
        Pace {
            rate,
            start: Instant::now(),
            bytes: 0,
        }
    }

    /// Accounts for `bytes` read, sleeping as long as the reading is ahead
    /// of the rate. Blocking.
    fn spent(&mut self, bytes: u64) {
        self.bytes += bytes;
        let due = Duration::from_secs_f64(self.bytes as f64 / self.rate as f64);
        if let Some(ahead) = due.checked_sub(self.start.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
}

/// How fast and how often the scrub reads the store.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Bytes a second at most; 0 turns the scrub off.
    pub rate: u64,
    /// From the start of one pass to the start of the next, at least.
    pub interval: Duration,
}

/// Scrubs `store` pass after pass on `schedule`, for as long as the worker
/// runs. Blocking: run it on a thread of its own.
pub fn scrub(store: Arc<dyn ShardStore>, health: Health, schedule: Schedule) {
    loop {
        let started = Instant::now();
        let mut pace = Pace::new(schedule.rate.max(1));
        let roots = match store.pieces() {
            Ok(roots) => roots,
            Err(e) => {
                tracing::error!(target: "mosaic::worker", "scrub: listing the store's pieces: {e}");
                Vec::new()
            }
        };
        for root in &roots {
            match verify(store.as_ref(), root, |bytes| pace.spent(bytes)) {
                Ok(bytes) => health.scrubbed(bytes),
                Err(damage) => {
                    if health.damaged(store.as_ref(), *root, &damage) {
                        health.scrub_error();
                    }
                }
            }
        }
        health.scrub_pass();
        if let Some(rest) = schedule.interval.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::WorkerMetrics;
    use mosaic_shard_net::store::{DiskStore, MemoryStore};
    use std::os::unix::fs::FileExt;

    /// A disk store holding one sample piece of three segments.
    fn stored() -> (tempfile::TempDir, DiskStore, PieceRoot) {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(&dir.path().join("store")).unwrap();
        let (root, meta, shards) = crate::prover::tests::sample_piece();
        store.begin(&root, &meta).unwrap();
        for (segment, shard) in shards.iter().enumerate() {
            store.append(&root, segment as u32, shard).unwrap();
        }
        (dir, store, root)
    }

    /// The one piece's data file.
    fn data_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
        std::fs::read_dir(dir.path().join("store/pieces"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|e| e == "data"))
            .unwrap()
    }

    #[test]
    fn a_sound_piece_verifies_in_full_at_its_pace() {
        let (_dir, store, root) = stored();
        assert!(check(&store, &root).is_ok());
        let mut paced = 0;
        let verified = verify(&store, &root, |bytes| paced += bytes).unwrap();
        assert_eq!(verified, store.bytes_of(&root).unwrap());
        assert_eq!(paced, verified);
        // A piece that left the store is no damage.
        store.remove(&root).unwrap();
        assert_eq!(verify(&store, &root, |_| ()).unwrap(), 0);
    }

    #[test]
    fn a_flipped_bit_is_found_by_the_scrub_and_a_truncation_at_start() {
        let (dir, store, root) = stored();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(data_file(&dir))
            .unwrap();
        let meta = store.meta(&root).unwrap().unwrap();
        let layout = meta.layout().unwrap();
        // One byte in the last segment: the cheap check cannot see it.
        let at = layout.shard_offset(layout.segment_count() - 1) + 5;
        let mut byte = [0u8];
        file.read_exact_at(&mut byte, at).unwrap();
        file.write_all_at(&[byte[0] ^ 0x10], at).unwrap();
        assert!(check(&store, &root).is_ok());
        assert!(matches!(
            verify(&store, &root, |_| ()),
            Err(Damage::Segment(s)) if s == layout.segment_count() - 1
        ));
        file.set_len(at).unwrap();
        assert!(matches!(
            check(&store, &root),
            Err(Damage::Size { actual, expected }) if actual == at && expected == layout.piece_size()
        ));
    }

    /// A store whose disk fails reading one piece.
    struct FailingDisk {
        inner: MemoryStore,
        bad: PieceRoot,
    }

    impl ShardStore for FailingDisk {
        fn begin(&self, root: &PieceRoot, meta: &PieceMeta) -> Result<u32, StoreError> {
            self.inner.begin(root, meta)
        }
        fn append(&self, root: &PieceRoot, segment: u32, shard: &[u8]) -> Result<u32, StoreError> {
            self.inner.append(root, segment, shard)
        }
        fn meta(&self, root: &PieceRoot) -> Result<Option<PieceMeta>, StoreError> {
            self.inner.meta(root)
        }
        fn read(&self, root: &PieceRoot, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
            if *root == self.bad {
                return Err(StoreError::Io {
                    path: "pieces/bad.data".into(),
                    source: std::io::Error::from_raw_os_error(5),
                });
            }
            self.inner.read(root, offset, len)
        }
        fn remove(&self, root: &PieceRoot) -> Result<(), StoreError> {
            self.inner.remove(root)
        }
        fn pieces(&self) -> Result<Vec<PieceRoot>, StoreError> {
            self.inner.pieces()
        }
        fn roots(&self) -> Result<Vec<PieceRoot>, StoreError> {
            self.inner.roots()
        }
        fn used(&self) -> Result<u64, StoreError> {
            self.inner.used()
        }
        fn bytes_of(&self, root: &PieceRoot) -> Result<u64, StoreError> {
            self.inner.bytes_of(root)
        }
    }

    #[test]
    fn a_disk_error_on_one_piece_takes_out_that_piece_alone() {
        // Two pieces of the sample object; the disk fails reading the first.
        let (root, meta, shards) = crate::prover::tests::sample_piece();
        let store = FailingDisk {
            inner: MemoryStore::default(),
            bad: root,
        };
        let (other, other_meta, other_shards) = crate::prover::tests::sample_piece_of(2);
        for (root, meta, shards) in [(root, &meta, &shards), (other, &other_meta, &other_shards)] {
            store.begin(&root, meta).unwrap();
            for (segment, shard) in shards.iter().enumerate() {
                store.append(&root, segment as u32, shard).unwrap();
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let metrics = WorkerMetrics::new();
        let health = Health::new(dir.path(), metrics.clone());
        let damage = verify(&store, &root, |_| ()).unwrap_err();
        assert!(
            matches!(damage, Damage::Store(StoreError::Io { .. })),
            "{damage:?}"
        );
        assert!(health.damaged(&store, root, &damage));
        assert_eq!(
            store.pieces().unwrap(),
            vec![other],
            "the other piece stays"
        );
        assert!(verify(&store, &other, |_| ()).is_ok());
        assert_eq!(metrics.pieces_damaged.get(), 1);
        // A piece that left the store is not reported.
        assert!(!health.damaged(&store, root, &damage));
        assert_eq!(metrics.pieces_damaged.get(), 1);
    }

    #[test]
    fn damage_found_at_start_takes_the_piece_out_and_is_reported() {
        let (dir, store, root) = stored();
        std::fs::OpenOptions::new()
            .write(true)
            .open(data_file(&dir))
            .unwrap()
            .set_len(1)
            .unwrap();
        let metrics = WorkerMetrics::new();
        let health = Health::new(dir.path(), metrics.clone());
        check_all(&store, &health);
        assert!(store.pieces().unwrap().is_empty(), "taken out");
        assert_eq!(metrics.pieces_damaged.get(), 1);
        let report = crate::health::HealthReport::read(dir.path()).unwrap();
        assert_eq!(report.damaged, 1);
        // Its rebuild is a damaged piece's, not a lost one's.
        assert!(health.repair_started(root, 3, 1, true));
        let report = crate::health::HealthReport::read(dir.path()).unwrap();
        assert_eq!(
            (report.lost, report.repairing),
            (0, vec!["3/1".to_string()])
        );
        health.repair_ended(root, true);
        assert!(!health.repair_started(root, 3, 1, true), "rebuilt since");
        assert_eq!(metrics.pieces_lost.get(), 1);
    }
}
