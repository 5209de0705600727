//! JSON-RPC over HTTP and WebSocket on one port (jsonrpsee): Substrate's
//! method names, parameters and answer shapes, so that Substrate tooling
//! works unchanged, plus `mosaic_*` methods over the runtime's `MosaicApi`.
//!
//! Parameters are validated before use: malformed hex, bad SCALE, numbers
//! out of range and unknown blocks are answered with an error from
//! [`codes`]; work runs on blocking threads so the server stays responsive.
//! Requests, responses, connections and subscriptions are bounded; unsafe
//! methods (key management) are refused unless enabled.

use std::net::SocketAddr;
use std::sync::Arc;

use jsonrpsee::server::{
    PendingSubscriptionSink, RpcModule, Server, ServerHandle, SubscriptionMessage,
};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Params};
use mosaic_runtime::{AccountId, Balance, BlockNumber, Hash, UncheckedExtrinsic};
use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::pallet_transaction_payment::{FeeDetails, RuntimeDispatchInfo};
use polkadot_sdk::sp_core::crypto::Ss58Codec;
use polkadot_sdk::sp_core::{Bytes, OpaqueMetadata};
use polkadot_sdk::sp_runtime::traits::BlakeTwo256;
use polkadot_sdk::sp_state_machine::{Backend as _, IterArgs};
use polkadot_sdk::sp_version::RuntimeVersion;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::chain::{CallError, Chain, ChainEvent};
use crate::keystore::{self, Keystore};
use crate::metrics::Metrics;
use crate::network::{Multiaddr, Network, PeerId, PeerInfo};
use crate::pool::{Pool, PoolError, TxStatus};
use crate::store::StoreError;

pub use mosaic_api::codes;

/// Most keys `state_getKeysPaged` returns at once, as in Substrate.
pub const MAX_KEYS_PAGED: u32 = 1000;
/// Most keys one storage subscription or query may name.
pub const MAX_STORAGE_KEYS: usize = 1000;

/// The server's settings.
#[derive(Clone, Debug)]
pub struct RpcConfig {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Most open connections.
    pub max_connections: u32,
    /// Largest request body.
    pub max_request_bytes: u32,
    /// Largest response body.
    pub max_response_bytes: u32,
    /// Most subscriptions per connection.
    pub max_subscriptions: u32,
    /// Allowed browser origins; `None` allows all.
    pub cors: Option<Vec<String>>,
    /// Whether key management methods may be called.
    pub unsafe_methods: bool,
}

/// What `system_*` reports about this node.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// `--name`.
    pub name: String,
    /// The node's version.
    pub version: String,
    /// The chain spec's name.
    pub chain: String,
    /// `Development`, `Local` or `Live`.
    pub chain_type: Value,
    /// Token properties.
    pub properties: Value,
    /// The libp2p peer id.
    pub peer_id: String,
    /// Whether the node expects peers (not `--dev`).
    pub should_have_peers: bool,
}

/// What the methods work with.
pub struct RpcContext {
    /// The chain.
    pub chain: Arc<Chain>,
    /// The transaction pool.
    pub pool: Arc<Pool>,
    /// The keys.
    pub keystore: Arc<Keystore>,
    /// The peer-to-peer network, if there is one.
    pub network: Option<Network>,
    /// `system_*` facts.
    pub info: NodeInfo,
    /// Call counters.
    pub metrics: Option<Metrics>,
    /// Whether unsafe methods are allowed.
    pub unsafe_methods: bool,
}

type RpcResult<T> = Result<T, ErrorObjectOwned>;

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(code, message.into(), None::<()>)
}

fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    error(codes::INVALID_PARAMS, message)
}

impl From<CallError> for ErrorObjectOwned {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Store(StoreError::Db(_) | StoreError::Corrupt(_)) => {
                error(codes::INTERNAL, e.to_string())
            }
            e => error(codes::STATE, e.to_string()),
        }
    }
}

/// A chain query's error. An unknown block is an error, where Substrate
/// answers `null`: a client asking for a block by hash learns why it got
/// nothing.
fn chain_error(e: StoreError) -> ErrorObjectOwned {
    match e {
        StoreError::UnknownBlock(_) => error(codes::CHAIN, e.to_string()),
        e => error(codes::INTERNAL, e.to_string()),
    }
}

