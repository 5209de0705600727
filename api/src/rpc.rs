//! The JSON-RPC methods the client and worker use, as jsonrpsee traits;
//! the generated `*Client` traits are implemented for any jsonrpsee client.
//! Names, parameters and answers are Substrate's for the standard
//! namespaces; `mosaic_*` answers are SCALE bytes of the runtime's
//! `MosaicApi` types (decoded by [`crate::chain`]).

// `mosaic_quote` takes the coding parameters one by one, as the node's
// method does; the generated client method cannot carry an attribute.
#![allow(clippy::too_many_arguments)]

use jsonrpsee::proc_macros::rpc;
use mosaic_runtime::{Hash, Header, Nonce};
use polkadot_sdk::sp_core::Bytes;
use polkadot_sdk::sp_version::RuntimeVersion;

use crate::TxStatus;

/// `chain_*`: blocks and heads.
#[rpc(client, namespace = "chain")]
pub trait ChainRpc {
    /// The hash of block `number` of the best chain (the best block if
    /// `None`).
    #[method(name = "getBlockHash")]
    async fn block_hash(&self, number: Option<u32>) -> RpcResult<Option<Hash>>;

    /// A header (the best one if `None`).
    #[method(name = "getHeader")]
    async fn header(&self, hash: Option<Hash>) -> RpcResult<Option<Header>>;

    /// The last finalized block's hash.
    #[method(name = "getFinalizedHead")]
    async fn finalized_head(&self) -> RpcResult<Hash>;

    /// New best heads.
    #[subscription(name = "subscribeNewHeads" => "newHead", unsubscribe = "unsubscribeNewHeads", item = Header)]
    async fn subscribe_new_heads(&self) -> SubscriptionResult;

    /// Newly finalized heads.
    #[subscription(name = "subscribeFinalizedHeads" => "finalizedHead", unsubscribe = "unsubscribeFinalizedHeads", item = Header)]
    async fn subscribe_finalized_heads(&self) -> SubscriptionResult;
}

/// `state_*`: storage and the runtime.
#[rpc(client, namespace = "state")]
pub trait StateRpc {
    /// The value at a storage key.
    #[method(name = "getStorage")]
    async fn storage(&self, key: Bytes, at: Option<Hash>) -> RpcResult<Option<Bytes>>;

    /// Up to `count` keys under `prefix` after `start_key`, in order.
    #[method(name = "getKeysPaged")]
    async fn keys_paged(
        &self,
        prefix: Option<Bytes>,
        count: u32,
        start_key: Option<Bytes>,
        at: Option<Hash>,
    ) -> RpcResult<Vec<Bytes>>;

    /// The runtime's version.
    #[method(name = "getRuntimeVersion")]
    async fn runtime_version(&self, at: Option<Hash>) -> RpcResult<RuntimeVersion>;
}

/// `system_*`.
#[rpc(client, namespace = "system")]
pub trait SystemRpc {
    /// The next nonce of an account (SS58), pool included.
    #[method(name = "accountNextIndex")]
    async fn account_next_index(&self, account: String) -> RpcResult<Nonce>;
}

/// `author_*`: submitting transactions.
#[rpc(client, namespace = "author")]
pub trait AuthorRpc {
    /// Submits an extrinsic; answers its hash.
    #[method(name = "submitExtrinsic")]
    async fn submit_extrinsic(&self, extrinsic: Bytes) -> RpcResult<Hash>;

    /// Submits an extrinsic and reports its status until a final one.
    #[subscription(name = "submitAndWatchExtrinsic" => "extrinsicUpdate", unsubscribe = "unwatchExtrinsic", item = TxStatus)]
    async fn submit_and_watch_extrinsic(&self, extrinsic: Bytes) -> SubscriptionResult;
}

/// `mosaic_*`: the runtime's `MosaicApi`, answers SCALE-encoded.
#[rpc(client, namespace = "mosaic")]
pub trait MosaicRpc {
    /// A `Quote` for storing `size` bytes, or the error `store` would give.
    #[method(name = "quote")]
    async fn quote(
        &self,
        size: u64,
        data_shards: u8,
        parity_shards: u8,
        segment_size: u32,
        recipients: u32,
        periods: u32,
        max_price: String,
        at: Option<Hash>,
    ) -> RpcResult<Bytes>;

    /// An `Option<Order>`.
    #[method(name = "order")]
    async fn order(&self, id: u64, at: Option<Hash>) -> RpcResult<Bytes>;

    /// A page of an owner's (SS58) order ids after `after`.
    #[method(name = "ordersOf")]
    async fn orders_of(
        &self,
        owner: String,
        after: Option<u64>,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes>;

    /// A page of a CID's (binary) order ids after `after`.
    #[method(name = "ordersByCid")]
    async fn orders_by_cid(
        &self,
        cid: Bytes,
        after: Option<u64>,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes>;

    /// A page of `(order, piece)` a provider (SS58) holds, from position
    /// `from`.
    #[method(name = "piecesOf")]
    async fn pieces_of(
        &self,
        provider: String,
        from: u32,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes>;

    /// An `Option<Provider>` record.
    #[method(name = "provider")]
    async fn provider(&self, who: String, at: Option<Hash>) -> RpcResult<Bytes>;

    /// An `Option<Challenge>` open for a provider.
    #[method(name = "challenge")]
    async fn challenge(&self, who: String, at: Option<Hash>) -> RpcResult<Bytes>;
}
