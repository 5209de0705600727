//! Weights of the provider registry's calls.
//!
//! Measured, not estimated: the benchmarks in `benchmarking.rs`, run natively
//! on the benchmarking state by `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 20 10` (20 steps per
//! component, 10 repeats) on a 2-core AMD EPYC VM, 2026-11-22. Time is in
//! picoseconds; each figure bounds both the least-squares fit and the
//! median measured at either end of the range. Reads and writes are the
//! distinct keys counted, priced as RocksDB accesses (see
//! [`measured`]).

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
        measured(30_226_000, 3, 3)
    }
    fn update() -> Weight {
        measured(31_838_000, 2, 2)
    }
    fn unbond() -> Weight {
        measured(7_792_000, 2, 2)
    }
    fn withdraw() -> Weight {
        measured(23_535_000, 3, 3)
    }
}
