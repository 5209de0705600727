//! Weights of the provider registry's calls.
//!
//! Measured on 2026-11-28 with `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 20 10` (the
//! benchmarks in `benchmarking.rs`, run natively on the runtime's
//! benchmarking state: 10,240 providers, the sampling index's Fenwick path
//! at its longest), on 2 cores shared with a build, so the times are upper
//! bounds; rounded up by about 10 %. Most of the time is reading the state
//! trie without a cache (see the README's *Measured*). Time is in
//! picoseconds; reads and writes are distinct keys priced as RocksDB
//! accesses on top (see [`measured`]).

use polkadot_sdk::frame_support::weights::{constants::RocksDbWeight, Weight};

/// Weight functions of the provider registry.
pub trait WeightInfo {
    /// `register`.
    fn register() -> Weight;
    /// `update`.
    fn update() -> Weight;
    /// `unbond`.
    fn unbond() -> Weight;
    /// `withdraw`.
    fn withdraw() -> Weight;
}

/// `time` picoseconds of execution on the benchmarking state plus `reads`
/// and `writes` of distinct keys, priced as RocksDB accesses. Proof size is
/// zero: a solo chain has no proof of validity to bound.
pub fn measured(time: u64, reads: u64, writes: u64) -> Weight {
    Weight::from_parts(time, 0).saturating_add(RocksDbWeight::get().reads_writes(reads, writes))
}

impl WeightInfo for () {
    fn register() -> Weight {
        measured(10_700_000_000, 17, 18)
    }
    fn update() -> Weight {
        measured(11_100_000_000, 17, 17)
    }
    fn unbond() -> Weight {
        measured(9_200_000_000, 18, 17)
    }
    fn withdraw() -> Weight {
        measured(8_600_000_000, 33, 34)
    }
}
