//! The JSON-RPC methods as jsonrpsee traits, one per namespace: the node
//! implements the generated `*Server` traits, and the generated `*Client`
//! traits are implemented for any jsonrpsee client. Names, parameters and
//! answers are Substrate's for the standard namespaces; `mosaic_*` answers
//! are SCALE bytes of the runtime's `MosaicApi` types (decoded by
//! [`crate::chain`]).
//!
//! Methods that read the chain are `blocking`: the server runs them on a
//! thread of their own.

// `mosaic_quote` takes the coding parameters one by one; the generated
// methods cannot carry an attribute.
#![allow(clippy::too_many_arguments)]

mod types;

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use mosaic_runtime::{Balance, Hash, Header, Nonce};
use polkadot_sdk::pallet_transaction_payment::RuntimeDispatchInfo;
use polkadot_sdk::sp_core::Bytes;
use polkadot_sdk::sp_version::RuntimeVersion;
use serde_json::Value;

pub use types::{
    Block, FeeDetails, Health, InclusionFee, ListOrValue, NumberOrHex, PeerInfo, SignedBlock,
    StorageChangeSet,
};

use crate::TxStatus;

/// `system_*`: the node itself.
#[rpc(server, client, namespace = "system")]
pub trait SystemRpc {
    /// The node's name (`--name`).
    #[method(name = "name")]
    fn name(&self) -> RpcResult<String>;

    /// The node's version.
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;

    /// The chain's name.
    #[method(name = "chain")]
    fn chain(&self) -> RpcResult<String>;

    /// `Development`, `Local` or `Live`.
    #[method(name = "chainType")]
    fn chain_type(&self) -> RpcResult<Value>;

    /// The token's symbol, decimals and address format.
    #[method(name = "properties")]
    fn properties(&self) -> RpcResult<Value>;

    /// Peers and sync state.
    #[method(name = "health")]
    fn health(&self) -> RpcResult<Health>;

    /// The connected peers.
    #[method(name = "peers")]
    fn peers(&self) -> RpcResult<Vec<PeerInfo>>;

    /// The node's libp2p peer id.
    #[method(name = "localPeerId")]
    fn local_peer_id(&self) -> RpcResult<String>;

    /// The addresses the node listens on.
    #[method(name = "localListenAddresses")]
    fn local_listen_addresses(&self) -> RpcResult<Vec<String>>;

    /// The reserved peers' ids.
    #[method(name = "reservedPeers")]
    fn reserved_peers(&self) -> RpcResult<Vec<String>>;

    /// Adds a reserved peer by multiaddr (unsafe).
    #[method(name = "addReservedPeer")]
    fn add_reserved_peer(&self, peer: String) -> RpcResult<()>;

    /// Removes a reserved peer by peer id (unsafe).
    #[method(name = "removeReservedPeer")]
    fn remove_reserved_peer(&self, peer_id: String) -> RpcResult<()>;

    /// The next nonce of an account (SS58 or hex), pool included.
    #[method(name = "accountNextIndex", blocking)]
    fn account_next_index(&self, account: String) -> RpcResult<Nonce>;
}

/// `chain_*`: blocks and heads.
#[rpc(server, client, namespace = "chain")]
pub trait ChainRpc {
    /// The hash of block `number` (or of each of a list) of the best chain;
    /// the best block's if `None`.
    #[method(name = "getBlockHash", aliases = ["chain_getHead"], blocking)]
    fn block_hash(
        &self,
        number: Option<ListOrValue<NumberOrHex>>,
    ) -> RpcResult<ListOrValue<Option<Hash>>>;

    /// A header (the best one if `None`).
    #[method(name = "getHeader", blocking)]
    fn header(&self, hash: Option<Hash>) -> RpcResult<Option<Header>>;

    /// A block with its justifications (the best one if `None`).
    #[method(name = "getBlock", blocking)]
    fn block(&self, hash: Option<Hash>) -> RpcResult<Option<SignedBlock>>;

