//! Weights of the audit pallet's call and block hook.
//!
//! Measured on 2026-11-29 with `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 10 4 audit` (the
//! benchmarks in `benchmarking.rs`, on the `dev` chain's state: 10,240
//! providers, each holding a 1 TiB piece, so that a visit draws 64
//! leaves), on 2 cores shared with a one-job build, so the times are upper
//! bounds. Each formula bounds both the least-squares fit and the medians
//! measured at the ends of each component's range. Time is in
//! picoseconds; reads and writes are distinct keys priced as RocksDB
//! accesses on top (see [`pallet_mosaic_providers::weights::measured`]).

use pallet_mosaic_providers::weights::measured;
use polkadot_sdk::frame_support::weights::Weight;

/// Weight functions of the audit pallet.
pub trait WeightInfo {
    /// `submit_proof` of `l` leaves, worst case (a failed proof slashes,
    /// moves the piece and ejects).
    fn submit_proof(l: u32) -> Weight;
    /// The block hook of a draw block visiting `h` holders and drawing `l`
    /// leaves in all, each holder with missed challenges closed, and
    /// stepping over `s` holders visited this period already; all 0 in
    /// other blocks.
    fn on_initialize(h: u32, l: u32, s: u32) -> Weight;
}

impl WeightInfo for () {
    fn submit_proof(l: u32) -> Weight {
        // Measured: 0.28 ms at l = 1, 0.70 ms at l = 64 (fit 0.28 ms +
        // 6.5 µs a leaf: a full-depth verification); 24 reads, 23 writes
        // (a failed last leaf: the slash, the tally, the ejection, the
        // piece queued to move).
        let l = u64::from(l);
        measured(300_000_000 + 6_600_000 * l, 25, 24)
    }
    fn on_initialize(h: u32, l: u32, s: u32) -> Weight {
        // Measured: 1.7 ms at h = 1, 2.67 s at h = 1,024 (fit 1.6 ms +
        // 2.58 ms a visit of 64 leaves, each visit closing an expired
        // challenge with a slash and an ejection; 1.55 ms a visit
        // remeasured with the tally); 38 + 13h reads, 35 + 9h writes
        // (17 + 14h and 14 + 10h with the tally, inside the formula). The benchmark's leaves fall on one piece a holder; leaves
        // on distinct pieces read more: each leaf is charged 12 reads (its
        // descent in the piece tree below the levels the holder's other
        // descents share, its slot and its order) and a write (its
        // challenge). A holder stepped over is two reads.
        let (h, l, s) = (u64::from(h), u64::from(l), u64::from(s));
        measured(
            1_700_000_000 + 1_000_000_000 * h + 30_000_000 * l + 20_000_000 * s,
            40 + 14 * h + 12 * l + 2 * s,
            36 + 10 * h + l,
        )
    }
}
