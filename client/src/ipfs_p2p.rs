//! The gateway's libp2p host: what an IPFS node (Kubo, Helia) needs to find
//! Mosaic's public content and fetch it by CID with no Mosaic code.
//!
//! One swarm on TCP + noise + yamux speaks Identify (`/ipfs/id/1.0.0`,
//! agent `mosaic-gateway/<version>`), Ping, the IPFS Kademlia DHT in
//! server mode ([`routing`]: it answers GET_PROVIDERS for the roots of live
//! public orders and every block of those objects opened) and a Bitswap
//! 1.2.0 / 1.1.0 server ([`bitswap`] on the wire, [`server`] for wants and
//! lookups), whose blocks come from [`PublicBlocks`], each checked against
//! its CID.
//!
//! [`start`] binds the listeners and runs the swarm on a task of its own:
//! the event loop hands wantlists to the server, starts lookups (tasks of
//! their own: the loop never waits on the network of shards), and sends
//! what they find; it keeps the provider records as the chain follower
//! reports roots live or no longer live and as [`PublicBlocks`] opens
//! objects. The identity is the caller's (`mosaic gateway
//! --p2p-key FILE` keeps one across starts).

pub mod bitswap;
pub mod message;
pub mod routing;
pub mod server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cid::Cid;
use futures::StreamExt;
use libp2p::core::upgrade;
use libp2p::core::Transport as _;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, kad, noise, ping, tcp, yamux, Multiaddr, PeerId, Swarm};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::public_blocks::PublicBlocks;
use server::{BitswapServer, ServerLimits};

/// How long a connection may take to set up (TCP, noise, yamux).
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the listeners may take to come up.
const BIND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection with nothing going on is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Routing updates queued from the chain follower.
const MAX_ROUTING_UPDATES: usize = 256;

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// No listen address was given.
    #[error("no address to listen on")]
    NoListenAddress,
    /// The transport could not be set up.
    #[error("setting up the transport failed")]
    Transport(#[source] noise::Error),
    /// An address could not be listened on.
    #[error("cannot listen on {addr}: is another process using it?")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// The cause.
        #[source]
        source: libp2p::TransportError<std::io::Error>,
    },
    /// A listener failed or did not come up in time.
    #[error("the listener on {0} did not come up")]
    ListenFailed(Multiaddr),
}

/// The behaviours of the host.
#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<routing::ProvidedKeys>,
    bitswap: bitswap::Behaviour,
}

/// A running host; dropping it (or [`stop`](Self::stop)) stops it.
pub struct P2pHandle {
    peer_id: PeerId,
    addrs: Arc<Mutex<Vec<Multiaddr>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    follower: JoinHandle<()>,
}

