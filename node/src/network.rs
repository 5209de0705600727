//! The peer-to-peer network (rust-libp2p): TCP with Noise and Yamux,
//! Kademlia and Identify to find peers, gossipsub for transactions, blocks
//! and GRANDPA messages, and request-response for [`Status`], block ranges
//! (sync), a block's ancestry (for a block a vote names) and GRANDPA
//! catch-ups.
//!
//! One task owns the swarm; it reads no database and checks no signature.
//! Blocks, transactions and GRANDPA messages a peer sends are checked by
//! [`import`]'s tasks, off the swarm's task, and only then forwarded
//! (gossipsub's validation mode); requests are answered on the blocking
//! pool, a few at a time ([`server`]). A peer that sends garbage, an invalid
//! block, an equivocation or a forged vote loses reputation ([`peers`]); at
//! [`BAN_THRESHOLD`] it is disconnected and refused for [`BAN_DURATION`].
//!
//! Sync: every peer's [`Status`] is asked on connection and every few
//! seconds. While a peer's best block is higher than ours, we ask it for the
//! blocks of its best chain after ours, 128 at a time, and import them
//! (every seal and state root is checked); should the first not attach to our
//! chain, we ask again along the peer's chain from our finalized block, which
//! honest peers share. A peer that fails us is left out for a while.
//! Blocks come with their GRANDPA justifications, which are verified and
//! finalize them ([`sync`]).

mod import;
mod peers;
pub mod protocol;
mod server;
mod sync;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{allow_block_list, connection_limits, identify, kad, noise, ping, tcp, yamux, Swarm};
pub use libp2p::{Multiaddr, PeerId};
use libp2p_identity::Keypair;
use mosaic_runtime::{Block, BlockNumber, Hash};
use parity_scale_codec::Encode;
use polkadot_sdk::sp_runtime::traits::Header as _;
use tokio::sync::mpsc;

use crate::chain::Chain;
use crate::grandpa;
use crate::pool::Pool;
pub use peers::{cost, BAN_DURATION, BAN_THRESHOLD};
use protocol::{GrandpaMessage, Protocols, Request, Response, Status, SyncBlock};
use server::*;
use sync::*;

/// Commands from the rest of the node.
#[derive(Debug)]
enum Command {
    /// Gossip a block we authored.
    AnnounceBlock(Block),
    /// Gossip a GRANDPA message.
    Grandpa(GrandpaMessage),
    /// Ask a peer for its last completed round.
    CatchUp { peer: PeerId, set_id: u64 },
    /// Fetch a block and its missing ancestors from a peer.
    Fetch { peer: PeerId, hash: Hash },
    /// Add a reserved peer.
    AddReserved(Multiaddr),
    /// Remove a reserved peer.
    RemoveReserved(PeerId),
}

/// Network settings.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Addresses to listen on (`--listen-addr`, or `--port` on every
    /// interface).
    pub listen: Vec<Multiaddr>,
    /// Addresses to tell peers about (`--public-addr`).
    pub public: Vec<Multiaddr>,
    /// Peers to start from, each with its `/p2p/<peer id>`.
    pub bootnodes: Vec<Multiaddr>,
    /// Peers to stay connected to, each with its `/p2p/<peer id>`.
    pub reserved: Vec<Multiaddr>,
    /// Connections at most.
    pub max_peers: u32,
    /// Connect to reserved peers only.
    pub reserved_only: bool,
}

/// A connected peer, for `system_peers`.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    /// Its id.
    pub peer_id: PeerId,
    /// Its chain, once it has told us.
    pub status: Option<Status>,
}

#[derive(Default)]
struct Shared {
    peers: HashMap<PeerId, Option<Status>>,
    listen: Vec<Multiaddr>,
    reserved: Vec<PeerId>,
}

/// The rest of the node's handle on the network.
#[derive(Clone)]
pub struct Network {
    local_peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    shared: Arc<RwLock<Shared>>,
}

/// The worker's end of [`Network`].
pub struct NetworkWorker {
    commands: mpsc::Receiver<Command>,
    shared: Arc<RwLock<Shared>>,
}

/// Commands queued for the worker at most; more are dropped with a warning.
const COMMAND_QUEUE: usize = 1024;

