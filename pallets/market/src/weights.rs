//! Weights of the market's calls and block hook.
//!
//! **Provisional, not yet measured for the piece model.** The figures below
//! were derived from the per-shard measurements of 2026-11-22 (the same
//! storage operations, now once per piece rather than once per shard) and
//! from counting the placement index's reads and writes; they over-estimate
//! on purpose. Measure them with `cargo run --release -p mosaic-runtime
//! --features runtime-benchmarks --example benchmark -- 20 10` (the
//! benchmarks in `benchmarking.rs`) before relying on them. Time is in
//! picoseconds; reads and writes are priced as RocksDB accesses (see
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
    /// `claim` over an order with `n` pieces.
    fn claim(n: u32) -> Weight;
    /// `share` of an order.
    fn share() -> Weight;
    /// The block hook ending one order of `n` pieces.
    fn end(n: u32) -> Weight;
    /// The block hook's repair pass moving `r` pieces.
    fn repair(r: u32) -> Weight;
}

/// Reads of one placement draw: the sampling tree's cells down to a leaf
/// (`log2` of the tree's size, 14 at 10,000 providers), the slot and the
/// provider record.
const DRAW_READS: u64 = 16;

impl WeightInfo for () {
    fn store(n: u32, r: u32) -> Weight {
        // Placement makes at most 2n + 8 draws; each piece then books
        // capacity, which moves the provider's weight (14 tree writes), and
        // takes a list entry.
        let (n, r) = (u64::from(n), u64::from(r));
        measured(
            150_000_000 + 120_000_000 * n + 2_000_000 * r,
            8 + DRAW_READS * (2 * n + 8),
            7 + 17 * n,
        )
    }
    fn confirm() -> Weight {
        measured(60_000_000, 3, 3)
    }
    fn extend(n: u32) -> Weight {
        let n = u64::from(n);
        measured(40_000_000 + 2_000_000 * n, 4, 4)
    }
    fn delete(n: u32) -> Weight {
        // Each piece: settled (a proof-history read, a payment), released
        // (14 tree writes), its list slot moved.
        let n = u64::from(n);
        measured(250_000_000 + 100_000_000 * n, 12 + 6 * n, 12 + 20 * n)
    }
    fn claim(n: u32) -> Weight {
        let n = u64::from(n);
        measured(40_000_000 + 10_000_000 * n, 4 + n, 4 + n)
    }
    fn share() -> Weight {
        measured(50_000_000, 3, 3)
    }
    fn end(n: u32) -> Weight {
        Self::delete(n)
    }
    fn repair(r: u32) -> Weight {
        if r == 0 {
            // Nothing queued: the queue is read and put back.
            return measured(0, 1, 1);
        }
        // Each move: up to 10 draws among the providers not already in the
        // order (its others are taken out of the tree first, 14 reads
        // each), a settlement, two bookings.
        let r = u64::from(r);
        measured(
            500_000_000 + 3_000_000_000 * r,
            4 + (10 * DRAW_READS + 128 * 15 + 12) * r,
            3 + 40 * r,
        )
    }
}
