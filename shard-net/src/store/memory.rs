//! Pieces in memory, for tests and caches.

use std::collections::HashMap;
use std::sync::Mutex;

use mosaic_primitives::piece::PieceRoot;

use super::{check_append, check_range, PieceMeta, ShardStore, StoreError};

struct Entry {
    meta: PieceMeta,
    bytes: Vec<u8>,
    next: u32,
    held: bool,
}

/// Every piece in a map.
#[derive(Default)]
pub struct MemoryStore {
    pieces: Mutex<HashMap<PieceRoot, Entry>>,
}

impl MemoryStore {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<PieceRoot, Entry>) -> R) -> R {
        f(&mut self.pieces.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ShardStore for MemoryStore {
    fn begin(&self, root: &PieceRoot, meta: &PieceMeta) -> Result<u32, StoreError> {
        self.with(|pieces| {
            let entry = pieces.entry(*root).or_insert_with(|| Entry {
                meta: meta.clone(),
                bytes: Vec::new(),
                next: 0,
                held: false,
            });
            Ok(entry.next)
        })
    }

    fn append(&self, root: &PieceRoot, segment: u32, shard: &[u8]) -> Result<u32, StoreError> {
        self.with(|pieces| {
            let entry = pieces.get_mut(root).ok_or(StoreError::NotFound(*root))?;
            let layout = check_append(root, &entry.meta, entry.next, segment, shard)?;
            entry.bytes.extend_from_slice(shard);
            entry.next += 1;
            entry.held = entry.next == layout.segment_count();
            Ok(entry.next)
        })
    }

    fn meta(&self, root: &PieceRoot) -> Result<Option<PieceMeta>, StoreError> {
        Ok(self.with(|pieces| pieces.get(root).filter(|e| e.held).map(|e| e.meta.clone())))
    }

    fn read(&self, root: &PieceRoot, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        self.with(|pieces| {
            let entry = pieces
                .get(root)
                .filter(|e| e.held)
                .ok_or(StoreError::NotFound(*root))?;
            check_range(root, &entry.meta, offset, len)?;
            Ok(entry.bytes[offset as usize..offset as usize + len].to_vec())
        })
    }

    fn remove(&self, root: &PieceRoot) -> Result<(), StoreError> {
        self.with(|pieces| pieces.remove(root));
        Ok(())
    }

    fn pieces(&self) -> Result<Vec<PieceRoot>, StoreError> {
        Ok(self.with(|pieces| {
            pieces
                .iter()
                .filter(|(_, e)| e.held)
                .map(|(root, _)| *root)
                .collect()
        }))
    }

    fn roots(&self) -> Result<Vec<PieceRoot>, StoreError> {
        let mut roots: Vec<_> = self.with(|pieces| pieces.keys().copied().collect());
        roots.sort();
        Ok(roots)
    }

    fn bytes_of(&self, root: &PieceRoot) -> Result<u64, StoreError> {
        Ok(self.with(|pieces| pieces.get(root).map_or(0, |e| e.bytes.len() as u64)))
    }

    fn used(&self) -> Result<u64, StoreError> {
        Ok(self.with(|pieces| pieces.values().map(|e| e.bytes.len() as u64).sum()))
    }
}