impl Network {
    /// A handle and the worker end it talks to; [`start`] runs the worker.
    pub fn new(local_peer_id: PeerId) -> (Network, NetworkWorker) {
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let shared = Arc::new(RwLock::new(Shared::default()));
        (
            Network {
                local_peer_id,
                commands,
                shared: shared.clone(),
            },
            NetworkWorker {
                commands: receiver,
                shared,
            },
        )
    }

    /// Our peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// Connected peers.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let shared = self.shared.read().expect("never poisoned; qed");
        shared
            .peers
            .iter()
            .map(|(peer_id, status)| PeerInfo {
                peer_id: *peer_id,
                status: *status,
            })
            .collect()
    }

    /// Where we listen, with our peer id.
    pub fn listen_addresses(&self) -> Vec<Multiaddr> {
        let shared = self.shared.read().expect("never poisoned; qed");
        shared
            .listen
            .iter()
            .map(|a| a.clone().with(Protocol::P2p(self.local_peer_id)))
            .collect()
    }

    /// Gossips a block this node authored.
    pub fn announce_block(&self, block: Block) {
        self.send(Command::AnnounceBlock(block));
    }

    /// Gossips a GRANDPA message.
    pub fn gossip_grandpa(&self, message: GrandpaMessage) {
        self.send(Command::Grandpa(message));
    }

    /// Asks `peer` for its last completed GRANDPA round of `set_id`; the
    /// answer goes to GRANDPA.
    pub fn request_catch_up(&self, peer: PeerId, set_id: u64) {
        self.send(Command::CatchUp { peer, set_id });
    }

    /// Fetches block `hash` with the ancestors we lack from `peer`, and
    /// imports them.
    pub fn fetch_block(&self, peer: PeerId, hash: Hash) {
        self.send(Command::Fetch { peer, hash });
    }

    /// Adds a reserved peer (`system_addReservedPeer`); it must end in
    /// `/p2p/<peer id>`.
    pub fn add_reserved(&self, addr: Multiaddr) -> Result<(), NetworkError> {
        peer_id_of(&addr).ok_or_else(|| NetworkError::NoPeerId(addr.clone()))?;
        self.send(Command::AddReserved(addr));
        Ok(())
    }

    /// Removes a reserved peer (`system_removeReservedPeer`); with
    /// `--reserved-only` it is disconnected.
    pub fn remove_reserved(&self, peer: PeerId) {
        self.send(Command::RemoveReserved(peer));
    }

    /// The reserved peers.
    pub fn reserved(&self) -> Vec<PeerId> {
        self.shared
            .read()
            .expect("never poisoned; qed")
            .reserved
            .clone()
    }

    fn send(&self, command: Command) {
        if let Err(e) = self.commands.try_send(command) {
            tracing::warn!(target: "mosaic::network", "network busy, dropped: {e}");
        }
    }
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// libp2p refused the transport or behaviour.
    #[error("libp2p: {0}")]
    Setup(String),
    /// An address could not be listened on.
    #[error("listening on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// The cause.
        reason: String,
    },
    /// A bootnode or reserved node without `/p2p/<peer id>`.
    #[error("{0} has no /p2p/<peer id>")]
    NoPeerId(Multiaddr),
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    gossip: gossipsub::Behaviour,
    sync: request_response::Behaviour<protocol::Codec>,
}

/// The peer id at the end of a multiaddr.
pub fn peer_id_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(peer) => Some(peer),
        _ => None,
    })
}

/// How often sync and peer statuses are looked at.
const TICK: Duration = Duration::from_secs(1);
/// How often each peer's status is asked again.
const STATUS_INTERVAL: Duration = Duration::from_secs(5);
/// How long a block request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests answered at once, at most.
const MAX_SERVING: usize = 4;
/// Request streams open at once per connection, at most.
const MAX_STREAMS: usize = 8;
/// How long a peer that failed a sync request is left out of sync.
const SYNC_BACKOFF: Duration = Duration::from_secs(30);
/// Ancestry fetches in flight at most.
const MAX_FETCHES: usize = 16;
/// Blocks asked per sync request.
const SYNC_BATCH: u32 = protocol::MAX_BLOCKS_PER_RESPONSE;

