//! A stored object as a directory: `manifest.bin`, one file per shard named
//! `SSSSSS-II.shard` (segment, index), and one file per piece named
//! `PP.roots`: the piece's shard roots, 32 bytes each, in segment order.
//!
//! Writes are crash-safe: the manifest is written last (to a temporary name,
//! synced, renamed into place), after every shard file and list is synced, so
//! a directory with a manifest holds every shard and list it names (until
//! something damages them, which decoding detects list by list and shard by
//! shard). Shard files are synced by a thread of their own while encoding
//! goes on, so that an encoder on one core never waits for the disk.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use mosaic_primitives::manifest::{Manifest, ManifestError, ShardId};
use mosaic_primitives::merkle::ShardRoot;
use mosaic_primitives::piece::MAX_SEGMENTS;
use mosaic_primitives::pipeline::{ShardSink, ShardSource};

/// File name of the manifest inside an object directory.
pub const MANIFEST_FILE: &str = "manifest.bin";
/// Largest shard-root list file: one root per segment of the largest object.
pub const MAX_ROOTS_FILE_SIZE: u64 = MAX_SEGMENTS as u64 * 32;
/// Files written and waiting for the syncing thread: past this the encoder
/// waits for the disk.
const UNSYNCED_FILES: usize = 16;

/// Why an object directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ShardDirError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The directory already holds an object.
    #[error("{0} already holds an object; choose an empty directory")]
    Occupied(PathBuf),
    /// The manifest is not valid.
    #[error("{path} is not a valid manifest")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: ManifestError,
    },
}

/// An object directory.
pub struct ShardDir {
    root: PathBuf,
    /// Syncs the files written so far; started by the first one.
    syncer: Option<Syncer>,
}

/// A thread that syncs written files in turn and stops at the first error.
struct Syncer {
    files: SyncSender<(PathBuf, File)>,
    thread: JoinHandle<Result<(), ShardDirError>>,
}

impl Syncer {
    fn spawn(root: &Path) -> Result<Self, ShardDirError> {
        let (files, written) = sync_channel::<(PathBuf, File)>(UNSYNCED_FILES);
        let thread = std::thread::Builder::new()
            .name("shard-sync".into())
            .spawn(move || {
                for (path, file) in written {
                    file.sync_all().map_err(io_error(&path))?;
                }
                Ok(())
            })
            .map_err(io_error(root))?;
        Ok(Syncer { files, thread })
    }

    /// Waits until every file sent is synced.
    fn finish(self) -> Result<(), ShardDirError> {
        drop(self.files);
        self.thread
            .join()
            .expect("the syncing thread does not panic; qed")
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ShardDirError + '_ {
    move |source| ShardDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ShardDirError> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(io_error(&tmp))?;
    file.write_all(bytes).map_err(io_error(&tmp))?;
    file.sync_all().map_err(io_error(&tmp))?;
    fs::rename(&tmp, path).map_err(io_error(path))
}

impl ShardDir {
    /// Creates (if needed) an empty directory to encode an object into.
    pub fn create(root: &Path) -> Result<Self, ShardDirError> {
        fs::create_dir_all(root).map_err(io_error(root))?;
        if root.join(MANIFEST_FILE).exists() {
            return Err(ShardDirError::Occupied(root.to_path_buf()));
        }
        Ok(ShardDir {
            root: root.to_path_buf(),
            syncer: None,
        })
    }

    /// Opens an object directory and reads its manifest.
    pub fn open(root: &Path) -> Result<(Self, Manifest), ShardDirError> {
        let path = root.join(MANIFEST_FILE);
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        let manifest = Manifest::from_bytes(&bytes)
            .map_err(|source| ShardDirError::Manifest { path, source })?;
        let dir = ShardDir {
            root: root.to_path_buf(),
            syncer: None,
        };
        Ok((dir, manifest))
    }

    /// Writes a file in place and hands it to the syncing thread: no
    /// temporary name is needed, as nothing reads the directory's files
    /// before the manifest, which comes after they are synced.
    fn write_unsynced(&mut self, path: PathBuf, bytes: &[u8]) -> Result<(), ShardDirError> {
        let mut file = File::create(&path).map_err(io_error(&path))?;
        file.write_all(bytes).map_err(io_error(&path))?;
        let syncer = match &mut self.syncer {
            Some(syncer) => syncer,
            None => self.syncer.insert(Syncer::spawn(&self.root)?),
        };
        if syncer.files.send((path, file)).is_err() {
            let syncer = self.syncer.take().expect("matched above; qed");
            return Err(syncer
                .finish()
                .expect_err("the thread stops early only at an error; qed"));
        }
        Ok(())
    }

    /// Path of one shard's file.
    pub fn shard_path(&self, id: ShardId) -> PathBuf {
        self.root
            .join(format!("{:06}-{:02}.shard", id.segment, id.index))
    }

    /// Path of one piece's shard-root list.
    pub fn shard_roots_path(&self, piece: u8) -> PathBuf {
        self.root.join(format!("{piece:02}.roots"))
    }

    /// Waits until every shard and list written is synced, then writes the
    /// manifest and syncs the directory.
    pub fn write_manifest(&mut self, manifest: &Manifest) -> Result<(), ShardDirError> {
        if let Some(syncer) = self.syncer.take() {
            syncer.finish()?;
        }
        write_atomic(&self.root.join(MANIFEST_FILE), &manifest.to_bytes())?;
        File::open(&self.root)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error(&self.root))
    }
}

impl ShardSink for ShardDir {
    type Error = ShardDirError;

    fn put_shard(&mut self, id: ShardId, shard: &[u8]) -> Result<(), ShardDirError> {
        self.write_unsynced(self.shard_path(id), shard)
    }

    fn put_shard_roots(&mut self, piece: u8, roots: &[ShardRoot]) -> Result<(), ShardDirError> {
        let bytes: Vec<u8> = roots.iter().flat_map(|root| root.0).collect();
        self.write_unsynced(self.shard_roots_path(piece), &bytes)
    }
}

impl ShardSource for ShardDir {
    fn shard(&self, id: ShardId) -> Option<Vec<u8>> {
        // A missing or unreadable shard is one the decoder does without.
        fs::read(self.shard_path(id)).ok()
    }

    fn shard_roots(&self, piece: u8) -> Option<Vec<ShardRoot>> {
        // As for shards: a missing, unreadable or malformed list makes the
        // piece one the decoder does without. Read at most one byte past the
        // bound, whatever the file's size.
        let file = File::open(self.shard_roots_path(piece)).ok()?;
        let mut bytes = Vec::new();
        file.take(MAX_ROOTS_FILE_SIZE + 1)
            .read_to_end(&mut bytes)
            .ok()?;
        if bytes.len() as u64 > MAX_ROOTS_FILE_SIZE || !bytes.len().is_multiple_of(32) {
            return None;
        }
        Some(
            bytes
                .chunks_exact(32)
                .map(|root| ShardRoot(root.try_into().expect("chunks of 32 bytes; qed")))
                .collect(),
        )
    }
}
