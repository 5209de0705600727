//! Weights of the market's calls and block hook.
//!
//! Measured on 2026-11-28 with `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 20 10` (the
//! benchmarks in `benchmarking.rs`: 10,240 providers, deadline lists
//! crowded), on 2 cores shared with a build, so the times are upper bounds.
//! Each formula bounds both the least-squares fit and the medians measured
//! at the ends of each component's range. Time is in picoseconds; reads and
//! writes are distinct keys priced as RocksDB accesses on top (see
//! [`pallet_mosaic_providers::weights::measured`]).
//!
//! `n` is an order's piece count (`k + m`), `r` the wrapped keys of `store`
//! and the pieces a repair pass moves. None grows with the object's size.

use pallet_mosaic_providers::weights::measured;
use polkadot_sdk::frame_support::weights::Weight;

/// Weight functions of the market.
pub trait WeightInfo {
    /// `store` of `n` pieces with `r` wrapped keys.
    fn store(n: u32, r: u32) -> Weight;
    /// `confirm`, the last one of an order.
    fn confirm() -> Weight;
    /// `extend` of an order with `n` pieces.
    fn extend(n: u32) -> Weight;
    /// `delete` of an order with `n` pieces.
    fn delete(n: u32) -> Weight;
    /// `share` of an order.
    fn share() -> Weight;
    /// The block hook ending one order of `n` pieces.
    fn end(n: u32) -> Weight;
    /// The block hook handling the confirm deadline of an order of `n`
    /// pieces none of which is confirmed: each provider slashed, the
    /// owner's share burnt, each piece queued to move, the order
    /// rescheduled.
    fn unconfirmed(n: u32) -> Weight;
    /// The block hook's repair pass moving `r` pieces.
    fn repair(r: u32) -> Weight;
}

impl WeightInfo for () {
    fn store(n: u32, r: u32) -> Weight {
        // Measured: 10.8 ms at n = 2, 34.5 ms at n = 128 (r = 16); 28.3 ms
        // at r = 0, 40.6 ms at r = 16 (n = 128); 81 + 9n + r reads and
        // 35 + 9n + r writes.
        let (n, r) = (u64::from(n), u64::from(r));
        measured(
            10_000_000_000 + 240_000_000 * n + 800_000_000 * r,
            90 + 10 * n + r,
            40 + 10 * n + r,
        )
    }
    fn confirm() -> Weight {
        // Measured 0.29 ms, 36 reads, 5 writes (the last confirm of an order).
        measured(320_000_000, 36, 5)
    }
    fn extend(n: u32) -> Weight {
        // Measured 0.19 ms at n = 2, 0.46 ms at n = 128; 37 reads, 6 writes.
        let n = u64::from(n);
        measured(250_000_000 + 2_500_000 * n, 37, 6)
    }
    fn delete(n: u32) -> Weight {
        // Measured 0.58 ms at n = 2, 33.5 ms at n = 128; 42 + 6n reads,
        // 43 + 6n writes; plus, per piece paid, the `Earned` tally (added
        // after measuring: one read, one write and 30 µs allowed).
        let n = u64::from(n);
        measured(600_000_000 + 295_000_000 * n, 42 + 7 * n, 43 + 7 * n)
    }
    fn share() -> Weight {
        // Measured 0.15 ms, 2 reads, 2 writes.
        measured(170_000_000, 2, 2)
    }
    fn end(n: u32) -> Weight {
        // Measured 0.42 ms at n = 2, 38.4 ms at n = 128; 41 + 6n reads,
        // 43 + 6n writes; plus the `Earned` tally per piece paid (as in
        // `delete`).
        let n = u64::from(n);
        measured(450_000_000 + 330_000_000 * n, 42 + 7 * n, 43 + 7 * n)
    }
    fn unconfirmed(n: u32) -> Weight {
        // Not measured yet: allowed as twice an end.
        Self::end(n).saturating_mul(2)
    }
    fn repair(r: u32) -> Weight {
        if r == 0 {
            // Nothing queued: the queue is read and put back.
            return measured(0, 1, 1);
        }
        // Measured 24.8 ms at r = 1, 48.4 ms at r = 8; 270 + 15r reads,
        // 9 + 12r writes; plus the `Earned` tally per piece moved (as in
        // `delete`).
        let r = u64::from(r);
        measured(21_000_000_000 + 4_030_000_000 * r, 270 + 16 * r, 9 + 13 * r)
    }
}