impl P2pHandle {
    /// The host's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Every address the host listens on, ending in `/p2p/<peer id>`.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        let addrs = self.addrs.lock().unwrap_or_else(|e| e.into_inner());
        addrs
            .iter()
            .map(|addr| addr.clone().with(Protocol::P2p(self.peer_id)))
            .collect()
    }

    /// Stops the host and waits until its connections are closed.
    pub async fn stop(mut self) {
        self.follower.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for P2pHandle {
    fn drop(&mut self) {
        self.follower.abort();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts the host with identity `key` on the current tokio runtime:
/// listens on `listen`, waits until every listener is up, and serves
/// `blocks` until stopped.
pub async fn start(
    key: Keypair,
    listen: Vec<Multiaddr>,
    blocks: PublicBlocks,
) -> Result<P2pHandle, P2pError> {
    if listen.is_empty() {
        return Err(P2pError::NoListenAddress);
    }
    let local = key.public().to_peer_id();
    let noise = noise::Config::new(&key).map_err(P2pError::Transport)?;
    let transport = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
        .upgrade(upgrade::Version::V1Lazy)
        .authenticate(noise)
        .multiplex(yamux::Config::default())
        .timeout(SETUP_TIMEOUT);
    let agent = format!("mosaic-gateway/{}", env!("CARGO_PKG_VERSION"));
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|_| transport)
        .unwrap_or_else(|never| match never {})
        .with_behaviour(|key| Behaviour {
            identify: identify::Behaviour::new(
                identify::Config::new("/ipfs/0.1.0".into(), key.public()).with_agent_version(agent),
            ),
            ping: ping::Behaviour::default(),
            kad: routing::kademlia(local),
            bitswap: bitswap::Behaviour::default(),
        })
        .expect("building the behaviour cannot fail; qed")
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    let mut listeners = Vec::new();
    for addr in &listen {
        let id = swarm
            .listen_on(addr.clone())
            .map_err(|source| P2pError::Listen {
                addr: addr.clone(),
                source,
            })?;
        listeners.push((id, addr.clone()));
    }
    let addrs = Arc::new(Mutex::new(bind(&mut swarm, listeners).await?));
    for addr in addrs.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        tracing::info!(target: "mosaic::p2p", "libp2p listening on {addr}/p2p/{local}");
    }

    let (updates, routing) = mpsc::channel(MAX_ROUTING_UPDATES);
    let follower = tokio::spawn(routing::follow_orders(blocks.clone(), updates));
    let (stop, stopped) = oneshot::channel();
    let event_loop = EventLoop {
        swarm,
        server: BitswapServer::new(blocks.clone(), ServerLimits::default()),
        addrs: addrs.clone(),
        routing,
        opened: blocks.opened(),
        blocks,
    };
    let task = tokio::spawn(event_loop.run(stopped));
    Ok(P2pHandle {
        peer_id: local,
        addrs,
        stop: Some(stop),
        task: Some(task),
        follower,
    })
}

/// Waits until every listener reported an address.
async fn bind(
    swarm: &mut Swarm<Behaviour>,
    mut listeners: Vec<(libp2p::core::transport::ListenerId, Multiaddr)>,
) -> Result<Vec<Multiaddr>, P2pError> {
    let first = listeners[0].1.clone();
    let mut bound = Vec::new();
    let wait = async {
        while !listeners.is_empty() {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr {
                    listener_id,
                    address,
                } => {
                    listeners.retain(|(id, _)| *id != listener_id);
                    bound.push(address);
                }
                SwarmEvent::ListenerClosed { listener_id, .. }
                | SwarmEvent::ListenerError { listener_id, .. } => {
                    let addr = listeners
                        .iter()
                        .find(|(id, _)| *id == listener_id)
                        .map(|(_, addr)| addr.clone());
                    if let Some(addr) = addr {
                        return Err(P2pError::ListenFailed(addr));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    };
    match tokio::time::timeout(BIND_TIMEOUT, wait).await {
        Ok(result) => result?,
        Err(_) => return Err(P2pError::ListenFailed(first)),
    }
    Ok(bound)
}

struct EventLoop {
    swarm: Swarm<Behaviour>,
    server: BitswapServer,
    addrs: Arc<Mutex<Vec<Multiaddr>>>,
    routing: mpsc::Receiver<routing::Update>,
    /// Roots of the objects `blocks` opens.
    opened: broadcast::Receiver<Cid>,
    /// The store served, for the blocks of the objects it opened.
    blocks: PublicBlocks,
}

impl EventLoop {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) {
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                lookup = self.server.next_lookup() => self.server.finish(lookup),
                Some(update) = self.routing.recv() => self.on_routing(update),
                opened = self.opened.recv() => self.on_opened(opened),
                event = self.swarm.select_next_some() => self.on_swarm(event),
            }
            // Answers first, then new lookups as the bounds allow.
            self.server.flush(&mut self.swarm.behaviour_mut().bitswap);
            self.server.schedule();
        }
    }

    fn on_routing(&mut self, update: routing::Update) {
        let provided = self.swarm.behaviour_mut().kad.store_mut();
        match update {
            routing::Update::Provide(root) => {
                tracing::debug!(target: "mosaic::routing", "providing {root}");
                provided.provide_root(root);
                // Opened before its order was seen live.
                if let Some(open) = self.blocks.open_object(&root) {
                    provided.provide_blocks(&root, open.block_cids());
                }
            }
            routing::Update::Withdraw(root) => {
                tracing::debug!(target: "mosaic::routing", "withdrawing {root} and its blocks");
                provided.withdraw_root(&root);
            }
        }
    }

    /// Provides the blocks of an object just opened (if its root is live).
    fn on_opened(&mut self, opened: Result<Cid, RecvError>) {
        match opened {
            Ok(root) => {
                // Evicted meanwhile: provided when it is opened again.
                let Some(open) = self.blocks.open_object(&root) else {
                    return;
                };
                let provided = self.swarm.behaviour_mut().kad.store_mut();
                let count = provided.provide_blocks(&root, open.block_cids());
                tracing::debug!(target: "mosaic::routing", "{root} opened: {count} blocks provided");
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(target: "mosaic::routing", "{missed} opened objects missed: their blocks are provided when they are opened again");
            }
            Err(RecvError::Closed) => {
                unreachable!("the loop holds the store, which holds the sender; qed")
            }
        }
    }

    fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Bitswap(event)) => match event {
                bitswap::Event::Wants { peer, wantlist } => {
                    tracing::debug!(target: "mosaic::bitswap", "{peer} wants {} blocks", wantlist.entries.len());
                    self.server.receive(peer, wantlist);
                }
                bitswap::Event::Garbage { peer, error } => {
                    tracing::debug!(target: "mosaic::bitswap", "{peer} sent garbage: {error}");
                }
                bitswap::Event::Done { peer, count, .. } => self.server.done(peer, count),
                bitswap::Event::Disconnected { peer } => self.server.disconnected(peer),
            },
            SwarmEvent::NewListenAddr { address, .. } => {
                let mut addrs = self.addrs.lock().unwrap_or_else(|e| e.into_inner());
                if !addrs.contains(&address) {
                    addrs.push(address);
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                let mut addrs = self.addrs.lock().unwrap_or_else(|e| e.into_inner());
                addrs.retain(|a| *a != address);
            }
            _ => {}
        }
    }
}
