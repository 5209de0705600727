//! Weights of the audit pallet's call and block hook.
//!
//! Time is in picoseconds; reads and writes are distinct keys priced as
//! RocksDB accesses on top (see [`pallet_mosaic_providers::weights::measured`]).
//! The per-leaf and per-visit figures come from the previous design's
//! measurements (2026-11-28: 0.24 ms for a one-leaf `submit_proof` that
//! slashes and ejects, 0.63 ms a visit) with allowances for what this
//! design adds (more leaves, the piece tree, the market's settlement);
//! they are to be measured again with `cargo run --release -p
//! mosaic-runtime --features runtime-benchmarks --example benchmark -- 20
//! 10 audit`.

use pallet_mosaic_providers::weights::measured;
use polkadot_sdk::frame_support::weights::Weight;

/// Weight functions of the audit pallet.
pub trait WeightInfo {
    /// `submit_proof` of `l` leaves, worst case (a failed proof slashes,
    /// moves the piece and ejects).
    fn submit_proof(l: u32) -> Weight;
    /// The block hook of a draw block visiting `h` holders and drawing `l`
    /// leaves in all, each holder with missed challenges closed; `h` and
    /// `l` are 0 in other blocks.
    fn on_initialize(h: u32, l: u32) -> Weight;
}

impl WeightInfo for () {
    fn submit_proof(l: u32) -> Weight {
        // Per leaf: a full-depth verification (89 compressions, well under
        // 100 µs). Fixed: the challenge, the slash and ejection (a Fenwick
        // path in the registry), the market's reassignment of the piece (a
        // placement draw and two piece lists) or its settlement.
        let l = u64::from(l);
        measured(25_000_000_000 + 100_000_000 * l, 320, 60)
    }
    fn on_initialize(h: u32, l: u32) -> Weight {
        // Each visit: the holder, its open challenges closed (each a slash,
        // a reassignment), its tree total; each leaf: a Fenwick descent in
        // the holder's piece tree (at most 32 reads), its slot and order.
        let (h, l) = (u64::from(h), u64::from(l));
        measured(
            10_300_000_000 + 630_000_000 * h + 300_000_000 * l,
            20 + 12 * h + 36 * l,
            15 + 9 * h + 2 * l,
        )
    }
}
