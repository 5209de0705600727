//! Weights of the names pallet's calls.
//!
//! Provisional: not measured yet (the runtime's benchmark example measures
//! them once the pallet is in the runtime). Time is in picoseconds; reads
//! and writes are distinct keys priced as RocksDB accesses on top (see
//! [`pallet_mosaic_providers::weights::measured`]).

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
        measured(1_000_000_000, 4, 4)
    }
    fn set() -> Weight {
        measured(1_000_000_000, 5, 5)
    }
    fn transfer() -> Weight {
        measured(1_000_000_000, 5, 5)
    }
    fn release(v: u32) -> Weight {
        let v = u64::from(v);
        measured(1_000_000_000 + 10_000_000 * v, 4, 4 + v)
    }
}
