//! Weights of the audit pallet's call and block hook.
//!
//! Provisional: counted reads and writes priced with the runtime's database
//! weights, plus the Merkle verification (at most 17 SHA-256 hashes) and the
//! VRF check. To be replaced by figures from `frame-benchmarking` runs.

use polkadot_sdk::frame_support::weights::{constants::RocksDbWeight, Weight};

/// Weight functions of the audit pallet.
pub trait WeightInfo {
    /// `submit_proof`, worst case (a failed proof slashes and may eject).
    fn submit_proof() -> Weight;
    /// The block hook, with `challenges` challenges closed and opened.
    fn on_initialize(challenges: u32) -> Weight;
}

impl WeightInfo for () {
    fn submit_proof() -> Weight {
        Weight::from_parts(60_000_000, 4_000)
            .saturating_add(RocksDbWeight::get().reads_writes(8, 8))
    }
    fn on_initialize(challenges: u32) -> Weight {
        let per_challenge = RocksDbWeight::get().reads_writes(12, 8);
        Weight::from_parts(150_000_000, 2_000)
            .saturating_add(RocksDbWeight::get().reads_writes(3, 1))
            .saturating_add(per_challenge.saturating_mul(challenges.into()))
    }
}
