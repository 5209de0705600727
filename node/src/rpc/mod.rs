//! JSON-RPC over HTTP and WebSocket on one port (jsonrpsee): the server side
//! of [`mosaic_api::rpc`]'s traits, one module per namespace, so that
//! Substrate tooling works unchanged, plus `mosaic_*` over the runtime's
//! `MosaicApi`.
//!
//! Parameters are validated before use: malformed hex, bad SCALE, numbers
//! out of range and unknown blocks are answered with an error from
//! [`codes`]; methods that read the chain run on blocking threads so the
//! server stays responsive. Requests, responses, connections and
//! subscriptions are bounded; unsafe methods (key management, reserved
//! peers) are refused unless enabled, and left out of `rpc_methods`; what
//! a web page may call is [`browser`]'s.

mod author;
pub mod browser;
mod chain;
mod mosaic;
mod payment;
mod state;
mod system;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::server::middleware::rpc::{RpcServiceBuilder, RpcServiceT};
use jsonrpsee::server::{
    PendingSubscriptionSink, RpcModule, Server, ServerHandle, SubscriptionMessage,
};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Request};
use mosaic_api::rpc::{
    AuthorRpcServer, ChainRpcServer, MosaicRpcServer, PaymentRpcServer, StateRpcServer,
    SystemRpcServer,
};
use mosaic_runtime::{AccountId, Hash};
use polkadot_sdk::sp_core::crypto::Ss58Codec;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::chain::{CallError, Chain, ChainEvent};
use crate::keystore::Keystore;
use crate::metrics::Metrics;
use crate::network::Network;
use crate::pool::{Pool, PoolError};
use crate::store::StoreError;

pub use mosaic_api::codes;

/// Most keys `state_getKeysPaged` returns at once, as in Substrate.
pub const MAX_KEYS_PAGED: u32 = 1000;
/// Most keys one storage subscription or query may name.
pub const MAX_STORAGE_KEYS: usize = 1000;
/// How long a subscriber may leave a notification unread before it is
/// dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// Allowed browser origins.
    pub origins: browser::Origins,
    /// Whether unsafe methods may be called.
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

/// The value every namespace's server trait is implemented on.
#[derive(Clone)]
struct Api(Arc<RpcContext>);

impl Deref for Api {
    type Target = RpcContext;

    fn deref(&self) -> &RpcContext {
        &self.0
    }
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

/// An account as SS58 or 0x-prefixed hex.
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

impl RpcContext {
    /// The block `at` names, the best one if `None`.
    fn at(&self, at: Option<Hash>) -> Hash {
        at.unwrap_or_else(|| self.chain.info().best_hash)
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

/// Accepts a subscription, sends `first`, then what `map` makes of each
/// chain event, until the client leaves or stops reading. `map` may read
/// the database or call the runtime: it runs as blocking work.
async fn follow<T: Serialize>(
    pending: PendingSubscriptionSink,
    mut events: tokio::sync::broadcast::Receiver<ChainEvent>,
    first: Vec<T>,
    mut map: impl FnMut(&ChainEvent) -> Vec<T>,
) {
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let send = |value: T| {
        let sink = &sink;
        async move {
            let message = SubscriptionMessage::from_json(&value).expect("values serialize; qed");
            sink.send_timeout(message, SEND_TIMEOUT).await.is_ok()
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
                    for value in tokio::task::block_in_place(|| map(&event)) {
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

/// Unsafe methods: refused unless enabled, and then only listed.
const UNSAFE_METHODS: [&str; 4] = [
    "author_insertKey",
    "author_hasKey",
    "system_addReservedPeer",
    "system_removeReservedPeer",
];

/// Builds the method table: every namespace, and `rpc_methods` listing it.
pub fn module(ctx: RpcContext) -> RpcModule<()> {
    let unsafe_methods = ctx.unsafe_methods;
    let api = Api(Arc::new(ctx));
    let mut module = RpcModule::new(());
    let namespaces = [
        SystemRpcServer::into_rpc(api.clone()),
        ChainRpcServer::into_rpc(api.clone()),
        StateRpcServer::into_rpc(api.clone()),
        AuthorRpcServer::into_rpc(api.clone()),
        PaymentRpcServer::into_rpc(api.clone()),
        MosaicRpcServer::into_rpc(api),
    ];
    for namespace in namespaces {
        module
            .merge(namespace)
            .expect("namespaces have distinct names; qed");
    }
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

/// Counts calls of the methods the server has, by name (unknown names are
/// not counted: a caller cannot grow the metrics without bound).
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    metrics: Metrics,
    known: Arc<HashSet<&'static str>>,
}

impl<'a, S: RpcServiceT<'a>> RpcServiceT<'a> for Counted<S> {
    type Future = S::Future;

    fn call(&self, request: Request<'a>) -> Self::Future {
        if let Some(name) = self.known.get(request.method_name()) {
            self.metrics.rpc_call(name);
        }
        self.inner.call(request)
    }
}

/// Starts the server; returns the address it listens on and its handle.
pub async fn start(
    config: &RpcConfig,
    ctx: RpcContext,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allowed = config.origins.clone();
    let cors = CorsLayer::new()
        .allow_methods([http::Method::POST])
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            allowed.allows(origin.to_str().unwrap_or_default())
        }))
        .allow_headers([http::header::CONTENT_TYPE]);
    let http = tower::ServiceBuilder::new()
        .option_layer(config.addr.ip().is_loopback().then(browser::local_hosts))
        .layer(browser::OriginGuardLayer::new(config.origins.clone()))
        .layer(cors);
    let metrics = ctx.metrics.clone();
    let module = module(ctx);
    let known: Arc<HashSet<&'static str>> = Arc::new(module.method_names().collect());
    let unsafe_methods: Arc<HashSet<&'static str>> = Arc::new(UNSAFE_METHODS.into());
    let rpc = RpcServiceBuilder::new()
        .layer_fn(move |inner| browser::UnsafeGuard {
            inner,
            unsafe_methods: unsafe_methods.clone(),
        })
        .option_layer(metrics.map(|metrics| {
            tower::layer::layer_fn(move |inner| Counted {
                inner,
                metrics: metrics.clone(),
                known: known.clone(),
            })
        }));
    let server = Server::builder()
        .max_request_body_size(config.max_request_bytes)
        .max_response_body_size(config.max_response_bytes)
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions)
        .set_http_middleware(http)
        .set_rpc_middleware(rpc)
        .build(config.addr)
        .await?;
    let addr = server.local_addr()?;
    Ok((addr, server.start(module)))
}
