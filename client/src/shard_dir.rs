//! A stored object as a directory: `manifest.bin`, one file per shard named
//! `SSSSSS-II.shard` (segment, index), and one file per piece named
//! `PP.roots`: the piece's shard roots, 32 bytes each, in segment order.
//!
//! Writes are crash-safe: the manifest is written last (to a temporary name,
//! synced, renamed into place), after every shard file and list is synced, so
//! a directory with a manifest holds every shard and list it names (until
//! something damages them, which decoding detects list by list and shard by
//! shard). Shard files are written and synced by a thread of their own while
//! encoding goes on, so that an encoder never waits for the disk, with
//! `O_DIRECT` where the filesystem allows it ([`crate::direct`]), so that
//! the kernel does not copy every byte into the page cache. Reading, the
//! shards of the next segment are read by threads of their own while a
//! segment is decoded, so that a decoder seldom waits for the disk.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use mosaic_primitives::manifest::{Manifest, ManifestError, ShardId};

use crate::direct::{DirectWriter, Staged};
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
/// Files written at once.
const WRITERS: usize = 4;
/// Segments whose shards are read ahead while one is decoded.
const READ_AHEAD: u32 = 1;

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
    /// Writes and syncs the files handed to it; started by the first one.
    writer: Option<Writer>,
    /// Shards being read ahead, each by a thread of its own.
    ahead: Mutex<HashMap<ShardId, JoinHandle<Option<Vec<u8>>>>>,
}

/// Threads that write ([`crate::direct`]) and sync files, and stop at the first
/// error: the encoder only copies each file's bytes to them. Several, so
/// that the device has several writes in flight.
struct Writer {
    files: SyncSender<(PathBuf, Staged)>,
    /// Buffers handed back for the next files (in a mutex: a `ShardDir` is
    /// also a `Sync` shard source).
    spare: Mutex<Receiver<Vec<u8>>>,
    threads: Vec<JoinHandle<Result<(), ShardDirError>>>,
}

impl Writer {
    fn spawn(root: &Path) -> Result<Self, ShardDirError> {
        let (files, written) = sync_channel::<(PathBuf, Staged)>(UNSYNCED_FILES);
        let written = Arc::new(Mutex::new(written));
        let (give, spare) = sync_channel(UNSYNCED_FILES + WRITERS);
        let mut threads = Vec::with_capacity(WRITERS);
        for _ in 0..WRITERS {
            let written = written.clone();
            let give = give.clone();
            let thread = std::thread::Builder::new()
                .name("shard-write".into())
                .spawn(move || {
                    let mut writer = DirectWriter::new();
                    loop {
                        // A poisoned lock means another writer failed: stop.
                        let next = match written.lock() {
                            Ok(files) => files.recv(),
                            Err(_) => return Ok(()),
                        };
                        let Ok((path, staged)) = next else {
                            return Ok(());
                        };
                        let file = writer.write(&path, &staged).map_err(io_error(&path))?;
                        file.sync_all().map_err(io_error(&path))?;
                        let _ = give.try_send(staged.into_buffer());
                    }
                })
                .map_err(io_error(root))?;
            threads.push(thread);
        }
        Ok(Writer {
            files,
            spare: Mutex::new(spare),
            threads,
        })
    }

    /// Waits until every file sent is written and synced; the first error.
    fn finish(self) -> Result<(), ShardDirError> {
        drop(self.files);
        let mut result = Ok(());
        for thread in self.threads {
            let done = thread
                .join()
                .expect("the writing threads do not panic; qed");
            if result.is_ok() {
                result = done;
            }
        }
        result
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
        Ok(ShardDir::at(root))
    }

    fn at(root: &Path) -> Self {
        ShardDir {
            root: root.to_path_buf(),
            writer: None,
            ahead: Mutex::new(HashMap::new()),
        }
    }

    /// Opens an object directory and reads its manifest.
    pub fn open(root: &Path) -> Result<(Self, Manifest), ShardDirError> {
        let path = root.join(MANIFEST_FILE);
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        let manifest = Manifest::from_bytes(&bytes)
            .map_err(|source| ShardDirError::Manifest { path, source })?;
        Ok((ShardDir::at(root), manifest))
    }