/// Starts the network worker: binds the listen addresses and dials the
/// bootnodes and reserved nodes. Returns once it listens.
pub async fn start(
    config: NetworkConfig,
    key: Keypair,
    chain: Arc<Chain>,
    pool: Arc<Pool>,
    grandpa: grandpa::NetworkLink,
    worker: NetworkWorker,
) -> Result<impl std::future::Future<Output = ()>, NetworkError> {
    let genesis = chain.info().genesis_hash;
    let protocols = Protocols::new(genesis);
    let mut swarm = build_swarm(key, &protocols, config.max_peers)?;
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NetworkError::Listen {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
    }
    // Wait for the listeners, so the caller can print real addresses.
    let mut listening = 0;
    while listening < config.listen.len() {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(target: "mosaic::network", "listening on {address}/p2p/{}", swarm.local_peer_id());
                worker
                    .shared
                    .write()
                    .expect("never poisoned; qed")
                    .listen
                    .push(address);
                listening += 1;
            }
            SwarmEvent::ListenerError { error, .. }
            | SwarmEvent::ListenerClosed {
                reason: Err(error), ..
            } => {
                return Err(NetworkError::Listen {
                    addr: config.listen[listening].clone(),
                    reason: error.to_string(),
                })
            }
            _ => {}
        }
    }
    for addr in &config.public {
        swarm.add_external_address(addr.clone());
    }
    let mut reserved = Vec::new();
    for addr in config.bootnodes.iter().chain(&config.reserved) {
        let peer = peer_id_of(addr).ok_or_else(|| NetworkError::NoPeerId(addr.clone()))?;
        if config.reserved.contains(addr) {
            reserved.push((peer, addr.clone()));
        } else if config.reserved_only {
            continue;
        }
        swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
        if let Err(e) = swarm.dial(addr.clone()) {
            tracing::warn!(target: "mosaic::network", "dialing {addr}: {e}");
        }
    }
    worker.shared.write().expect("never poisoned; qed").reserved =
        reserved.iter().map(|(peer, _)| *peer).collect();
    for topic in [
        &protocols.transactions,
        &protocols.blocks,
        &protocols.grandpa,
    ] {
        swarm
            .behaviour_mut()
            .gossip
            .subscribe(&IdentTopic::new(topic.clone()))
            .map_err(|e| NetworkError::Setup(e.to_string()))?;
    }
    let (importer, outcomes) = import::spawn(chain.clone(), pool.clone(), grandpa.clone());
    let mut local_txs = pool.local_submissions();
    let (answers, mut answered) = mpsc::channel(MAX_SERVING);
    let mut state = Worker {
        swarm,
        protocols,
        server: Arc::new(Server {
            chain: chain.clone(),
            grandpa: grandpa.clone(),
        }),
        answers,
        serving: Arc::new(tokio::sync::Semaphore::new(MAX_SERVING)),
        chain,
        grandpa,
        importer,
        shared: worker.shared,
        reputation: HashMap::new(),
        banned: Vec::new(),
        reserved,
        reserved_only: config.reserved_only,
        pending: HashMap::new(),
        status_asked: HashMap::new(),
        sync: SyncState::Idle,
        backoff: HashMap::new(),
    };
    let mut commands = worker.commands;
    let mut outcomes = outcomes;
    Ok(async move {
        let mut tick = tokio::time::interval(TICK);
        let mut bootstrap = tokio::time::interval(Duration::from_secs(30));
        loop {
            tokio::select! {
                event = state.swarm.select_next_some() => state.on_swarm(event),
                Some(command) = commands.recv() => state.on_command(command),
                Some(outcome) = outcomes.recv() => state.on_outcome(outcome),
                Some((channel, response)) = answered.recv() => {
                    // Fails only if the peer went away.
                    let _ = state.swarm.behaviour_mut().sync.send_response(channel, response);
                }
                tx = local_txs.recv() => match tx {
                    Ok(tx) => state.publish(Topic::Transactions, tx),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(target: "mosaic::network", "{n} local transactions not gossiped")
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => state.on_tick(),
                _ = bootstrap.tick(), if !state.reserved_only => {
                    // Fails only while we know no peer, which the next
                    // round fixes.
                    let _ = state.swarm.behaviour_mut().kad.bootstrap();
                }
            }
        }
    })
}

