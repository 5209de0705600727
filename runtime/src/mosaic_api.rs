//! The `MosaicApi` runtime API: what clients and workers need beyond storage
//! reads. The node serves it as `mosaic_*` JSON-RPC methods and through
//! `state_call` (`MosaicApi_quote`, `MosaicApi_order`, …).

use alloc::vec::Vec;

use parity_scale_codec::Codec;
use polkadot_sdk::sp_api;

pub use pallet_mosaic_audit::Challenge;
pub use pallet_mosaic_market::{CodingParams, OrderId, Quote};

sp_api::decl_runtime_apis! {
    /// Quotes, orders and challenges.
    pub trait MosaicApi<AccountId, Balance, Order, Shard, Provider>
    where
        AccountId: Codec,
        Balance: Codec,
        Order: Codec,
        Shard: Codec,
        Provider: Codec,
    {
        /// What storing `size` bytes coded as `coding` for `periods` at no more
        /// than `max_price` would hold and whom it would go to, or the error
        /// `store` would give (SCALE-encoded `DispatchError`).
        fn quote(
            size: u64,
            coding: CodingParams,
            periods: u32,
            max_price: Balance,
        ) -> Result<Quote<AccountId, Balance>, polkadot_sdk::sp_runtime::DispatchError>;

        /// An order and its shards.
        fn order(id: OrderId) -> Option<(Order, Vec<Shard>)>;

        /// A provider's record.
        fn provider(who: AccountId) -> Option<Provider>;

        /// A provider's open challenge.
        fn challenge(who: AccountId) -> Option<Challenge>;
    }
}
