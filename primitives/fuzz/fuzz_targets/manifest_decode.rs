//! Any bytes either decode to a manifest that re-encodes to the same bytes
//! (to the same manifest, for an older version) and whose layout is
//! consistent, or give an error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mosaic_primitives::manifest::Manifest;
use mosaic_primitives::piece::{self, Layout};

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = Manifest::from_bytes(data) else {
        return;
    };
    // One manifest, one byte string in the current version; an older
    // version reads as the same manifest written anew.
    let bytes = manifest.to_bytes();
    if data[0] == bytes[0] {
        assert_eq!(bytes, data);
    } else {
        assert_eq!(Manifest::from_bytes(&bytes).ok().as_ref(), Some(&manifest));
    }
    let pieces = manifest.coding.total_shards();
    assert_eq!(manifest.piece_roots.len(), pieces);
    assert!(manifest.piece_root(pieces as u8).is_none());
    assert!(manifest.stored_size() <= Layout::max_stored_size(&manifest.coding));
    let Some(layout) = manifest.layout() else {
        // Only an empty public file has no segments, and its pieces are empty.
        assert!(manifest.encryption.is_none() && manifest.size == 0);
        assert_eq!(manifest.segment_count(), 0);
        assert!(manifest
            .piece_roots
            .iter()
            .all(|r| *r == piece::piece_root(&[])));
        return;
    };
    assert_eq!(layout.segment_count(), manifest.segment_count());
    assert_eq!(usize::from(layout.piece_count()), pieces);
    // Look at the first and last segments only: there may be 2^20 of them.
    let last = manifest.segment_count() - 1;
    let mut end = 0;
    for index in [0, last] {
        let segment = manifest.segment(index);
        assert!(segment.len > 0 && segment.len <= manifest.coding.segment_size as usize);
        assert!(segment.shard_size * usize::from(manifest.coding.data_shards) >= segment.len);
        assert_eq!(segment.shard_size, layout.shard_size(index));
        end = segment.offset + segment.len as u64;
    }
    assert_eq!(end, manifest.stored_size());
});