impl From<PoolError> for ErrorObjectOwned {
    fn from(e: PoolError) -> Self {
        let (code, message) = match &e {
            PoolError::BadFormat => (codes::BAD_FORMAT, "Extrinsic has invalid format"),
            PoolError::Invalid(_) => (codes::POOL_INVALID_TX, "Invalid Transaction"),
            PoolError::UnknownValidity(_) => {
                (codes::POOL_UNKNOWN_VALIDITY, "Unknown Transaction Validity")
            }
            PoolError::AlreadyImported => {
                (codes::POOL_ALREADY_IMPORTED, "Transaction Already Imported")
            }
            PoolError::TooLowPriority => (codes::POOL_TOO_LOW_PRIORITY, "Priority is too low"),
            PoolError::NoTags => (codes::POOL_NO_TAGS, "Transaction does not provide any tags"),
            PoolError::Chain(_) => (codes::STATE, "Runtime error"),
        };
        ErrorObject::owned(code, message, Some(e.to_string()))
    }
}

/// A block number given as a JSON number or a hex string.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrHex {
    Number(u64),
    Hex(String),
}

impl NumberOrHex {
    fn block_number(&self) -> RpcResult<BlockNumber> {
        let value = match self {
            NumberOrHex::Number(n) => u128::from(*n),
            NumberOrHex::Hex(h) => {
                let digits = h
                    .strip_prefix("0x")
                    .ok_or_else(|| invalid_params(format!("`{h}` is not 0x-prefixed hex")))?;
                u128::from_str_radix(digits, 16)
                    .map_err(|_| invalid_params(format!("`{h}` is not a hex number")))?
            }
        };
        BlockNumber::try_from(value)
            .map_err(|_| invalid_params(format!("{value} > u32::MAX, the largest block number")))
    }
}

/// One value or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrValue<T> {
    List(Vec<T>),
    Value(T),
}

