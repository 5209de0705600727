//! The event loop that owns the libp2p swarm, and the cloneable
//! [`ShardClient`] handle that talks to it over a bounded channel with a
//! oneshot reply per command.
//!
//! Inbound requests go to a [`Handler`] on their own task; past
//! [`NetConfig::max_inbound`] in flight, or [`NetConfig::max_inbound_per_peer`]
//! from one peer, they are answered [`Refusal::Busy`] at once. The loop
//! ends when every handle is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use libp2p::core::upgrade;
use libp2p::core::Transport as _;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{Answer, Codec, Framed, MemoryBudget, Refusal, Request, Response, PROTOCOL};

/// Answers inbound requests.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// The answer to `request` from `peer`.
    async fn handle(&self, peer: PeerId, request: Request) -> Response;
}

/// How long a connection may take to set up (TCP, noise, yamux).
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of the shard network.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Addresses to listen on; empty for a client that only asks.
    pub listen: Vec<Multiaddr>,
    /// Inbound requests being answered at once.
    pub max_inbound: usize,
    /// Inbound requests from one peer being answered at once.
    pub max_inbound_per_peer: usize,
    /// Bytes of inbound requests in memory at once (uploaded shards, mostly).
    pub max_inbound_bytes: usize,
    /// How long a request may take, transfer included.
    pub request_timeout: Duration,
    /// Commands queued from handles.
    pub max_commands: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            listen: Vec::new(),
            max_inbound: 64,
            max_inbound_per_peer: 16,
            max_inbound_bytes: 256 << 20,
            request_timeout: Duration::from_secs(60),
            max_commands: 256,
        }
    }
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
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
    /// The listener did not come up.
    #[error("no listen address came up within {0:?}")]
    ListenTimeout(Duration),
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The peer answered with a refusal.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The peer took the request but did not answer in time: it stalled.
    #[error("no answer within {0:?}")]
    Stalled(Duration),
    /// The peer could not be reached or broke the protocol.
    #[error("the request failed: {0}")]
    Network(#[source] OutboundFailure),
    /// The event loop stopped.
    #[error("the shard network stopped")]
    Closed,
}

enum Command {
    Request {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: Request,
        reply: oneshot::Sender<Result<Answer, RequestError>>,
    },
}

/// A handle on the shard network.
#[derive(Clone)]
pub struct ShardClient {
    commands: mpsc::Sender<Command>,
    peer_id: PeerId,
    listening: Vec<Multiaddr>,
}

impl ShardClient {
    /// This host's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The addresses it listens on, as bound (port 0 resolved).
    pub fn listening(&self) -> &[Multiaddr] {
        &self.listening
    }

    /// Sends `request` to `peer` (dialled at `addrs` if not connected) and
    /// waits for the answer.
    pub async fn request(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: Request,
    ) -> Result<Answer, RequestError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Request {
                peer,
                addrs,
                request,
                reply,
            })
            .await
            .map_err(|_| RequestError::Closed)?;
        answer.await.map_err(|_| RequestError::Closed)?
    }
}

type Behaviour = request_response::Behaviour<Codec>;

/// Starts the network on the current tokio runtime: listens, waits until
/// every listener is bound, and runs the event loop on its own task.
pub async fn spawn(
    key: Keypair,
    config: NetConfig,
    handler: Option<Arc<dyn Handler>>,
) -> Result<ShardClient, NetError> {
    let support = if handler.is_some() {
        ProtocolSupport::Full
    } else {
        ProtocolSupport::Outbound
    };
    let streams = config.max_inbound_per_peer * 2 + 16;
    let timeout = config.request_timeout;
    let noise = noise::Config::new(&key).map_err(NetError::Transport)?;
    // A peer that accepts the connection and then says nothing (a hung
    // process) fails the dial after this long instead of holding it forever.
    let transport = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
        .upgrade(upgrade::Version::V1Lazy)
        .authenticate(noise)
        .multiplex(yamux::Config::default())
        .timeout(SETUP_TIMEOUT);
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_other_transport(|_| transport)
        .unwrap_or_else(|never| match never {})
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                Codec::with_budget(MemoryBudget::new(config.max_inbound_bytes)),
                [(PROTOCOL, support)],
                request_response::Config::default()
                    .with_request_timeout(timeout)
                    .with_max_concurrent_streams(streams),
            )
        })
        .expect("building the behaviour cannot fail; qed")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|source| NetError::Listen {
                addr: addr.clone(),
                source,
            })?;
    }
    let listening = bind(&mut swarm, config.listen.len()).await?;
    let (commands, receiver) = mpsc::channel(config.max_commands);
    let client = ShardClient {
        commands,
        peer_id: *swarm.local_peer_id(),
        listening,
    };
    let (answers, answered) = mpsc::channel(config.max_inbound.max(1));
    let event_loop = EventLoop {
        swarm,
        config,
        handler,
        commands: receiver,
        answers,
        answered,
        pending: HashMap::new(),
        inbound: 0,
        per_peer: HashMap::new(),
    };
    tokio::spawn(event_loop.run());
    Ok(client)
}

