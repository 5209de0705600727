//! Wires the node together from a [`Config`]: database, chain, pool,
//! keystore, authoring, JSON-RPC and metrics, each a task on the Tokio
//! runtime, until [`Node::stop`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use mosaic_api::p2p_key::{self, P2pKeyError};
use mosaic_chain_spec::{ChainSpec, ChainSpecError};
use tokio::task::JoinHandle;

use crate::author::Authoring;
use crate::chain::Chain;
use crate::grandpa;
use crate::keystore::{Keystore, KeystoreError};
use crate::metrics::Metrics;
use crate::network::{Network, NetworkConfig, NetworkError};
use crate::pool::{Pool, PoolConfig};
use crate::rpc::{self, NodeInfo, RpcConfig, RpcContext};
use crate::store::{StatePruning, Store, StoreError};

/// Everything the node needs to start.
pub struct Config {
    /// The chain.
    pub chain_spec: ChainSpec,
    /// `<base path>/chains/<chain id>`: database, keystore, node key.
    pub chain_dir: PathBuf,
    /// `--name`.
    pub name: String,
    /// Author blocks with the keystore's keys, and how.
    pub validator: Option<Authoring>,
    /// A development seed (`//Alice`) whose keys go into the keystore.
    pub dev_seed: Option<String>,
    /// `--state-pruning`.
    pub state_pruning: StatePruning,
    /// The JSON-RPC server, if enabled.
    pub rpc: Option<RpcConfig>,
    /// The Prometheus endpoint, if enabled.
    pub prometheus: Option<SocketAddr>,
    /// `--node-key`, overriding the stored one.
    pub node_key: Option<[u8; 32]>,
    /// The peer-to-peer network.
    pub network: NetworkConfig,
    /// Pool limits.
    pub pool: PoolConfig,
}

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The chain spec's genesis could not be built.
    #[error(transparent)]
    ChainSpec(#[from] ChainSpecError),
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The keystore could not be opened.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    /// The node key could not be loaded.
    #[error(transparent)]
    NodeKey(#[from] P2pKeyError),
    /// The network could not start.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// A server could not bind.
    #[error(
        "cannot listen for {what}: is another node using its port? Stop it or pick another port"
    )]
    Bind {
        /// Which server.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// A thread could not start.
    #[error("cannot start the {what} thread")]
    Thread {
        /// Which.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running node.
pub struct Node {
    /// The chain.
    pub chain: Arc<Chain>,
    /// The transaction pool.
    pub pool: Arc<Pool>,
    /// The network.
    pub network: Network,
    /// Where JSON-RPC listens.
    pub rpc_addr: Option<SocketAddr>,
    /// Where Prometheus metrics are served.
    pub prometheus_addr: Option<SocketAddr>,
    rpc: Option<jsonrpsee::server::ServerHandle>,
    tasks: Vec<JoinHandle<()>>,
    /// Tasks on threads of their own, stopped and waited for before the
    /// database is flushed (they use it to the end).
    threads: Vec<OwnThread>,
}

/// Opens the database of `config`'s chain.
pub fn open_store(config: &Config) -> Result<Store, ServiceError> {
    let genesis = config.chain_spec.genesis_header()?;
    let storage = config.chain_spec.genesis_storage()?;
    Ok(Store::open(
        &config.chain_dir.join("db"),
        config.state_pruning,
        &genesis,
        storage,
    )?)
}

/// Starts the node.
pub async fn start(config: Config) -> Result<Node, ServiceError> {
    let metrics = Metrics::new();
    let store = open_store(&config)?;
    let chain = Arc::new(Chain::new(store, Some(metrics.clone())));
    let info = chain.info();
    tracing::info!(
        target: "mosaic::service",
        chain = %config.chain_spec.name,
        genesis = ?info.genesis_hash,
        best = info.best_number,
        finalized = info.finalized_number,
        "database open at {}",
        config.chain_dir.join("db").display()
    );
    let keystore = Arc::new(Keystore::open(&config.chain_dir.join("keystore"))?);
    if let Some(seed) = &config.dev_seed {
        keystore.insert_dev(seed)?;
    }
    let node_key = match config.node_key {
        Some(secret) => p2p_key::from_secret(secret)?,
        None => p2p_key::load_or_create(&config.chain_dir.join("network/secret_ed25519"))?,
    };
    let peer_id = node_key.public().to_peer_id();
    tracing::info!(target: "mosaic::service", %peer_id, "local identity");

    let pool = Arc::new(Pool::new(chain.clone(), config.pool));
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(follow_chain(
        chain.clone(),
        pool.clone(),
        metrics.clone(),
    )));
    let (network, worker) = Network::new(peer_id);
    let (grandpa_link, grandpa_incoming) = grandpa::link();
    let network_task = crate::network::start(
        config.network.clone(),
        node_key,
        chain.clone(),
        pool.clone(),
        grandpa_link.clone(),
        worker,
    )
    .await?;
    tasks.push(tokio::spawn(network_task));
    // The voter reads and writes the database as it goes (ancestry, votes,
    // finalization): on a thread of its own, it never holds up the shared
    // workers that the network and JSON-RPC run on.
    let threads = vec![OwnThread::spawn(
        "GRANDPA",
        grandpa::run(
            chain.clone(),
            keystore.clone(),
            network.clone(),
            grandpa_link,
            grandpa_incoming,
        ),
    )?];
    if let Some(authoring) = config.validator {
        let announcer = network.clone();
        tasks.push(tokio::spawn(crate::author::run(
            chain.clone(),
            pool.clone(),
            keystore.clone(),
            authoring,
            move |block| announcer.announce_block(block),
        )));
    }

    // Metrics first: once JSON-RPC is announced, every server is up.
    let mut prometheus_addr = None;
    if let Some(addr) = config.prometheus {
        let (addr, task) =
            crate::metrics::serve(addr, metrics.clone())
                .await
                .map_err(|source| ServiceError::Bind {
                    what: "Prometheus",
                    source,
                })?;
        tracing::info!(target: "mosaic::metrics", "Prometheus listening on {addr}");
        prometheus_addr = Some(addr);
        tasks.push(tokio::spawn(task));
    }
    let (mut rpc_addr, mut rpc) = (None, None);
    if let Some(rpc_config) = &config.rpc {
        let spec = &config.chain_spec;
        let ctx = RpcContext {
            chain: chain.clone(),
            pool: pool.clone(),
            keystore: keystore.clone(),
            network: Some(network.clone()),
            info: NodeInfo {
                name: config.name.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
                chain: spec.name.clone(),
                chain_type: serde_json::to_value(spec.chain_type)
                    .expect("chain types serialize; qed"),
                properties: spec.properties.clone().into(),
                peer_id: peer_id.to_string(),
                should_have_peers: spec.chain_type != mosaic_chain_spec::ChainType::Development,
            },
            metrics: Some(metrics.clone()),
            unsafe_methods: rpc_config.unsafe_methods,
        };
        let (addr, handle) =
            rpc::start(rpc_config, ctx)
                .await
                .map_err(|source| ServiceError::Bind {
                    what: "JSON-RPC",
                    source,
                })?;
        tracing::info!(target: "mosaic::rpc", "JSON-RPC listening on {addr}");
        rpc_addr = Some(addr);
        rpc = Some(handle);
    }
    Ok(Node {
        chain,
        pool,
        network,
        rpc_addr,
        prometheus_addr,
        rpc,
        tasks,
        threads,
    })
}

/// A task on a thread named after it, with a single-threaded runtime of
/// its own.
struct OwnThread {
    stop: tokio::sync::oneshot::Sender<()>,
    ended: tokio::sync::oneshot::Receiver<()>,
}

impl OwnThread {
    fn spawn(
        what: &'static str,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<OwnThread, ServiceError> {
        let failed = |source| ServiceError::Thread { what, source };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(failed)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (done, ended) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(what.into())
            .spawn(move || {
                runtime.block_on(async {
                    tokio::select! {
                        _ = task => {}
                        _ = stopped => {}
                    }
                });
                // The runtime goes first: nothing of the task runs after.
                drop(runtime);
                let _ = done.send(());
            })
            .map_err(failed)?;
        Ok(OwnThread { stop, ended })
    }

    /// Stops the task and waits until nothing of it runs.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.ended.await;
    }
}

