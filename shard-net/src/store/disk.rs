//! Pieces on disk, one data file and one metadata file each:
//!
//! ```text
//! <dir>/partial/<root>.meta  <root>.data   being uploaded
//! <dir>/pieces/<root>.data   <root>.meta   held
//! ```
//!
//! Every shard is fsynced before it is acknowledged, so an upload resumes
//! from the last acknowledged segment after a crash (bytes past it are cut
//! off). The last shard moves the data into `pieces/` (fsync, rename, fsync
//! of the directory) and only then writes its metadata there: a piece is
//! held exactly when `pieces/<root>.meta` exists, and a crash between the
//! two steps is finished by the next `begin`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mosaic_primitives::piece::{Layout, PieceRoot};
use parity_scale_codec::{Decode, Encode};

use super::{check_append, check_range, PieceMeta, ShardStore, StoreError};

/// Pieces under one directory.
pub struct DiskStore {
    partial: PathBuf,
    held: PathBuf,
    /// Partial pieces begun since the store opened: their metadata and next
    /// segment. Appends hold the lock, so a piece's segments are written
    /// one at a time.
    uploads: Mutex<HashMap<PieceRoot, (PieceMeta, Layout, u32)>>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn name(root: &PieceRoot, extension: &str) -> String {
    format!("{}.{extension}", hex::encode(root.0))
}

/// Writes `bytes` to `path` so that a crash leaves the old file or the new
/// one: a temporary file, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(path)
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

fn read_meta(path: &Path, root: &PieceRoot) -> Result<Option<(PieceMeta, Layout)>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => {
            let meta =
                PieceMeta::decode(&mut &bytes[..]).map_err(|_| StoreError::Corrupt(*root))?;
            let layout = meta.layout().map_err(|_| StoreError::Corrupt(*root))?;
            Ok(Some((meta, layout)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

/// The pieces with a file ending in `.{extension}` (any file if empty) in
/// `dirs`, sorted, once each.
fn roots_in(dirs: &[&Path], extension: &str) -> Result<Vec<PieceRoot>, StoreError> {
    let mut roots = Vec::new();
    for dir in dirs {
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let file = entry.map_err(io(dir))?.file_name();
            let Some((stem, ext)) = file.to_str().and_then(|f| f.split_once('.')) else {
                continue;
            };
            let mut root = [0u8; 32];
            if (extension.is_empty() || ext == extension)
                && hex::decode_to_slice(stem, &mut root).is_ok()
            {
                roots.push(PieceRoot(root));
            }
        }
    }
    roots.sort();
    roots.dedup();
    Ok(roots)
}

impl DiskStore {
    /// Opens (creating) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let partial = dir.join("partial");
        let held = dir.join("pieces");
        fs::create_dir_all(&partial).map_err(io(&partial))?;
        fs::create_dir_all(&held).map_err(io(&held))?;
        Ok(DiskStore {
            partial,
            held,
            uploads: Mutex::new(HashMap::new()),
        })
    }

    fn uploads(&self) -> std::sync::MutexGuard<'_, HashMap<PieceRoot, (PieceMeta, Layout, u32)>> {
        self.uploads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves a complete partial piece into `pieces/`, then its metadata.
    fn finish(&self, root: &PieceRoot, meta: &PieceMeta) -> Result<(), StoreError> {
        let data = self.held.join(name(root, "data"));
        let partial_data = self.partial.join(name(root, "data"));
        if partial_data.exists() {
            fs::rename(&partial_data, &data).map_err(io(&data))?;
            sync_dir(&data)?;
        }
        write_atomic(&self.held.join(name(root, "meta")), &meta.encode())?;
        remove_if_present(&self.partial.join(name(root, "meta")))
    }
}

impl ShardStore for DiskStore {
    fn begin(&self, root: &PieceRoot, meta: &PieceMeta) -> Result<u32, StoreError> {
        let layout = meta.layout().map_err(|_| StoreError::Corrupt(*root))?;
        let count = layout.segment_count();
        let mut uploads = self.uploads();
        if self.held.join(name(root, "meta")).exists() {
            return Ok(count);
        }
        if self.held.join(name(root, "data")).exists() {
            // A crash after the data moved and before its metadata did.
            self.finish(root, meta)?;
            return Ok(count);
        }
        let meta_path = self.partial.join(name(root, "meta"));
        let data_path = self.partial.join(name(root, "data"));
        let next = match read_meta(&meta_path, root)? {
            Some((stored, _)) if stored == *meta => {
                // Keep the whole segments that were acknowledged.
                let len = fs::metadata(&data_path).map(|m| m.len()).unwrap_or(0);
                let next = (0..count)
                    .take_while(|&s| layout.shard_offset(s + 1) <= len)
                    .count() as u32;
                let keep = layout.shard_offset(next);
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&data_path)
                    .and_then(|f| f.set_len(keep))
                    .map_err(io(&data_path))?;
                next
            }
            _ => {
                write_atomic(&meta_path, &meta.encode())?;
                File::create(&data_path).map_err(io(&data_path))?;
                0
            }
        };
        if next == count {
            self.finish(root, meta)?;
        } else {
            uploads.insert(*root, (meta.clone(), layout, next));
        }
        Ok(next)
    }

    fn append(&self, root: &PieceRoot, segment: u32, shard: &[u8]) -> Result<u32, StoreError> {
        let mut uploads = self.uploads();
        let (meta, layout, next) = uploads.get(root).ok_or(StoreError::NotFound(*root))?;
        check_append(root, meta, *next, segment, shard)?;
        let data_path = self.partial.join(name(root, "data"));
        let file = OpenOptions::new()
            .write(true)
            .open(&data_path)
            .map_err(io(&data_path))?;
        file.write_all_at(shard, layout.shard_offset(segment))
            .and_then(|()| file.sync_data())
            .map_err(io(&data_path))?;
        let next = segment + 1;
        if next == layout.segment_count() {
            let (meta, _, _) = uploads.remove(root).expect("looked up above; qed");
            self.finish(root, &meta)?;
        } else if let Some(entry) = uploads.get_mut(root) {
            entry.2 = next;
        }
        Ok(next)
    }

    fn meta(&self, root: &PieceRoot) -> Result<Option<PieceMeta>, StoreError> {
        Ok(read_meta(&self.held.join(name(root, "meta")), root)?.map(|(meta, _)| meta))
    }

    fn read(&self, root: &PieceRoot, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        let meta = self.meta(root)?.ok_or(StoreError::NotFound(*root))?;
        check_range(root, &meta, offset, len)?;
        let path = self.held.join(name(root, "data"));
        let mut bytes = vec![0; len];
        File::open(&path)
            .and_then(|f| f.read_exact_at(&mut bytes, offset))
            .map_err(io(&path))?;
        Ok(bytes)
    }

    fn remove(&self, root: &PieceRoot) -> Result<(), StoreError> {
        let mut uploads = self.uploads();
        uploads.remove(root);
        // The metadata goes first: a crash in between leaves data that is
        // not held, which `pieces` does not list.
        for dir in [&self.held, &self.partial] {
            for extension in ["meta", "data", "tmp"] {
                remove_if_present(&dir.join(name(root, extension)))?;
            }
        }
        Ok(())
    }

    fn pieces(&self) -> Result<Vec<PieceRoot>, StoreError> {
        roots_in(&[&self.held], "meta")
    }

    fn roots(&self) -> Result<Vec<PieceRoot>, StoreError> {
        roots_in(&[&self.held, &self.partial], "")
    }

    fn bytes_of(&self, root: &PieceRoot) -> Result<u64, StoreError> {
        let mut bytes = 0;
        for dir in [&self.held, &self.partial] {
            let path = dir.join(name(root, "data"));
            match fs::metadata(&path) {
                Ok(meta) => bytes += meta.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Ok(bytes)
    }

    fn used(&self) -> Result<u64, StoreError> {
        let mut used = 0;
        for dir in [&self.held, &self.partial] {
            for entry in fs::read_dir(dir).map_err(io(dir))? {
                let entry = entry.map_err(io(dir))?;
                if entry
                    .file_name()
                    .to_str()
                    .is_some_and(|f| f.ends_with(".data"))
                {
                    used += entry.metadata().map_err(io(dir))?.len();
                }
            }
        }
        Ok(used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::sample_piece;

    #[test]
    fn a_crash_mid_upload_resumes_at_the_last_whole_segment_and_one_mid_finish_completes() {
        let dir = tempfile::tempdir().unwrap();
        let (root, meta, shards) = sample_piece();
        {
            let store = DiskStore::open(dir.path()).unwrap();
            store.begin(&root, &meta).unwrap();
            store.append(&root, 0, &shards[0]).unwrap();
        }
        // Half of segment 1 reached the disk before the crash.
        let data = dir.path().join("partial").join(name(&root, "data"));
        let mut file = OpenOptions::new().append(true).open(&data).unwrap();
        file.write_all(&shards[1][..1000]).unwrap();
        drop(file);

        let store = DiskStore::open(dir.path()).unwrap();
        assert_eq!(
            store.append(&root, 1, &shards[1]).unwrap_err().to_string(),
            StoreError::NotFound(root).to_string()
        );
        assert_eq!(store.begin(&root, &meta).unwrap(), 1);
        store.append(&root, 1, &shards[1]).unwrap();
        store.append(&root, 2, &shards[2]).unwrap();
        assert_eq!(read_shard_bytes(&store, &root), shards.concat());

        // A crash after the data moved and before the metadata was written.
        fs::remove_file(dir.path().join("pieces").join(name(&root, "meta"))).unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        assert!(store.pieces().unwrap().is_empty());
        assert_eq!(store.begin(&root, &meta).unwrap(), 3);
        assert_eq!(store.pieces().unwrap(), vec![root]);
        assert_eq!(read_shard_bytes(&store, &root), shards.concat());

        // Damaged metadata is an error, not a panic.
        fs::write(dir.path().join("pieces").join(name(&root, "meta")), b"junk").unwrap();
        assert!(matches!(store.meta(&root), Err(StoreError::Corrupt(_))));
    }

    fn read_shard_bytes(store: &DiskStore, root: &PieceRoot) -> Vec<u8> {
        let size = store
            .meta(root)
            .unwrap()
            .unwrap()
            .layout()
            .unwrap()
            .piece_size();
        store.read(root, 0, size as usize).unwrap()
    }
}
