//! Weights of the market's calls and block hook.
//!
//! Measured on 2026-11-29 with `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 20 10 market` (the
//! benchmarks in `benchmarking.rs`: 10,240 providers, deadline lists of
//! 1,024 orders crowded), on 2 cores shared with a one-job build, so the
//! times are upper bounds.
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
        // Measured: 9.2 ms at n = 2, 30.0 ms at n = 128 (r = 16); 32.4 ms
        // at r = 0 and at r = 16 (n = 128); 67 + 11n + r reads and
        // 34 + 11n + r writes (1,501 and 1,403 at the top).
        let (n, r) = (u64::from(n), u64::from(r));
        measured(
            20_000_000_000 + 150_000_000 * n + 50_000_000 * r,
            70 + 12 * n + r,
            40 + 11 * n + r,
        )
    }
    fn confirm() -> Weight {
        // Measured 0.21 ms, 20 reads, 4 writes (the last confirm of an
        // order, its deadline and expiry lists full).
        measured(250_000_000, 24, 6)
    }
    fn extend(n: u32) -> Weight {
        // Measured 0.15 ms at n = 2, 0.37 ms at n = 128; 20 reads, 4 writes.
        let n = u64::from(n);
        measured(160_000_000 + 2_500_000 * n, 24, 6)
    }
    fn delete(n: u32) -> Weight {
        // Measured 0.32 ms at n = 2, 28.4 ms at n = 128; 39 + 9n reads,
        // 41 + 8n writes.
        let n = u64::from(n);
        measured(350_000_000 + 225_000_000 * n, 42 + 9 * n, 43 + 8 * n)
    }
    fn share() -> Weight {
        // Measured 0.17 ms, 2 reads, 2 writes.
        measured(180_000_000, 2, 2)
    }
    fn end(n: u32) -> Weight {
        // Measured 0.52 ms at n = 2, 17.7 ms at n = 128; 43 + 9n reads,
        // 42 + 8n writes.
        let n = u64::from(n);
        measured(500_000_000 + 140_000_000 * n, 44 + 9 * n, 43 + 8 * n)
    }
    fn unconfirmed(n: u32) -> Weight {
        // Measured 0.53 ms at n = 2, 48.1 ms at n = 128 (each piece queued
        // rewrites the queue of failed pieces, so the slope grows towards
        // the top); 66 + 4n reads, 41 + 4n writes (550 and 525 at the top).
        let n = u64::from(n);
        measured(500_000_000 + 380_000_000 * n, 70 + 4 * n, 45 + 4 * n)
    }
    fn repair(r: u32) -> Weight {
        if r == 0 {
            // Nothing queued: the queue is read and put back.
            return measured(0, 1, 1);
        }
        // Measured 21.4 ms at r = 1, 46.0 ms at r = 8; 273 + 19r reads,
        // 12 + 16r writes.
        let r = u64::from(r);
        measured(
            19_000_000_000 + 4_000_000_000 * r,
            275 + 20 * r,
            15 + 16 * r,
        )
    }
}
