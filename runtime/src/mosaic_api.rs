//! The `MosaicApi` runtime API: what clients and workers need beyond storage
//! reads. The node serves it as `mosaic_*` JSON-RPC methods and through
//! `state_call` (`MosaicApi_quote`, `MosaicApi_order`, `MosaicApi_resolve`,
//! …).

use alloc::vec::Vec;

use parity_scale_codec::Codec;
use polkadot_sdk::sp_api;

pub use pallet_mosaic_audit::Challenge;
pub use pallet_mosaic_market::{CodingParams, OrderId, Quote, MAX_PAGE};
pub use pallet_mosaic_names::{Entry, Resolution};

use crate::BlockNumber;

sp_api::decl_runtime_apis! {
    /// Quotes, orders, the market's indexes and challenges. Version 2:
    /// orders of pieces, `quote` takes the number of readers, `order`
    /// answers the order alone, the indexes are new. Version 3:
    /// `challenges` (several leaves of several pieces) replaces `challenge`.
    /// Version 4: names (`resolve`, `name_history`, `names_of`).
    #[api_version(4)]
    pub trait MosaicApi<AccountId, Balance, Order, Provider>
    where
        AccountId: Codec,
        Balance: Codec,
        Order: Codec,
        Provider: Codec,
    {
        /// What storing `size` bytes coded as `coding`, its key wrapped to
        /// `recipients` readers, for `periods` at no more than `max_price`
        /// would hold and whom each piece would go to, or the error `store`
        /// would give (SCALE-encoded `DispatchError`).
        fn quote(
            size: u64,
            coding: CodingParams,
            recipients: u32,
            periods: u32,
            max_price: Balance,
        ) -> Result<Quote<AccountId, Balance>, polkadot_sdk::sp_runtime::DispatchError>;

        /// An order with its pieces and how it is read.
        fn order(id: OrderId) -> Option<Order>;

        /// One page of `owner`'s orders after `after`, at most `limit`
        /// (capped at [`MAX_PAGE`]).
        fn orders_of(owner: AccountId, after: Option<OrderId>, limit: u32) -> Vec<OrderId>;

        /// One page of the orders of a CID (binary), as `orders_of` pages.
        fn orders_by_cid(cid: Vec<u8>, after: Option<OrderId>, limit: u32) -> Vec<OrderId>;

        /// The pieces `provider` holds, `(order, piece)`, from position `from`
        /// of its list, at most `limit` (capped at [`MAX_PAGE`]).
        fn pieces_of(provider: AccountId, from: u32, limit: u32) -> Vec<(OrderId, u32)>;

        /// A provider's record.
        fn provider(who: AccountId) -> Option<Provider>;

        /// A provider's open challenges, one per challenged piece.
        fn challenges(who: AccountId) -> Vec<Challenge>;

        /// What a name (its bytes) resolves to: its latest version, or
        /// version `version`; `None` if no such name is registered.
        fn resolve(name: Vec<u8>, version: Option<u32>) -> Option<Resolution<AccountId, BlockNumber>>;

        /// One page of a name's kept versions, newest first: those numbered
        /// below `before` (from the latest if `None`), at most `limit`
        /// (capped at `pallet_mosaic_names::MAX_PAGE`).
        fn name_history(name: Vec<u8>, before: Option<u32>, limit: u32) -> Vec<Entry<BlockNumber>>;

        /// The names `owner` holds (at most the runtime's
        /// `MaxNamesPerOwner`), in the order they came to it.
        fn names_of(owner: AccountId) -> Vec<Vec<u8>>;
    }
}
