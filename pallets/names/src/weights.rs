//! Weights of the names pallet's calls.
//!
//! Measured on 2026-12-05 with `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 20 10 names` (the
//! benchmarks in `benchmarking.rs`, run natively on the runtime's
//! benchmarking state: 64 names an owner, 64 versions a name), twice, on 2
//! cores with other builds paused; the larger of the two runs, rounded up
//! by about 15 %. Time is in picoseconds; reads and writes are distinct keys
//! priced as RocksDB accesses on top (see
//! [`pallet_mosaic_providers::weights::measured`]), the caller's account
//! excluded as in every benchmark (the fee payment reads it anyway).

use pallet_mosaic_providers::weights::measured;
use polkadot_sdk::frame_support::weights::Weight;

/// Weight functions of the names pallet.
pub trait WeightInfo {
    /// `register`.
    fn register() -> Weight;
    /// `set`, dropping the oldest version.
    fn set() -> Weight;
    /// `transfer`.
    fn transfer() -> Weight;
    /// `release` of a name keeping `v` versions.
    fn release(v: u32) -> Weight;
}

impl WeightInfo for () {
    fn register() -> Weight {
        // Measured 37.2 µs; 3 reads (the record, the index, the holds),
        // 3 writes.
        measured(43_000_000, 3, 3)
    }
    fn set() -> Weight {
        // Measured 40.2 µs; 4 reads (the record, the latest and the
        // oldest version, the holds), 4 writes.
        measured(46_000_000, 4, 4)
    }
    fn transfer() -> Weight {
        // Measured 52.3 µs; 6 reads (the record, both indexes, both
        // accounts' holds, the recipient's account), 6 writes.
        measured(60_000_000, 6, 6)
    }
    fn release(v: u32) -> Weight {
        // Measured 29.3 µs + 0.71 µs per version (75.0 µs at v = 64);
        // 3 reads, 3 + v writes.
        let v = u64::from(v);
        measured(34_000_000 + 820_000 * v, 3, 3 + v)
    }
}
