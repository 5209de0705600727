//! Weights of the audit pallet's call and block hook.
//!
//! Measured on 2026-11-28 with `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 20 10 audit` (the
//! benchmarks in `benchmarking.rs`, 10,240 providers), on 2 cores shared
//! with a build, so the times are upper bounds. Each formula bounds both
//! the least-squares fit and the medians at the ends of the range. Time is
//! in picoseconds; reads and writes are distinct keys priced as RocksDB
//! accesses on top (see [`pallet_mosaic_providers::weights::measured`]).

use pallet_mosaic_providers::weights::measured;
use polkadot_sdk::frame_support::weights::Weight;

/// Weight functions of the audit pallet.
pub trait WeightInfo {
    /// `submit_proof`, worst case (a failed proof slashes and ejects).
    fn submit_proof() -> Weight;
    /// The block hook of a draw block visiting `h` holders, each with a
    /// missed challenge closed (slashed, ejected) and a new one drawn; `h`
    /// is 0 in other blocks.
    fn on_initialize(h: u32) -> Weight;
}

impl WeightInfo for () {
    fn submit_proof() -> Weight {
        // Measured 0.24 ms, 21 reads, 20 writes; plus the `Rewarded` tally
        // (added after measuring: one read, one write and 30 µs allowed).
        measured(295_000_000, 22, 21)
    }
    fn on_initialize(h: u32) -> Weight {
        let h = u64::from(h);
        // Each visit: the holder, its challenge, a slash and ejection (the
        // provider's weight moves along a Fenwick path), and the draw.
        // Measured 0.49 ms, 31 reads, 23 writes at h = 1; 471 ms, 11,675
        // reads, 8,519 writes at h = 1,024.
        measured(10_300_000_000 + 630_000_000 * h, 20 + 12 * h, 15 + 9 * h)
    }
}
