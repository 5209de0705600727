//! A stored object as a directory: `manifest.bin` plus one file per shard,
//! named `SSSSSS-II.shard` (segment, index).
//!
//! Writes are crash-safe: every file is written to a temporary name, synced,
//! and renamed into place, and the manifest is written last, so a directory
//! with a manifest holds every shard it names (until something damages them,
//! which decoding detects shard by shard).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use mosaic_primitives::manifest::{Manifest, ManifestError, ShardId};
use mosaic_primitives::pipeline::{ShardSink, ShardSource};

/// File name of the manifest inside an object directory.
pub const MANIFEST_FILE: &str = "manifest.bin";

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
        };
        Ok((dir, manifest))
    }

    /// Path of one shard's file.
    pub fn shard_path(&self, id: ShardId) -> PathBuf {
        self.root
            .join(format!("{:06}-{:02}.shard", id.segment, id.index))
    }

    /// Writes the manifest (last, after every shard) and fsyncs the directory.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<(), ShardDirError> {
        write_atomic(&self.root.join(MANIFEST_FILE), &manifest.to_bytes())?;
        File::open(&self.root)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error(&self.root))
    }
}

impl ShardSink for ShardDir {
    type Error = ShardDirError;

    fn put_shard(&mut self, id: ShardId, shard: &[u8]) -> Result<(), ShardDirError> {
        write_atomic(&self.shard_path(id), shard)
    }
}

impl ShardSource for ShardDir {
    fn shard(&self, id: ShardId) -> Option<Vec<u8>> {
        // A missing or unreadable shard is one the decoder does without.
        fs::read(self.shard_path(id)).ok()
    }
}