    /// The last finalized block's hash.
    #[method(name = "getFinalizedHead", aliases = ["chain_getFinalisedHead"])]
    fn finalized_head(&self) -> RpcResult<Hash>;

    /// New best heads.
    #[subscription(name = "subscribeNewHeads" => "newHead", unsubscribe = "unsubscribeNewHeads", item = Header)]
    async fn subscribe_new_heads(&self) -> SubscriptionResult;

    /// Every imported head, best or not.
    #[subscription(name = "subscribeAllHeads" => "allHead", unsubscribe = "unsubscribeAllHeads", item = Header)]
    async fn subscribe_all_heads(&self) -> SubscriptionResult;

    /// Newly finalized heads.
    #[subscription(name = "subscribeFinalizedHeads" => "finalizedHead", unsubscribe = "unsubscribeFinalizedHeads", item = Header)]
    async fn subscribe_finalized_heads(&self) -> SubscriptionResult;
}

/// `state_*`: storage and the runtime.
#[rpc(server, client, namespace = "state")]
pub trait StateRpc {
    /// The value at a storage key.
    #[method(name = "getStorage", blocking)]
    fn storage(&self, key: Bytes, at: Option<Hash>) -> RpcResult<Option<Bytes>>;

    /// The hash of the value at a storage key.
    #[method(name = "getStorageHash", blocking)]
    fn storage_hash(&self, key: Bytes, at: Option<Hash>) -> RpcResult<Option<Hash>>;

    /// The length of the value at a storage key.
    #[method(name = "getStorageSize", blocking)]
    fn storage_size(&self, key: Bytes, at: Option<Hash>) -> RpcResult<Option<u64>>;

    /// Up to `count` keys under `prefix` after `start_key`, in order.
    #[method(name = "getKeysPaged", blocking)]
    fn keys_paged(
        &self,
        prefix: Option<Bytes>,
        count: u32,
        start_key: Option<Bytes>,
        at: Option<Hash>,
    ) -> RpcResult<Vec<Bytes>>;

    /// The runtime's metadata (SCALE).
    #[method(name = "getMetadata", blocking)]
    fn metadata(&self, at: Option<Hash>) -> RpcResult<Bytes>;

    /// The runtime's version.
    #[method(name = "getRuntimeVersion", aliases = ["chain_getRuntimeVersion"], blocking)]
    fn runtime_version(&self, at: Option<Hash>) -> RpcResult<RuntimeVersion>;

    /// Calls a runtime API function with SCALE arguments.
    #[method(name = "call", blocking)]
    fn call(&self, name: String, data: Bytes, at: Option<Hash>) -> RpcResult<Bytes>;

    /// The values of some keys at one block.
    #[method(name = "queryStorageAt", blocking)]
    fn query_storage_at(
        &self,
        keys: Vec<Bytes>,
        at: Option<Hash>,
    ) -> RpcResult<Vec<StorageChangeSet>>;

    /// The keys' values now, then those that change with each best block.
    #[subscription(name = "subscribeStorage" => "storage", unsubscribe = "unsubscribeStorage", item = StorageChangeSet)]
    async fn subscribe_storage(&self, keys: Vec<Bytes>) -> SubscriptionResult;

    /// The runtime's version now, then each new one.
    #[subscription(
        name = "subscribeRuntimeVersion" => "runtimeVersion",
        unsubscribe = "unsubscribeRuntimeVersion",
        aliases = ["chain_subscribeRuntimeVersion"],
        unsubscribe_aliases = ["chain_unsubscribeRuntimeVersion"],
        item = RuntimeVersion
    )]
    async fn subscribe_runtime_version(&self) -> SubscriptionResult;
}

/// `author_*`: transactions and keys.
#[rpc(server, client, namespace = "author")]
pub trait AuthorRpc {
    /// Submits an extrinsic; answers its hash.
    #[method(name = "submitExtrinsic", blocking)]
    fn submit_extrinsic(&self, extrinsic: Bytes) -> RpcResult<Hash>;

