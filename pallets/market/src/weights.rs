//! Weights of the market's calls and hooks.
//!
//! Provisional: counted reads and writes (per shard where calls loop over
//! shards) priced with the runtime's database weights, plus a fixed execution
//! cost. To be replaced by figures from `frame-benchmarking` runs (issue 3).

use polkadot_sdk::frame_support::weights::{constants::RocksDbWeight, Weight};

/// Weight functions of the market.
pub trait WeightInfo {
    /// `store` with `n` shards.
    fn store(n: u32) -> Weight;
    /// `confirm`.
    fn confirm() -> Weight;
    /// `extend` of an order with `n` shards.
    fn extend(n: u32) -> Weight;
    /// `delete` of an order with `n` shards.
    fn delete(n: u32) -> Weight;
    /// `claim` over an order with `n` shards.
    fn claim(n: u32) -> Weight;
    /// The block hook: `ended` orders closed, `repaired` shards moved.
    fn on_initialize(ended: u32, repaired: u32) -> Weight;
}

fn cost(reads: u64, writes: u64) -> Weight {
    Weight::from_parts(20_000_000, 8_000)
        .saturating_add(RocksDbWeight::get().reads_writes(reads, writes))
}

/// Upper bound of shards in one order, for calls whose last step touches all.
const SHARDS_BOUND: u64 = 4_096;

impl WeightInfo for () {
    fn store(n: u32) -> Weight {
        cost(8 + 3 * u64::from(n), 8 + 4 * u64::from(n))
    }
    fn confirm() -> Weight {
        cost(4, 4)
    }
    fn extend(n: u32) -> Weight {
        cost(4 + u64::from(n), 4)
    }
    fn delete(n: u32) -> Weight {
        cost(4 + 6 * u64::from(n), 4 + 6 * u64::from(n))
    }
    fn claim(n: u32) -> Weight {
        cost(2 + 3 * u64::from(n), 2 + 3 * u64::from(n))
    }
    fn on_initialize(ended: u32, repaired: u32) -> Weight {
        cost(
            2 + 6 * SHARDS_BOUND * u64::from(ended) + 12 * u64::from(repaired),
            2 + 6 * SHARDS_BOUND * u64::from(ended) + 10 * u64::from(repaired),
        )
    }
}
