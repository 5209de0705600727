//! Weights of the names pallet's calls.
//!
//! Measured on 2026-12-05 with `cargo run -p mosaic-runtime --features
//! runtime-benchmarks --example benchmark -- 20 10 names` (the benchmarks in
//! `benchmarking.rs`, run natively on the runtime's benchmarking state: 64
//! names an owner, 64 versions a name), twice, on 2 cores shared with
//! another engineer's work. A debug build: its dependencies (the trie,
//! hashing, codecs) are optimised as in the release profile, this pallet
//! and the runtime are not, so the times are upper bounds; rounded up by
//! about 15 %. Time is in picoseconds; reads and writes are distinct keys
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
        // Measured 0.134 ms; 3 reads (the record, the index, the holds),
        // 3 writes.
        measured(155_000_000, 3, 3)
    }
    fn set() -> Weight {
        // Measured 0.129 ms; 4 reads (the record, the latest and the
        // oldest version, the holds), 4 writes.
        measured(150_000_000, 4, 4)
    }
    fn transfer() -> Weight {
        // Measured 0.196 ms; 6 reads (the record, both indexes, both
        // accounts' holds, the recipient's account), 6 writes.
        measured(225_000_000, 6, 6)
    }
    fn release(v: u32) -> Weight {
        // Measured 0.098 ms + 1.36 µs per version (0.197 ms at v = 64);
        // 3 reads, 3 + v writes.
        let v = u64::from(v);
        measured(120_000_000 + 1_600_000 * v, 3, 3 + v)
    }
}