    /// The extrinsics in the pool.
    #[method(name = "pendingExtrinsics")]
    fn pending_extrinsics(&self) -> RpcResult<Vec<Bytes>>;

    /// Puts a key into the node's keystore (unsafe).
    #[method(name = "insertKey", blocking)]
    fn insert_key(&self, key_type: String, suri: String, public: Bytes) -> RpcResult<()>;

    /// Whether the keystore holds a key (unsafe).
    #[method(name = "hasKey", blocking)]
    fn has_key(&self, public: Bytes, key_type: String) -> RpcResult<bool>;

    /// Submits an extrinsic and reports its status until a final one.
    #[subscription(name = "submitAndWatchExtrinsic" => "extrinsicUpdate", unsubscribe = "unwatchExtrinsic", item = TxStatus)]
    async fn submit_and_watch_extrinsic(&self, extrinsic: Bytes) -> SubscriptionResult;
}

/// `payment_*`: what a transaction would pay.
#[rpc(server, client, namespace = "payment")]
pub trait PaymentRpc {
    /// Its weight, class and fee.
    #[method(name = "queryInfo", blocking)]
    fn query_info(
        &self,
        extrinsic: Bytes,
        at: Option<Hash>,
    ) -> RpcResult<RuntimeDispatchInfo<Balance>>;

    /// Its fee's parts.
    #[method(name = "queryFeeDetails", blocking)]
    fn query_fee_details(&self, extrinsic: Bytes, at: Option<Hash>) -> RpcResult<FeeDetails>;
}

/// `mosaic_*`: the runtime's `MosaicApi`, answers SCALE-encoded.
#[rpc(server, client, namespace = "mosaic")]
pub trait MosaicRpc {
    /// A `Quote` for storing `size` bytes, or the error `store` would give.
    #[method(name = "quote", blocking)]
    fn quote(
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
    #[method(name = "order", blocking)]
    fn order(&self, id: u64, at: Option<Hash>) -> RpcResult<Bytes>;

    /// A page of an owner's (SS58) order ids after `after`.
    #[method(name = "ordersOf", blocking)]
    fn orders_of(
        &self,
        owner: String,
        after: Option<u64>,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes>;

    /// A page of a CID's (binary) order ids after `after`.
    #[method(name = "ordersByCid", blocking)]
    fn orders_by_cid(
        &self,
        cid: Bytes,
        after: Option<u64>,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes>;

    /// A page of `(order, piece)` a provider (SS58) holds, from position
    /// `from`.
    #[method(name = "piecesOf", blocking)]
    fn pieces_of(
        &self,
        provider: String,
        from: u32,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes>;

    /// An `Option<Provider>` record.
    #[method(name = "provider", blocking)]
    fn provider(&self, who: String, at: Option<Hash>) -> RpcResult<Bytes>;

    /// The `Vec<Challenge>` open for a provider, one per challenged piece.
    #[method(name = "challenges", blocking)]
    fn challenges(&self, who: String, at: Option<Hash>) -> RpcResult<Bytes>;

    /// An `Option<Resolution>` of a name: its latest version, or `version`.
    #[method(name = "resolve", blocking)]
    fn resolve(&self, name: String, version: Option<u32>, at: Option<Hash>) -> RpcResult<Bytes>;

    /// A page of a name's kept versions (`Vec<Entry>`), newest first,
    /// numbered below `before`.
    #[method(name = "nameHistory", blocking)]
    fn name_history(
        &self,
        name: String,
        before: Option<u32>,
        limit: u32,
        at: Option<Hash>,
    ) -> RpcResult<Bytes>;

    /// The names (`Vec<Vec<u8>>`) an owner (SS58) holds.
    #[method(name = "namesOf", blocking)]
    fn names_of(&self, owner: String, at: Option<Hash>) -> RpcResult<Bytes>;
}