/// Waits for `count` listeners to report their address.
async fn bind(swarm: &mut Swarm<Behaviour>, count: usize) -> Result<Vec<Multiaddr>, NetError> {
    const BIND_TIMEOUT: Duration = Duration::from_secs(10);
    let mut bound = Vec::new();
    let wait = async {
        while bound.len() < count {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                tracing::info!(target: "mosaic::shard", "shard protocol listening on {address}");
                bound.push(address);
            }
        }
    };
    tokio::time::timeout(BIND_TIMEOUT, wait)
        .await
        .map_err(|_| NetError::ListenTimeout(BIND_TIMEOUT))?;
    Ok(bound)
}

type Answered = (
    request_response::ResponseChannel<Response>,
    PeerId,
    Response,
);

struct EventLoop {
    swarm: Swarm<Behaviour>,
    config: NetConfig,
    handler: Option<Arc<dyn Handler>>,
    commands: mpsc::Receiver<Command>,
    answers: mpsc::Sender<Answered>,
    answered: mpsc::Receiver<Answered>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Answer, RequestError>>>,
    inbound: usize,
    per_peer: HashMap<PeerId, usize>,
}

impl EventLoop {
    async fn run(mut self) {
        loop {
            tokio::select! {
                // Local work first: finish answers before taking more.
                biased;
                Some((channel, peer, response)) = self.answered.recv() => {
                    self.inbound -= 1;
                    if let Some(count) = self.per_peer.get_mut(&peer) {
                        *count -= 1;
                        if *count == 0 {
                            self.per_peer.remove(&peer);
                        }
                    }
                    // The peer may have gone; nothing to do then.
                    let _ = self.swarm.behaviour_mut().send_response(channel, response);
                }
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.on_event(event),
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request {
                peer,
                addrs,
                request,
                reply,
            } => {
                for addr in addrs {
                    self.swarm.add_peer_address(peer, addr);
                }
                let id = self
                    .swarm
                    .behaviour_mut()
                    .send_request(&peer, Framed::Request(request, None));
                self.pending.insert(id, reply);
            }
        }
    }

    fn on_event(&mut self, event: SwarmEvent<request_response::Event<Framed, Response>>) {
        use request_response::{Event, Message};
        match event {
            SwarmEvent::Behaviour(Event::Message { peer, message }) => match message {
                Message::Request {
                    request, channel, ..
                } => self.on_request(peer, request, channel),
                Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.pending.remove(&request_id) {
                        let _ = reply.send(response.map_err(RequestError::Refused));
                    }
                }
            },
            SwarmEvent::Behaviour(Event::OutboundFailure {
                request_id, error, ..
            }) => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let error = match error {
                        OutboundFailure::Timeout => {
                            RequestError::Stalled(self.config.request_timeout)
                        }
                        error => RequestError::Network(error),
                    };
                    let _ = reply.send(Err(error));
                }
            }
            SwarmEvent::Behaviour(Event::InboundFailure { peer, error, .. }) => {
                tracing::debug!(target: "mosaic::shard", "inbound request from {peer} failed: {error}");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(target: "mosaic::shard", "shard protocol listening on {address}");
            }
            _ => {}
        }
    }

    fn on_request(
        &mut self,
        peer: PeerId,
        request: Framed,
        channel: request_response::ResponseChannel<Response>,
    ) {
        let from_peer = self.per_peer.get(&peer).copied().unwrap_or(0);
        let handler = self.handler.clone().filter(|_| {
            self.inbound < self.config.max_inbound && from_peer < self.config.max_inbound_per_peer
        });
        let (Some(handler), Framed::Request(request, held)) = (handler, request) else {
            let _ = self
                .swarm
                .behaviour_mut()
                .send_response(channel, Err(Refusal::Busy));
            return;
        };
        self.inbound += 1;
        *self.per_peer.entry(peer).or_default() += 1;
        let answers = self.answers.clone();
        tokio::spawn(async move {
            let response = handler.handle(peer, request).await;
            drop(held);
            // The loop holds the receiver for as long as it runs.
            let _ = answers.send((channel, peer, response)).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Semaphore;

    /// Answers every request with the bytes of its kind; one for segment 1
    /// waits for a permit of `gate` first.
    struct Echo {
        gate: Semaphore,
        started: AtomicUsize,
    }

    #[async_trait]
    impl Handler for Echo {
        async fn handle(&self, _: PeerId, request: Request) -> Response {
            self.started.fetch_add(1, Ordering::SeqCst);
            if let Request::Shard { segment: 1, .. } | Request::PutShard { segment: 1, .. } =
                request
            {
                self.gate.acquire().await.unwrap().forget();
            }
            Ok(Answer::Bytes(format!("{request:?}").into_bytes()))
        }
    }

    /// An echo server on loopback and a client of it, each with its
    /// settings.
    struct Fixture {
        echo: Arc<Echo>,
        server: ShardClient,
        client: ShardClient,
    }

    impl Fixture {
        async fn new(server: NetConfig, client: NetConfig) -> Self {
            let echo = Arc::new(Echo {
                gate: Semaphore::new(0),
                started: AtomicUsize::new(0),
            });
            let server = NetConfig {
                listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
                ..server
            };
            Fixture {
                server: spawn(Keypair::generate_ed25519(), server, Some(echo.clone()))
                    .await
                    .unwrap(),
                client: spawn(Keypair::generate_ed25519(), client, None)
                    .await
                    .unwrap(),
                echo,
            }
        }

        fn ask(
            &self,
            request: Request,
        ) -> impl std::future::Future<Output = Result<Answer, RequestError>> {
            let (client, server) = (self.client.clone(), self.server.clone());
            async move {
                client
                    .request(server.peer_id(), server.listening().to_vec(), request)
                    .await
            }
        }

        /// Waits until the server has started `count` requests.
        async fn started(&self, count: usize) {
            tokio::time::timeout(Duration::from_secs(10), async {
                while self.echo.started.load(Ordering::SeqCst) < count {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .unwrap();
        }
    }

    const ROOT: mosaic_primitives::piece::PieceRoot = mosaic_primitives::piece::PieceRoot([1; 32]);

    fn shard(segment: u32) -> Request {
        Request::Shard {
            root: ROOT,
            segment,
        }
    }

    #[tokio::test]
    async fn requests_cross_real_sockets_and_past_the_limit_are_answered_busy() {
        let net = Fixture::new(
            NetConfig {
                max_inbound_per_peer: 2,
                ..NetConfig::default()
            },
            NetConfig::default(),
        )
        .await;
        let Answer::Bytes(bytes) = net.ask(shard(0)).await.unwrap() else {
            panic!("bytes");
        };
        assert!(String::from_utf8(bytes).unwrap().contains("segment: 0"));

        // Two requests held at the gate fill this peer's share.
        let held: Vec<_> = (0..2).map(|_| tokio::spawn(net.ask(shard(1)))).collect();
        net.started(3).await;
        assert!(matches!(
            net.ask(shard(2)).await,
            Err(RequestError::Refused(Refusal::Busy))
        ));
        net.echo.gate.add_permits(2);
        for task in held {
            task.await.unwrap().unwrap();
        }
        // Room again.
        assert!(net.ask(shard(0)).await.is_ok());

        // A peer nobody listens for fails with a network error, not a hang.
        let nobody = Keypair::generate_ed25519().public().to_peer_id();
        let error = net
            .client
            .request(
                nobody,
                vec!["/ip4/127.0.0.1/tcp/1".parse().unwrap()],
                Request::Roots { root: ROOT },
            )
            .await
            .unwrap_err();
        assert!(matches!(error, RequestError::Network(_)), "{error}");
    }

    #[tokio::test]
    async fn a_peer_that_takes_a_request_and_never_answers_has_stalled() {
        let patience = Duration::from_millis(500);
        let net = Fixture::new(
            NetConfig::default(),
            NetConfig {
                request_timeout: patience,
                ..NetConfig::default()
            },
        )
        .await;
        // Connected and answering, then held at the gate.
        assert!(net.ask(shard(0)).await.is_ok());
        let error = net.ask(shard(1)).await.unwrap_err();
        assert!(
            matches!(error, RequestError::Stalled(after) if after == patience),
            "{error}"
        );
        net.echo.gate.add_permits(1);
    }

    #[tokio::test]
    async fn uploads_past_the_memory_budget_are_answered_busy() {
        let net = Fixture::new(
            NetConfig {
                max_inbound_bytes: 3 << 20,
                ..NetConfig::default()
            },
            NetConfig::default(),
        )
        .await;
        let put = |segment| Request::PutShard {
            order: 1,
            piece: 0,
            segment,
            shard: vec![7; 2 << 20],
        };
        // One 2 MiB shard held at the gate takes most of the 3 MiB.
        let held = tokio::spawn(net.ask(put(1)));
        net.started(1).await;
        assert!(matches!(
            net.ask(put(2)).await,
            Err(RequestError::Refused(Refusal::Busy))
        ));
        // Small requests still fit.
        assert!(net.ask(Request::Roots { root: ROOT }).await.is_ok());
        net.echo.gate.add_permits(1);
        held.await.unwrap().unwrap();
        assert!(net.ask(put(2)).await.is_ok());
    }

    #[tokio::test]
    async fn a_peer_that_accepts_and_says_nothing_fails_the_dial() {
        // A listening socket whose process never answers: the kernel
        // accepts, the handshake never completes.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let client = spawn(Keypair::generate_ed25519(), NetConfig::default(), None)
            .await
            .unwrap();
        let peer = Keypair::generate_ed25519().public().to_peer_id();
        let addr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
        let answer = tokio::time::timeout(
            SETUP_TIMEOUT * 3,
            client.request(peer, vec![addr], shard(0)),
        )
        .await
        .expect("the dial gives up");
        assert!(
            matches!(answer, Err(RequestError::Network(_))),
            "{answer:?}"
        );
        drop(silent);
    }
}
