//! Weights of the audit pallet's call and block hook.
//!
//! Measured, not estimated: the benchmarks in `benchmarking.rs`, run natively
//! on the benchmarking state by `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 20 10` (20 steps per
//! component, 10 repeats) on a 2-core AMD EPYC VM, 2026-11-22. Time is in
//! picoseconds; each figure bounds both the least-squares fit and the
//! median measured at either end of the range. Reads and writes are the
//! distinct keys counted, priced as RocksDB accesses (see
//! [`pallet_mosaic_providers::weights::measured`]).

use pallet_mosaic_providers::weights::measured;
use polkadot_sdk::frame_support::weights::Weight;

/// Weight functions of the audit pallet.
pub trait WeightInfo {
    /// `submit_proof`, worst case (a failed proof slashes and ejects).
    fn submit_proof() -> Weight;
    /// The block hook at a period's start over `h` providers, each with a
    /// missed challenge closed and a new one drawn; `h` is 0 in other blocks.
    fn on_initialize(h: u32) -> Weight;
}

impl WeightInfo for () {
    fn submit_proof() -> Weight {
        measured(76_925_000, 5, 5)
    }
    fn on_initialize(h: u32) -> Weight {
        let h = u64::from(h);
        measured(632_378_000 + 93_195_412 * h, 5 + 8 * h, 2 + 5 * h)
    }
}