/// A hex number as Substrate's `NumberOrHex` serializes a balance: a JSON
/// number when it fits 64 bits, hex otherwise.
fn balance_json(value: Balance) -> Value {
    match u64::try_from(value) {
        Ok(small) => small.into(),
        Err(_) => format!("0x{value:x}").into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// `system_health` reports syncing while a peer is further ahead than this.
const SYNCING_DISTANCE: u32 = 4;

impl RpcContext {
    fn network(&self) -> RpcResult<&Network> {
        self.network
            .as_ref()
            .ok_or_else(|| error(codes::INTERNAL, "this node has no network"))
    }

    fn peers(&self) -> Vec<PeerInfo> {
        self.network
            .as_ref()
            .map(Network::peers)
            .unwrap_or_default()
    }

    fn at(&self, at: Option<Hash>) -> Hash {
        at.unwrap_or_else(|| self.chain.info().best_hash)
    }

    fn header_json(&self, hash: Hash) -> RpcResult<Value> {
        let header = self
            .chain
            .store()
            .expect_header(hash)
            .map_err(chain_error)?;
        Ok(serde_json::to_value(header).expect("headers serialize; qed"))
    }

    fn block_json(&self, hash: Hash) -> RpcResult<Value> {
        let store = self.chain.store();
        let header = store.expect_header(hash).map_err(chain_error)?;
        let body = store
            .body(hash)
            .map_err(chain_error)?
            .ok_or_else(|| chain_error(StoreError::UnknownBlock(hash)))?;
        let justifications = store.justifications(hash).map_err(chain_error)?;
        let extrinsics: Vec<String> = body.iter().map(|xt| hex(&xt.encode())).collect();
        Ok(json!({
            "block": { "header": header, "extrinsics": extrinsics },
            "justifications": justifications,
        }))
    }

    fn runtime_version(&self, at: Hash) -> RpcResult<Value> {
        let version: RuntimeVersion = self.chain.call_decoded(at, "Core_version", &[])?;
        Ok(serde_json::to_value(version).expect("versions serialize; qed"))
    }

    fn storage_changes(&self, at: Hash, keys: &[Bytes]) -> RpcResult<Vec<(Bytes, Option<Bytes>)>> {
        // One state for every key: opening it reads the header.
        let state = self.chain.store().state(at).map_err(CallError::from)?;
        keys.iter()
            .map(|key| {
                let value = state
                    .storage(key)
                    .map_err(|e| error(codes::STATE, e.to_string()))?;
                Ok((key.clone(), value.map(Bytes)))
            })
            .collect()
    }

    fn check_unsafe(&self) -> RpcResult<()> {
        if self.unsafe_methods {
            Ok(())
        } else {
            Err(error(
                codes::UNSAFE,
                "RPC call is unsafe to be called externally",
            ))
        }
    }
}

fn decode_extrinsic(bytes: &Bytes) -> RpcResult<UncheckedExtrinsic> {
    UncheckedExtrinsic::decode(&mut &bytes[..]).map_err(|e| {
        ErrorObject::owned(
            codes::BAD_FORMAT,
            "Extrinsic has invalid format",
            Some(e.to_string()),
        )
    })
}

fn parse_account(address: &str) -> RpcResult<AccountId> {
    AccountId::from_ss58check(address)
        .or_else(|_| {
            let raw = address.strip_prefix("0x").map(hex::decode);
            match raw {
                Some(Ok(bytes)) => <[u8; 32]>::try_from(bytes)
                    .map(AccountId::from)
                    .map_err(|_| ()),
                _ => Err(()),
            }
        })
        .map_err(|_| invalid_params(format!("`{address}` is not an SS58 or hex account id")))
}

/// Key management: refused, and left out of `rpc_methods`, unless unsafe
/// methods are enabled.
const UNSAFE_METHODS: [&str; 4] = [
    "author_insertKey",
    "author_hasKey",
    "system_addReservedPeer",
    "system_removeReservedPeer",
];

/// Builds the method table.
pub fn module(ctx: RpcContext) -> RpcModule<RpcContext> {
    let unsafe_methods = ctx.unsafe_methods;
    let mut module = RpcModule::new(ctx);
    register_system(&mut module);
    register_chain(&mut module);
    register_state(&mut module);
    register_author(&mut module);
    register_payment(&mut module);
    register_mosaic(&mut module);
    let mut names: Vec<&str> = module.method_names().collect();
    if !unsafe_methods {
        names.retain(|n| !UNSAFE_METHODS.contains(n));
    }
    names.push("rpc_methods");
    names.sort_unstable();
    let listed = json!({ "methods": names });
    module
        .register_method("rpc_methods", move |_, _, _| listed.clone())
        .expect("registered once; qed");
    module
}

/// Registers a blocking method that counts its calls.
fn method<R, F>(module: &mut RpcModule<RpcContext>, name: &'static str, f: F)
where
    R: serde::Serialize + Clone + 'static,
    F: Fn(Params, &RpcContext) -> RpcResult<R> + Clone + Send + Sync + 'static,
{
    module
        .register_blocking_method(name, move |params, ctx, _| {
            if let Some(metrics) = &ctx.metrics {
                metrics.rpc_call(name);
            }
            f(params, &ctx)
        })
        .expect("each name is registered once; qed");
}

fn register_system(module: &mut RpcModule<RpcContext>) {
    method(module, "system_name", |_, ctx| Ok(ctx.info.name.clone()));
    method(module, "system_version", |_, ctx| {
        Ok(ctx.info.version.clone())
    });
    method(module, "system_chain", |_, ctx| Ok(ctx.info.chain.clone()));
    method(module, "system_chainType", |_, ctx| {
        Ok(ctx.info.chain_type.clone())
    });
    method(module, "system_properties", |_, ctx| {
        Ok(ctx.info.properties.clone())
    });
    method(module, "system_health", |_, ctx| {
        let peers = ctx.peers();
        let best = ctx.chain.info().best_number;
        // Syncing: a peer is more than a few blocks ahead.
        let is_syncing = peers
            .iter()
            .filter_map(|p| p.status)
            .any(|s| s.best_number > best.saturating_add(SYNCING_DISTANCE));
        Ok(json!({
            "peers": peers.len(),
            "isSyncing": is_syncing,
            "shouldHavePeers": ctx.info.should_have_peers,
        }))
    });
    method(module, "system_peers", |_, ctx| {
        Ok(ctx
            .peers()
            .into_iter()
            .map(|p| {
                json!({
                    "peerId": p.peer_id.to_string(),
                    "roles": "FULL",
                    "bestHash": p.status.map(|s| s.best_hash),
                    "bestNumber": p.status.map(|s| s.best_number),
                })
            })
            .collect::<Vec<_>>())
    });
    method(module, "system_localPeerId", |_, ctx| {
        Ok(ctx.info.peer_id.clone())
    });
    method(module, "system_localListenAddresses", |_, ctx| {
        Ok(ctx
            .network
            .as_ref()
            .map(|n| n.listen_addresses().iter().map(|a| a.to_string()).collect())
            .unwrap_or_else(Vec::<String>::new))
    });
    method(module, "system_reservedPeers", |_, ctx| {
        Ok(ctx
            .network()?
            .reserved()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>())
    });
    method(module, "system_addReservedPeer", |params, ctx| {
        ctx.check_unsafe()?;
        let addr: String = params.one()?;
        let addr: Multiaddr = addr
            .parse()
            .map_err(|e| invalid_params(format!("not a multiaddr: {e}")))?;
        ctx.network()?
            .add_reserved(addr)
            .map_err(|e| invalid_params(e.to_string()))
    });
    method(module, "system_removeReservedPeer", |params, ctx| {
        ctx.check_unsafe()?;
        let peer: String = params.one()?;
        let peer: PeerId = peer
            .parse()
            .map_err(|e| invalid_params(format!("not a peer id: {e}")))?;
        ctx.network()?.remove_reserved(peer);
        Ok(())
    });
    method(module, "system_accountNextIndex", |params, ctx| {
        let address: String = params.one()?;
        let account = parse_account(&address)?;
        Ok(ctx.pool.next_nonce(&account)?)
    });
}

fn register_chain(module: &mut RpcModule<RpcContext>) {
    method(module, "chain_getHeader", |params, ctx| {
        let at: Option<Hash> = params.sequence().optional_next()?;
        ctx.header_json(ctx.at(at))
    });
    method(module, "chain_getBlock", |params, ctx| {
        let at: Option<Hash> = params.sequence().optional_next()?;
        ctx.block_json(ctx.at(at))
    });
    method(module, "chain_getBlockHash", |params, ctx| {
        let number: Option<ListOrValue<NumberOrHex>> = params.sequence().optional_next()?;
        let hash_of = |n: Option<&NumberOrHex>| -> RpcResult<Option<Hash>> {
            match n {
                None => Ok(Some(ctx.chain.info().best_hash)),
                Some(n) => Ok(ctx
                    .chain
                    .store()
                    .canonical_hash(n.block_number()?)
                    .map_err(CallError::from)?),
            }
        };
        Ok(match number {
            None => json!(hash_of(None)?),
            Some(ListOrValue::Value(n)) => json!(hash_of(Some(&n))?),
            Some(ListOrValue::List(list)) => json!(list
                .iter()
                .map(|n| hash_of(Some(n)))
                .collect::<RpcResult<Vec<_>>>()?),
        })
    });
    method(module, "chain_getFinalizedHead", |_, ctx| {
        Ok(ctx.chain.info().finalized_hash)
    });
    module
        .register_alias("chain_getFinalisedHead", "chain_getFinalizedHead")
        .expect("registered above; qed");
    module
        .register_alias("chain_getHead", "chain_getBlockHash")
        .expect("registered above; qed");

    heads(
        module,
        "chain_subscribeNewHeads",
        "chain_newHead",
        "chain_unsubscribeNewHeads",
        Heads::Best,
    );
    heads(
        module,
        "chain_subscribeAllHeads",
        "chain_allHead",
        "chain_unsubscribeAllHeads",
        Heads::All,
    );
    heads(
        module,
        "chain_subscribeFinalizedHeads",
        "chain_finalizedHead",
        "chain_unsubscribeFinalizedHeads",
        Heads::Finalized,
    );
}

#[derive(Clone, Copy)]
enum Heads {
    Best,
    All,
    Finalized,
}

/// Registers a subscription to headers of one kind.
fn heads(
    module: &mut RpcModule<RpcContext>,
    subscribe: &'static str,
    notification: &'static str,
    unsubscribe: &'static str,
    kind: Heads,
) {
    module
        .register_subscription(
            subscribe,
            notification,
            unsubscribe,
            move |_, pending, ctx, _| async move {
                let events = ctx.chain.subscribe();
                let info = ctx.chain.info();
                let first = match kind {
                    Heads::Best => Some(info.best_hash),
                    Heads::Finalized => Some(info.finalized_hash),
                    Heads::All => None,
                };
                let first = first
                    .map(|hash| ctx.chain.store().expect_header(hash))
                    .transpose()
                    .ok()
                    .flatten();
                follow(
                    pending,
                    events,
                    first.into_iter().map(|h| json!(h)).collect(),
                    move |event| match (kind, event) {
                        (Heads::Best, event) => event
                            .new_best()
                            .map(|(h, _)| json!(h))
                            .into_iter()
                            .collect(),
                        (Heads::All, ChainEvent::Imported { header, .. }) => vec![json!(header)],
                        (Heads::Finalized, ChainEvent::Finalized(headers)) => {
                            headers.iter().map(|h| json!(h)).collect()
                        }
                        _ => Vec::new(),
                    },
                )
                .await;
            },
        )
        .expect("each name is registered once; qed");
}

/// Accepts a subscription, sends `first`, then what `map` makes of each
/// chain event, until the client leaves or stops reading.
async fn follow(
    pending: PendingSubscriptionSink,
    mut events: tokio::sync::broadcast::Receiver<ChainEvent>,
    first: Vec<Value>,
    mut map: impl FnMut(&ChainEvent) -> Vec<Value>,
) {
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let send = |value: Value| {
        let sink = &sink;
        async move {
            let message = SubscriptionMessage::from_json(&value).expect("values serialize; qed");
            sink.send_timeout(message, std::time::Duration::from_secs(60))
                .await
                .is_ok()
        }
    };
    for value in first {
        if !send(value).await {
            return;
        }
    }
    loop {
        tokio::select! {
            _ = sink.closed() => return,
            event = events.recv() => match event {
                Ok(event) => {
                    for value in map(&event) {
                        if !send(value).await {
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            }
        }
    }
}

fn register_state(module: &mut RpcModule<RpcContext>) {
    method(module, "state_getStorage", |params, ctx| {
        let mut seq = params.sequence();
        let key: Bytes = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        Ok(ctx.chain.storage(ctx.at(at), &key)?.map(Bytes))
    });
    method(module, "state_getStorageHash", |params, ctx| {
        let mut seq = params.sequence();
        let key: Bytes = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        Ok(ctx
            .chain
            .storage(ctx.at(at), &key)?
            .map(|v| <BlakeTwo256 as polkadot_sdk::sp_runtime::traits::Hash>::hash(&v)))
    });
    method(module, "state_getStorageSize", |params, ctx| {
        let mut seq = params.sequence();
        let key: Bytes = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        Ok(ctx.chain.storage(ctx.at(at), &key)?.map(|v| v.len() as u64))
    });
    method(module, "state_getKeysPaged", |params, ctx| {
        let mut seq = params.sequence();
        let prefix: Option<Bytes> = seq.optional_next()?;
        let count: u32 = seq.next()?;
        let start: Option<Bytes> = seq.optional_next()?;
        let at: Option<Hash> = seq.optional_next()?;
        if count > MAX_KEYS_PAGED {
            return Err(invalid_params(format!(
                "count exceeds maximum value; value: {count}, max: {MAX_KEYS_PAGED}"
            )));
        }
        let state = ctx
            .chain
            .store()
            .state(ctx.at(at))
            .map_err(CallError::from)?;
        let mut args = IterArgs::default();
        args.prefix = prefix.as_deref();
        args.start_at = start.as_deref();
        args.start_at_exclusive = true;
        let keys = state
            .keys(args)
            .map_err(|e| error(codes::STATE, e.to_string()))?
            .take(count as usize)
            .map(|key| key.map(Bytes))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(codes::STATE, e.to_string()))?;
        Ok(keys)
    });
    method(module, "state_getMetadata", |params, ctx| {
        let at: Option<Hash> = params.sequence().optional_next()?;
        let metadata: OpaqueMetadata =
            ctx.chain
                .call_decoded(ctx.at(at), "Metadata_metadata", &[])?;
        Ok(Bytes(metadata.to_vec()))
    });
    method(module, "state_getRuntimeVersion", |params, ctx| {
        let at: Option<Hash> = params.sequence().optional_next()?;
        ctx.runtime_version(ctx.at(at))
    });
    module
        .register_alias("chain_getRuntimeVersion", "state_getRuntimeVersion")
        .expect("registered above; qed");
    method(module, "state_call", |params, ctx| {
        let mut seq = params.sequence();
        let name: String = seq.next()?;
        let data: Bytes = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        Ok(Bytes(ctx.chain.call(ctx.at(at), &name, &data)?))
    });
    method(module, "state_queryStorageAt", |params, ctx| {
        let mut seq = params.sequence();
        let keys: Vec<Bytes> = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        if keys.len() > MAX_STORAGE_KEYS {
            return Err(invalid_params(format!("at most {MAX_STORAGE_KEYS} keys")));
        }
        let at = ctx.at(at);
        Ok(vec![
            json!({ "block": at, "changes": ctx.storage_changes(at, &keys)? }),
        ])
    });

    module
        .register_subscription(
            "state_subscribeStorage",
            "state_storage",
            "state_unsubscribeStorage",
            |params, pending, ctx, _| async move {
                let keys: Vec<Bytes> = match params.one::<Vec<Bytes>>() {
                    Ok(keys) if !keys.is_empty() && keys.len() <= MAX_STORAGE_KEYS => keys,
                    _ => {
                        pending
                            .reject(invalid_params(format!(
                                "give between 1 and {MAX_STORAGE_KEYS} storage keys"
                            )))
                            .await;
                        return;
                    }
                };
                let events = ctx.chain.subscribe();
                let best = ctx.chain.info().best_hash;
                let Ok(mut last) = ctx.storage_changes(best, &keys) else {
                    pending
                        .reject(error(codes::STATE, "state unavailable"))
                        .await;
                    return;
                };
                let first = json!({ "block": best, "changes": last });
                let ctx2 = ctx.clone();
                follow(pending, events, vec![first], move |event| {
                    let Some((header, _)) = event.new_best() else {
                        return Vec::new();
                    };
                    let hash = header.hash();
                    let Ok(now) = ctx2.storage_changes(hash, &keys) else {
                        return Vec::new();
                    };
                    let changed: Vec<_> = now
                        .iter()
                        .zip(&last)
                        .filter(|(new, old)| new != old)
                        .map(|(new, _)| new.clone())
                        .collect();
                    last = now;
                    if changed.is_empty() {
                        Vec::new()
                    } else {
                        vec![json!({ "block": hash, "changes": changed })]
                    }
                })
                .await;
            },
        )
        .expect("registered once; qed");

    module
        .register_subscription(
            "state_subscribeRuntimeVersion",
            "state_runtimeVersion",
            "state_unsubscribeRuntimeVersion",
            |_, pending, ctx, _| async move {
                let events = ctx.chain.subscribe();
                let Ok(mut last) = ctx.runtime_version(ctx.chain.info().best_hash) else {
                    pending
                        .reject(error(codes::STATE, "state unavailable"))
                        .await;
                    return;
                };
                let ctx2 = ctx.clone();
                follow(pending, events, vec![last.clone()], move |event| {
                    let Some((header, _)) = event.new_best() else {
                        return Vec::new();
                    };
                    match ctx2.runtime_version(header.hash()) {
                        Ok(now) if now != last => {
                            last = now.clone();
                            vec![now]
                        }
                        _ => Vec::new(),
                    }
                })
                .await;
            },
        )
        .expect("registered once; qed");
    module
        .register_alias(
            "chain_subscribeRuntimeVersion",
            "state_subscribeRuntimeVersion",
        )
        .expect("registered above; qed");
}

fn register_author(module: &mut RpcModule<RpcContext>) {
    method(module, "author_submitExtrinsic", |params, ctx| {
        let bytes: Bytes = params.one()?;
        Ok(ctx.pool.submit(&bytes)?)
    });
    method(module, "author_pendingExtrinsics", |_, ctx| {
        Ok(ctx
            .pool
            .pending()
            .into_iter()
            .map(Bytes)
            .collect::<Vec<_>>())
    });
    method(module, "author_insertKey", |params, ctx| {
        ctx.check_unsafe()?;
        let mut seq = params.sequence();
        let key_type: String = seq.next()?;
        let suri: String = seq.next()?;
        let public: Bytes = seq.next()?;
        let key_type =
            keystore::key_type(&key_type).map_err(|e| error(codes::KEYSTORE, e.to_string()))?;
        ctx.keystore
            .insert(key_type, &suri, Some(&public))
            .map_err(|e| error(codes::KEYSTORE, e.to_string()))?;
        Ok(())
    });
    method(module, "author_hasKey", |params, ctx| {
        ctx.check_unsafe()?;
        let mut seq = params.sequence();
        let public: Bytes = seq.next()?;
        let key_type: String = seq.next()?;
        let key_type =
            keystore::key_type(&key_type).map_err(|e| error(codes::KEYSTORE, e.to_string()))?;
        Ok(ctx.keystore.has(key_type, &public))
    });
    module
        .register_subscription(
            "author_submitAndWatchExtrinsic",
            "author_extrinsicUpdate",
            "author_unwatchExtrinsic",
            |params, pending, ctx, _| async move {
                let submitted = params.one::<Bytes>().and_then(|bytes| {
                    let pool = ctx.pool.clone();
                    // Validation runs the runtime: keep it off the
                    // server's async threads.
                    tokio::task::block_in_place(|| pool.submit_and_watch(&bytes))
                        .map_err(ErrorObjectOwned::from)
                });
                let (_, mut statuses) = match submitted {
                    Ok(watch) => watch,
                    Err(e) => {
                        pending.reject(e).await;
                        return;
                    }
                };
                let Ok(sink) = pending.accept().await else {
                    return;
                };
                while let Some(status) = tokio::select! {
                    _ = sink.closed() => None,
                    status = statuses.recv() => status,
                } {
                    let done = status.is_final();
                    let message = SubscriptionMessage::from_json(&status_json(&status))
                        .expect("values serialize; qed");
                    if sink
                        .send_timeout(message, std::time::Duration::from_secs(60))
                        .await
                        .is_err()
                        || done
                    {
                        return;
                    }
                }
            },
        )
        .expect("registered once; qed");
}

/// A status as Substrate writes it: `"ready"` or `{"inBlock": hash}`.
fn status_json(status: &TxStatus) -> Value {
    serde_json::to_value(status).expect("statuses serialize; qed")
}

/// Calls a `TransactionPaymentApi` method on the extrinsic and block the
/// parameters name (`[extrinsic, at?]`).
fn payment_call<R: Decode>(params: Params, ctx: &RpcContext, api: &str) -> RpcResult<R> {
    let mut seq = params.sequence();
    let bytes: Bytes = seq.next()?;
    let at: Option<Hash> = seq.optional_next()?;
    let xt = decode_extrinsic(&bytes)?;
    Ok(ctx
        .chain
        .call_decoded(ctx.at(at), api, &(xt, bytes.len() as u32).encode())?)
}

fn register_payment(module: &mut RpcModule<RpcContext>) {
    method(module, "payment_queryInfo", |params, ctx| {
        let info: RuntimeDispatchInfo<Balance> =
            payment_call(params, ctx, "TransactionPaymentApi_query_info")?;
        Ok(serde_json::to_value(info).expect("dispatch info serializes; qed"))
    });
    method(module, "payment_queryFeeDetails", |params, ctx| {
        let details: FeeDetails<Balance> =
            payment_call(params, ctx, "TransactionPaymentApi_query_fee_details")?;
        let inclusion_fee = details.inclusion_fee.map(|fee| {
            json!({
                "baseFee": balance_json(fee.base_fee),
                "lenFee": balance_json(fee.len_fee),
                "adjustedWeightFee": balance_json(fee.adjusted_weight_fee),
            })
        });
        Ok(json!({ "inclusionFee": inclusion_fee }))
    });
}

fn register_mosaic(module: &mut RpcModule<RpcContext>) {
    use mosaic_runtime::mosaic_api::CodingParams;
    method(module, "mosaic_quote", |params, ctx| {
        let mut seq = params.sequence();
        let size: u64 = seq.next()?;
        let data_shards: u8 = seq.next()?;
        let parity_shards: u8 = seq.next()?;
        let segment_size: u32 = seq.next()?;
        let recipients: u32 = seq.next()?;
        let periods: u32 = seq.next()?;
        let max_price: String = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        let max_price: Balance = max_price
            .parse()
            .map_err(|_| invalid_params("max price must be a decimal integer string"))?;
        let coding = CodingParams {
            data_shards,
            parity_shards,
            segment_size,
        };
        let answer: Result<
            mosaic_runtime::mosaic_api::Quote<AccountId, Balance>,
            polkadot_sdk::sp_runtime::DispatchError,
        > = ctx.chain.call_decoded(
            ctx.at(at),
            "MosaicApi_quote",
            &(size, coding, recipients, periods, max_price).encode(),
        )?;
        answer
            .map(|quote| Bytes(quote.encode()))
            .map_err(|e| error(codes::STATE, mosaic_api::chain::describe(e)))
    });
    method(module, "mosaic_order", |params, ctx| {
        let mut seq = params.sequence();
        let id: u64 = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        let raw = ctx
            .chain
            .call(ctx.at(at), "MosaicApi_order", &id.encode())?;
        Ok(Bytes(raw))
    });
    method(module, "mosaic_ordersOf", |params, ctx| {
        let mut seq = params.sequence();
        let owner: String = seq.next()?;
        let after: Option<u64> = seq.next()?;
        let limit: u32 = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        let owner = parse_account(&owner)?;
        Ok(Bytes(ctx.chain.call(
            ctx.at(at),
            "MosaicApi_orders_of",
            &(owner, after, limit).encode(),
        )?))
    });
    method(module, "mosaic_ordersByCid", |params, ctx| {
        let mut seq = params.sequence();
        let cid: Bytes = seq.next()?;
        let after: Option<u64> = seq.next()?;
        let limit: u32 = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        Ok(Bytes(ctx.chain.call(
            ctx.at(at),
            "MosaicApi_orders_by_cid",
            &(cid.0, after, limit).encode(),
        )?))
    });
    method(module, "mosaic_piecesOf", |params, ctx| {
        let mut seq = params.sequence();
        let provider: String = seq.next()?;
        let from: u32 = seq.next()?;
        let limit: u32 = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        let provider = parse_account(&provider)?;
        Ok(Bytes(ctx.chain.call(
            ctx.at(at),
            "MosaicApi_pieces_of",
            &(provider, from, limit).encode(),
        )?))
    });
    method(module, "mosaic_provider", |params, ctx| {
        let mut seq = params.sequence();
        let who: String = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        let who = parse_account(&who)?;
        Ok(Bytes(ctx.chain.call(
            ctx.at(at),
            "MosaicApi_provider",
            &who.encode(),
        )?))
    });
    method(module, "mosaic_challenge", |params, ctx| {
        let mut seq = params.sequence();
        let who: String = seq.next()?;
        let at: Option<Hash> = seq.optional_next()?;
        let who = parse_account(&who)?;
        Ok(Bytes(ctx.chain.call(
            ctx.at(at),
            "MosaicApi_challenge",
            &who.encode(),
        )?))
    });
}

/// Starts the server; returns the address it listens on and its handle.
pub async fn start(
    config: &RpcConfig,
    ctx: RpcContext,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = match &config.cors {
        None => AllowOrigin::any(),
        Some(list) => AllowOrigin::list(list.iter().filter_map(|o| o.parse().ok())),
    };
    let cors = CorsLayer::new()
        .allow_methods([http::Method::POST])
        .allow_origin(origins)
        .allow_headers([http::header::CONTENT_TYPE]);
    let server = Server::builder()
        .max_request_body_size(config.max_request_bytes)
        .max_response_body_size(config.max_response_bytes)
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions)
        .set_http_middleware(tower::ServiceBuilder::new().layer(cors))
        .build(config.addr)
        .await?;
    let addr = server.local_addr()?;
    Ok((addr, server.start(module(ctx))))
}
