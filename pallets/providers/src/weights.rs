//! Weights of the provider registry's calls.
//!
//! Provisional: each call is one read and one write of a provider record plus
//! a hold change, priced with the database weights of the runtime. They are
//! to be replaced by figures from `frame-benchmarking` runs (issue 3).

use polkadot_sdk::frame_support::weights::{constants::RocksDbWeight, Weight};

/// Weight functions of the provider registry.
pub trait WeightInfo {
    /// `register`.
    fn register() -> Weight;
    /// `update`.
    fn update() -> Weight;
    /// `unbond`.
    fn unbond() -> Weight;
    /// `withdraw`.
    fn withdraw() -> Weight;
}

/// Reads and writes of the record, the counter and the balance holds, plus
/// a fixed execution cost.
fn record_change(reads: u64, writes: u64) -> Weight {
    Weight::from_parts(25_000_000, 4_000)
        .saturating_add(RocksDbWeight::get().reads_writes(reads, writes))
}

impl WeightInfo for () {
    fn register() -> Weight {
        record_change(4, 4)
    }
    fn update() -> Weight {
        record_change(3, 3)
    }
    fn unbond() -> Weight {
        record_change(1, 1)
    }
    fn withdraw() -> Weight {
        record_change(4, 4)
    }
}
