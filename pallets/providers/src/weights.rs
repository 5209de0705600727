//! Weights of the provider registry's calls.
//!
//! The reads and writes are counted by the benchmarks in `benchmarking.rs`
//! run natively on the runtime's benchmarking state (the sampling index's
//! Fenwick path at its longest in a registry of 8,192 or more providers).
//! **The times are provisional**: the release run of 2026-11-22 (before the
//! sampling index) doubled for the index's hashing and writes; measure them
//! again with `cargo run --release -p mosaic-runtime --features
//! runtime-benchmarks --example benchmark -- 20 10`. Time is in
//! picoseconds; reads and writes are distinct keys priced as RocksDB
//! accesses (see [`measured`]).

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
        measured(60_000_000, 17, 18)
    }
    fn update() -> Weight {
        measured(64_000_000, 17, 17)
    }
    fn unbond() -> Weight {
        measured(16_000_000, 18, 17)
    }
    fn withdraw() -> Weight {
        measured(48_000_000, 33, 34)
    }
}