fn build_swarm(
    key: Keypair,
    protocols: &Protocols,
    max_peers: u32,
) -> Result<Swarm<Behaviour>, NetworkError> {
    let setup = |e: &dyn std::fmt::Display| NetworkError::Setup(e.to_string());
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| setup(&e))?
        .with_behaviour(
            |key| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                let peer_id = key.public().to_peer_id();
                let gossip_config = gossipsub::ConfigBuilder::default()
                    .validation_mode(gossipsub::ValidationMode::Strict)
                    .validate_messages()
                    .max_transmit_size(protocol::MAX_GOSSIP)
                    .heartbeat_interval(Duration::from_millis(500))
                    .heartbeat_initial_delay(Duration::from_millis(100))
                    // Messages wait for their check this long (20 heartbeats):
                    // a block's import can take seconds.
                    .history_length(20)
                    .message_id_fn(message_id)
                    .build()?;
                let gossip = gossipsub::Behaviour::new(
                    gossipsub::MessageAuthenticity::Signed(key.clone()),
                    gossip_config,
                )?;
                let mut kad_config = kad::Config::new(protocols.kad.clone());
                kad_config.set_query_timeout(Duration::from_secs(30));
                let mut kad = kad::Behaviour::with_config(
                    peer_id,
                    kad::store::MemoryStore::new(peer_id),
                    kad_config,
                );
                kad.set_mode(Some(kad::Mode::Server));
                let limits = connection_limits::ConnectionLimits::default()
                    .with_max_established(Some(max_peers))
                    .with_max_established_per_peer(Some(2))
                    .with_max_pending_incoming(Some(max_peers));
                Ok(Behaviour {
                    blocked: Default::default(),
                    limits: connection_limits::Behaviour::new(limits),
                    identify: identify::Behaviour::new(identify::Config::new(
                        "/mosaic/1".into(),
                        key.public(),
                    )),
                    ping: ping::Behaviour::default(),
                    kad,
                    gossip,
                    sync: request_response::Behaviour::new(
                        [(protocols.sync.clone(), ProtocolSupport::Full)],
                        request_response::Config::default()
                            .with_request_timeout(REQUEST_TIMEOUT)
                            .with_max_concurrent_streams(MAX_STREAMS),
                    ),
                })
            },
        )
        .map_err(|e| setup(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    Ok(swarm)
}

/// Gossip message ids: transactions and blocks by content, so one that
/// reaches us from two peers is checked once; GRANDPA messages by content
/// and sequence number, so a vote sent again (for peers that missed it) is
/// delivered again.
fn message_id(message: &gossipsub::Message) -> MessageId {
    use polkadot_sdk::sp_runtime::traits::{BlakeTwo256, Hash as _};
    let mut bytes = message.data.clone();
    if message.topic.as_str().ends_with("/grandpa/1") {
        bytes.extend(message.sequence_number.unwrap_or_default().to_le_bytes());
        bytes.extend(message.source.map(|p| p.to_bytes()).unwrap_or_default());
    }
    MessageId::from(BlakeTwo256::hash(&bytes).as_bytes().to_vec())
}

#[derive(Clone, Copy, Debug)]
enum Topic {
    Transactions,
    Blocks,
    Grandpa,
}

struct Worker {
    swarm: Swarm<Behaviour>,
    protocols: Protocols,
    server: Arc<Server>,
    answers: mpsc::Sender<(request_response::ResponseChannel<Response>, Response)>,
    /// Requests being answered; more wait in libp2p's streams.
    serving: Arc<tokio::sync::Semaphore>,
    chain: Arc<Chain>,
    grandpa: grandpa::NetworkLink,
    importer: import::Importer,
    shared: Arc<RwLock<Shared>>,
    reputation: HashMap<PeerId, i32>,
    banned: Vec<(Instant, PeerId)>,
    reserved: Vec<(PeerId, Multiaddr)>,
    reserved_only: bool,
    /// Outbound requests and what they asked.
    pending: HashMap<OutboundRequestId, Pending>,
    status_asked: HashMap<PeerId, Instant>,
    sync: SyncState,
    /// Peers not to sync from until then: they failed or gave nothing.
    backoff: HashMap<PeerId, Instant>,
}

impl Worker {
    fn topic(&self, topic: Topic) -> IdentTopic {
        IdentTopic::new(match topic {
            Topic::Transactions => &self.protocols.transactions,
            Topic::Blocks => &self.protocols.blocks,
            Topic::Grandpa => &self.protocols.grandpa,
        })
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) {
        let topic_hash = self.topic(topic);
        match self.swarm.behaviour_mut().gossip.publish(topic_hash, data) {
            Ok(_) | Err(gossipsub::PublishError::InsufficientPeers) => {}
            Err(gossipsub::PublishError::Duplicate) => {}
            Err(e) => tracing::debug!(target: "mosaic::network", ?topic, "not gossiped: {e}"),
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::AnnounceBlock(block) => self.publish(Topic::Blocks, block.encode()),
            Command::Grandpa(message) => self.publish(Topic::Grandpa, message.encode()),
            Command::CatchUp { peer, set_id } => {
                self.request(peer, Request::CatchUp { set_id }, Pending::CatchUp)
            }
            Command::Fetch { peer, hash } => {
                let fetching = self
                    .pending
                    .values()
                    .filter(|p| matches!(p, Pending::Ancestry))
                    .count();
                if fetching < MAX_FETCHES {
                    let request = Request::Ancestry {
                        hash,
                        max: SYNC_BATCH,
                    };
                    self.request(peer, request, Pending::Ancestry);
                }
            }
            Command::AddReserved(addr) => self.add_reserved(addr),
            Command::RemoveReserved(peer) => self.remove_reserved(peer),
        }
    }

    /// What RPC sees: connected peers with their statuses, listen
    /// addresses, reserved peers. Sync reads the statuses from here too.
    fn shared(&self) -> std::sync::RwLockWriteGuard<'_, Shared> {
        self.shared.write().expect("never poisoned; qed")
    }

    fn request(&mut self, peer: PeerId, request: Request, kind: Pending) {
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.pending.insert(id, kind);
    }

    fn validated(&mut self, id: &MessageId, peer: &PeerId, acceptance: MessageAcceptance) {
        // False only when the message aged out of the cache meanwhile.
        let _ = self
            .swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(id, peer, acceptance);
    }

    fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } => {
                if self.reserved_only && !self.reserved.iter().any(|(p, _)| *p == peer_id) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                if num_established.get() == 1 {
                    tracing::debug!(target: "mosaic::network", %peer_id, "connected");
                    self.shared().peers.insert(peer_id, None);
                    self.ask_status(peer_id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::debug!(target: "mosaic::network", %peer_id, "disconnected");
                self.shared().peers.remove(&peer_id);
                self.status_asked.remove(&peer_id);
                self.backoff.remove(&peer_id);
                self.reputation.remove(&peer_id);
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                let mut shared = self.shared();
                if !shared.listen.contains(&address) {
                    shared.listen.push(address);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_gossip(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            _ => {}
        }
    }

    fn on_gossip(&mut self, peer: PeerId, id: MessageId, message: gossipsub::Message) {
        let topic = message.topic.as_str();
        if topic == self.protocols.transactions {
            self.importer.transaction(peer, id, message.data);
        } else if topic == self.protocols.blocks {
            match protocol::decode::<Block>(&message.data) {
                Some(block) => {
                    self.note_best(peer, &block);
                    self.importer.block(peer, id, block);
                }
                None => {
                    self.validated(&id, &peer, MessageAcceptance::Reject);
                    self.report(peer, cost::GARBAGE, "undecodable block");
                }
            }
        } else if topic == self.protocols.grandpa {
            let Some(grandpa_message) = protocol::decode::<GrandpaMessage>(&message.data) else {
                self.validated(&id, &peer, MessageAcceptance::Reject);
                return self.report(peer, cost::GARBAGE, "undecodable GRANDPA message");
            };
            self.importer.grandpa(peer, id, grandpa_message);
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.unban_expired(now);
        self.dial_reserved();
        let stale: Vec<PeerId> = self
            .swarm
            .connected_peers()
            .copied()
            .filter(|peer| {
                self.status_asked
                    .get(peer)
                    .is_none_or(|at| now.duration_since(*at) >= STATUS_INTERVAL)
            })
            .collect();
        for peer in stale {
            self.ask_status(peer);
        }
        self.maybe_sync();
    }
}