/// Keeps the pool and the metrics up to date with the chain.
async fn follow_chain(chain: Arc<Chain>, pool: Arc<Pool>, metrics: Metrics) {
    let mut events = chain.subscribe();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(target: "mosaic::pool", missed, "fell behind the chain");
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let info = chain.info();
        metrics
            .block_height
            .with_label_values(&["best"])
            .set(info.best_number.into());
        metrics
            .block_height
            .with_label_values(&["finalized"])
            .set(info.finalized_number.into());
        metrics
            .finality_lag
            .set((info.best_number - info.finalized_number).into());
        let pool2 = pool.clone();
        let maintained = tokio::task::spawn_blocking(move || {
            pool2.maintain(&event);
            pool2.len()
        })
        .await;
        if let Ok(len) = maintained {
            metrics.pool_size.set(len as i64);
        }
    }
}

impl Node {
    /// Stops every task and the servers, and flushes the database.
    pub async fn stop(self) {
        if let Some(rpc) = self.rpc {
            let _ = rpc.stop();
            rpc.stopped().await;
        }
        for task in self.tasks {
            task.abort();
        }
        for thread in self.threads {
            thread.stop().await;
        }
        if let Err(e) = self.chain.store().flush() {
            tracing::warn!(target: "mosaic::service", "flushing the database: {e}");
        }
    }
}
