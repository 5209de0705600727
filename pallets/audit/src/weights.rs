//! Weights of the audit pallet's call and block hook.
//!
//! Reads and writes are counted by the benchmarks in `benchmarking.rs` run
//! natively on the runtime's benchmarking state. **The times are
//! provisional**: the release run of 2026-11-22 (shard proofs, one hook at
//! each period's start) scaled for the longer piece proof and the holder
//! list; measure them again with `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 20 10`. Time is in
//! picoseconds; reads and writes are distinct keys priced as RocksDB
//! accesses (see [`pallet_mosaic_providers::weights::measured`]).

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
        measured(120_000_000, 21, 20)
    }
    fn on_initialize(h: u32) -> Weight {
        let h = u64::from(h);
        // Each visit: the holder, its challenge, a slash and ejection (the
        // provider's weight moves along a Fenwick path), and the draw.
        measured(700_000_000 + 150_000_000 * h, 34 + 9 * h, 27 + 7 * h)
    }
}
