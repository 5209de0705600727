//! Shard stores that live in memory: a full one for tests, caches and
//! benchmarks, and one that keeps nothing, for computing a manifest (CID and
//! piece roots) without storing anything.

use std::collections::HashMap;
use std::convert::Infallible;

use crate::manifest::ShardId;
use crate::merkle::ShardRoot;
use crate::pipeline::{ShardSink, ShardSource};

/// Every shard and every piece's shard-root list in maps.
#[derive(Default)]
pub struct MemoryShards {
    shards: HashMap<ShardId, Vec<u8>>,
    shard_roots: HashMap<u8, Vec<ShardRoot>>,
}

impl MemoryShards {
    /// The shards, to inspect or damage them.
    pub fn shards_mut(&mut self) -> &mut HashMap<ShardId, Vec<u8>> {
        &mut self.shards
    }

    /// The shard-root lists by piece, to inspect or damage them.
    pub fn shard_roots_mut(&mut self) -> &mut HashMap<u8, Vec<ShardRoot>> {
        &mut self.shard_roots
    }
}

impl ShardSink for MemoryShards {
    type Error = Infallible;

    fn put_shard(&mut self, id: ShardId, shard: &[u8]) -> Result<(), Infallible> {
        self.shards.insert(id, shard.to_vec());
        Ok(())
    }

    fn put_shard_roots(&mut self, piece: u8, roots: &[ShardRoot]) -> Result<(), Infallible> {
        self.shard_roots.insert(piece, roots.to_vec());
        Ok(())
    }
}

impl ShardSource for MemoryShards {
    fn shard(&self, id: ShardId) -> Option<Vec<u8>> {
        self.shards.get(&id).cloned()
    }

    fn shard_roots(&self, piece: u8) -> Option<Vec<ShardRoot>> {
        self.shard_roots.get(&piece).cloned()
    }
}

/// Keeps no shard and no list.
pub struct DiscardShards;

impl ShardSink for DiscardShards {
    type Error = Infallible;

    fn put_shard(&mut self, _: ShardId, _: &[u8]) -> Result<(), Infallible> {
        Ok(())
    }

    fn put_shard_roots(&mut self, _: u8, _: &[ShardRoot]) -> Result<(), Infallible> {
        Ok(())
    }
}