    /// Hands a file's bytes to the writing thread, which writes it in place
    /// and syncs it: no temporary name is needed, as nothing reads the
    /// directory's files before the manifest, which comes after they are
    /// synced.
    fn write_unsynced(&mut self, path: PathBuf, bytes: &[u8]) -> Result<(), ShardDirError> {
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => self.writer.insert(Writer::spawn(&self.root)?),
        };
        let spare = writer.spare.get_mut().ok().and_then(|s| s.try_recv().ok());
        let staged = Staged::new(spare.unwrap_or_default(), bytes);
        if writer.files.send((path, staged)).is_err() {
            let writer = self.writer.take().expect("matched above; qed");
            return Err(writer
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
        if let Some(writer) = self.writer.take() {
            writer.finish()?;
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

    /// The shards read at once, so that the disk has several reads in
    /// flight, and the same shards of the next segments read ahead while
    /// these are decoded (a shard past the object's end is simply not
    /// found).
    fn shards(&self, segment: u32, indices: &[u8]) -> Vec<Option<Vec<u8>>> {
        let reads: Vec<_> = {
            let mut ahead = self.ahead.lock().unwrap_or_else(|e| e.into_inner());
            // Only the shards of this segment and the next are kept: others
            // were read ahead for a decoder that went elsewhere.
            let window = segment..=segment.saturating_add(READ_AHEAD);
            ahead.retain(|id, _| window.contains(&id.segment));
            let read = |id: ShardId| {
                let path = self.shard_path(id);
                std::thread::spawn(move || fs::read(path).ok())
            };
            let reads = indices
                .iter()
                .map(|&index| ShardId { segment, index })
                .map(|id| ahead.remove(&id).unwrap_or_else(|| read(id)))
                .collect();
            for next in segment.saturating_add(1)..=segment.saturating_add(READ_AHEAD) {
                for &index in indices {
                    let id = ShardId {
                        segment: next,
                        index,
                    };
                    ahead.entry(id).or_insert_with(|| read(id));
                }
            }
            reads
        };
        reads
            .into_iter()
            .map(|read| read.join().ok().flatten())
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shard_bytes(segment: u32, index: u8) -> Vec<u8> {
        (0..5000)
            .map(|i| (i as u32 ^ (segment * 7) ^ u32::from(index)) as u8)
            .collect()
    }

    #[test]
    fn shards_read_ahead_are_the_files_in_any_order_and_missing_ones_stay_missing() {
        let dir = tempfile::tempdir().unwrap();
        let shards = ShardDir::at(dir.path());
        for segment in 0..4 {
            for index in 0..3 {
                fs::write(
                    shards.shard_path(ShardId { segment, index }),
                    shard_bytes(segment, index),
                )
                .unwrap();
            }
        }
        fs::remove_file(shards.shard_path(ShardId {
            segment: 2,
            index: 1,
        }))
        .unwrap();
        let expect = |segment: u32, indices: &[u8]| -> Vec<Option<Vec<u8>>> {
            indices
                .iter()
                .map(|&index| segment < 4 && (segment, index) != (2, 1))
                .zip(indices)
                .map(|(present, &index)| present.then(|| shard_bytes(segment, index)))
                .collect()
        };
        // In order (each read ahead by the one before), past the end, then
        // back to the start and other indices.
        for (segment, indices) in [
            (0, &[0, 1][..]),
            (1, &[0, 1]),
            (2, &[0, 1]),
            (3, &[0, 1, 2]),
            (4, &[0]),
            (0, &[2]),
            (2, &[1, 2]),
        ] {
            let read = shards.shards(segment, indices);
            assert!(
                read == expect(segment, indices),
                "segment {segment} {indices:?}"
            );
        }
        let ahead = shards.ahead.lock().unwrap();
        // The shards of the segment after the last read, no others.
        let mut kept: Vec<_> = ahead.keys().map(|id| (id.segment, id.index)).collect();
        kept.sort();
        assert_eq!(kept, [(3, 1), (3, 2)]);
    }
}
