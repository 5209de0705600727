//! Shard stores that live in memory: a full one for tests, caches and
//! benchmarks, and one that keeps nothing, for computing a manifest (CID and
//! shard roots) without storing anything.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;

use crate::manifest::ShardId;
use crate::pipeline::{ShardSink, ShardSource};

/// Every shard in a map.
#[derive(Default)]
pub struct MemoryShards(Mutex<HashMap<ShardId, Vec<u8>>>);

impl MemoryShards {
    /// The shards, to inspect or damage them.
    pub fn shards_mut(&mut self) -> &mut HashMap<ShardId, Vec<u8>> {
        self.0
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ShardSink for MemoryShards {
    type Error = Infallible;

    fn put_shard(&mut self, id: ShardId, shard: &[u8]) -> Result<(), Infallible> {
        self.shards_mut().insert(id, shard.to_vec());
        Ok(())
    }
}

impl ShardSource for MemoryShards {
    fn shard(&self, id: ShardId) -> Option<Vec<u8>> {
        let shards = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shards.get(&id).cloned()
    }
}

/// Keeps no shard.
pub struct DiscardShards;

impl ShardSink for DiscardShards {
    type Error = Infallible;

    fn put_shard(&mut self, _: ShardId, _: &[u8]) -> Result<(), Infallible> {
        Ok(())
    }
}
