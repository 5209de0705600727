//! Weights of the market's calls and block hook.
//!
//! Measured, not estimated: the benchmarks in `benchmarking.rs`, run natively
//! on the benchmarking state by `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 20 10` (20 steps per
//! component, 10 repeats) on a 2-core AMD EPYC VM, 2026-11-22. Time is in
//! picoseconds; each figure bounds both the least-squares fit and the
//! median measured at either end of the range. Reads and writes are the
//! distinct keys counted, priced as RocksDB accesses (see
//! [`pallet_mosaic_providers::weights::measured`]).
//!
//! `n` is an order's shard count and `r` the shards a repair pass moves.

use pallet_mosaic_providers::weights::measured;
use polkadot_sdk::frame_support::weights::Weight;

/// Weight functions of the market.
pub trait WeightInfo {
    /// `store` of `n` shards, among as many providers as may register.
    fn store(n: u32) -> Weight;
    /// `confirm`, the last one of an order.
    fn confirm() -> Weight;
    /// `extend` of an order with `n` shards.
    fn extend(n: u32) -> Weight;
    /// `delete` of an order with `n` shards.
    fn delete(n: u32) -> Weight;
    /// `claim` over an order with `n` shards.
    fn claim(n: u32) -> Weight;
    /// The block hook ending one order of `n` shards.
    fn end(n: u32) -> Weight;
    /// The block hook's repair pass moving `r` shards.
    fn repair(r: u32) -> Weight;
}

impl WeightInfo for () {
    fn store(n: u32) -> Weight {
        let n = u64::from(n);
        measured(3_252_217_000 + 14_937_171 * n, 1_027 + n, 4 + 4 * n)
    }
    fn confirm() -> Weight {
        // Measured on an order of `MaxShardsPerOrder` shards, the largest.
        measured(64_968_000, 4, 4)
    }
    fn extend(n: u32) -> Weight {
        let n = u64::from(n);
        measured(38_658_000 + 2_528_293 * n, 4 + n, 4)
    }
    fn delete(n: u32) -> Weight {
        let n = u64::from(n);
        measured(251_076_000 + 51_298_155 * n, 13 + 5 * n, 13 + 5 * n)
    }
    fn claim(n: u32) -> Weight {
        // The claimant holds at most one shard of each segment of two or
        // more: half the shards, each written back.
        let n = u64::from(n);
        measured(40_290_000 + 9_429_937 * n, 4 + n, 3 + n.div_ceil(2))
    }
    fn end(n: u32) -> Weight {
        let n = u64::from(n);
        measured(222_824_000 + 44_855_526 * n, 4 + 5 * n, 4 + 5 * n)
    }
    fn repair(r: u32) -> Weight {
        if r == 0 {
            // Nothing queued: the queue is read and put back.
            return measured(0, 1, 1);
        }
        // Every move reads every provider's offer (time per move); the keys
        // are the same each time, so the database reads count once.
        let r = u64::from(r);
        measured(576_427_811 + 2_563_949_917 * r, 1_026 + 5 * r, 3 + 6 * r)
    }
}
