//! Any bytes either decode to a manifest that re-encodes to the same bytes
//! and whose layout is consistent, or give an error; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mosaic_primitives::manifest::{Manifest, ShardId};

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = Manifest::from_bytes(data) else {
        return;
    };
    assert_eq!(manifest.to_bytes(), data);
    let per_segment = manifest.coding.total_shards();
    let mut roots = 0;
    for segment in manifest.segments() {
        assert!(segment.len <= manifest.coding.segment_size as usize);
        assert!(segment.shard_size * usize::from(manifest.coding.data_shards) >= segment.len);
        for index in 0..per_segment {
            let id = ShardId { segment: segment.index, index: index as u8 };
            assert!(manifest.shard_root(id).is_some());
            roots += 1;
        }
    }
    assert_eq!(roots, manifest.shard_roots.len());
});
