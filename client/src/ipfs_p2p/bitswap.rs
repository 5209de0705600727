//! The Bitswap protocol on libp2p streams: a [`NetworkBehaviour`] and its
//! per-connection [`Handler`].
//!
//! Bitswap messages are one-way: a peer sends its wantlist on a stream it
//! opens, and answers go back on a stream this host opens, one message per
//! stream (as Helia sends them). The handler reads inbound streams message
//! after message and hands each checked [`Wantlist`] to the behaviour; it
//! writes each frame the behaviour gives it on a new outbound stream.
//!
//! Bounded: inbound streams read at once, events waiting for the behaviour
//! (past [`MAX_PENDING_EVENTS`] the handler stops reading, which pushes
//! back on the peer), frames waiting for a stream and streams being
//! written. A stream that carries garbage, an oversized frame or nothing
//! for [`STREAM_IDLE`] is dropped.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::io;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{self, BoxFuture, Ready};
use futures::stream::FuturesUnordered;
use futures::{AsyncWriteExt, FutureExt, StreamExt};
use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::{InboundUpgrade, OutboundUpgrade, UpgradeInfo};
use libp2p::core::Endpoint;
use libp2p::swarm::handler::{
    ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound,
};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
    NetworkBehaviour, NotifyHandler, Stream, StreamProtocol, SubstreamProtocol, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

use super::message::{
    decode_wantlist, read_frame, write_frame, MessageError, Wantlist, MAX_MESSAGE,
};

/// Bitswap 1.2.0: wants of blocks or of presences, DontHave answers.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/ipfs/bitswap/1.2.0");
/// Bitswap 1.1.0: blocks with CID prefixes, no presences.
pub const PROTOCOL_1_1: StreamProtocol = StreamProtocol::new("/ipfs/bitswap/1.1.0");

/// Inbound streams of one connection read at once; more are dropped.
const MAX_INBOUND_STREAMS: usize = 32;
/// Outbound streams of one connection being opened or written at once.
const MAX_OUTBOUND_STREAMS: usize = 4;
/// Frames of one connection waiting for a stream; more are dropped (the
/// server keeps fewer than this in flight per peer).
const MAX_OUTBOX: usize = 32;
/// Events a handler holds for the behaviour before it stops reading.
pub const MAX_PENDING_EVENTS: usize = 8;
/// How long an inbound stream may stay silent.
pub const STREAM_IDLE: Duration = Duration::from_secs(30);
/// How long opening and writing one outbound message may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Negotiates Bitswap 1.2.0 or 1.1.0 and hands over the stream.
#[derive(Clone, Copy, Debug, Default)]
pub struct BitswapUpgrade;

impl UpgradeInfo for BitswapUpgrade {
    type Info = StreamProtocol;
    type InfoIter = [StreamProtocol; 2];

    fn protocol_info(&self) -> Self::InfoIter {
        [PROTOCOL, PROTOCOL_1_1]
    }
}

impl InboundUpgrade<Stream> for BitswapUpgrade {
    type Output = Stream;
    type Error = Infallible;
    type Future = Ready<Result<Stream, Infallible>>;

    fn upgrade_inbound(self, stream: Stream, _: StreamProtocol) -> Self::Future {
        future::ready(Ok(stream))
    }
}

impl OutboundUpgrade<Stream> for BitswapUpgrade {
    type Output = Stream;
    type Error = Infallible;
    type Future = Ready<Result<Stream, Infallible>>;

    fn upgrade_outbound(self, stream: Stream, _: StreamProtocol) -> Self::Future {
        future::ready(Ok(stream))
    }
}

/// What the behaviour asks of a handler.
#[derive(Debug)]
pub enum FromBehaviour {
    /// Send this encoded message on a new stream.
    Send(Vec<u8>),
}

/// What a handler tells the behaviour.
#[derive(Debug)]
pub enum ToBehaviour {
    /// The peer sent a wantlist.
    Wants(Wantlist),
    /// The peer sent something that is not a Bitswap message; its stream
    /// was dropped.
    Garbage(MessageError),
    /// A message was written.
    Sent,
    /// This many messages could not be written (or never will be).
    Unsent(usize),
}

/// One read of an inbound stream: the stream back and what was read.
struct Read {
    stream: Stream,
    frame: io::Result<Option<Vec<u8>>>,
}

/// Bitswap on one connection.
pub struct Handler {
    reading: FuturesUnordered<BoxFuture<'static, Read>>,
    outbox: VecDeque<Vec<u8>>,
    /// Outbound streams asked for and not yet open.
    requested: usize,
    sending: FuturesUnordered<BoxFuture<'static, io::Result<()>>>,
    events: VecDeque<ToBehaviour>,
}

impl Handler {
    fn new() -> Self {
        Handler {
            reading: FuturesUnordered::new(),
            outbox: VecDeque::new(),
            requested: 0,
            sending: FuturesUnordered::new(),
            events: VecDeque::new(),
        }
    }

    fn read(&mut self, mut stream: Stream) {
        self.reading.push(
            async move {
                let frame =
                    match tokio::time::timeout(STREAM_IDLE, read_frame(&mut stream, MAX_MESSAGE))
                        .await
                    {
                        Ok(frame) => frame,
                        Err(_) => Err(io::ErrorKind::TimedOut.into()),
                    };
                Read { stream, frame }
            }
            .boxed(),
        );
    }

    fn on_read(&mut self, read: Read) {
        match read.frame {
            Ok(Some(frame)) => match decode_wantlist(&frame) {
                Ok(wantlist) => {
                    self.events.push_back(ToBehaviour::Wants(wantlist));
                    self.read(read.stream);
                }
                Err(error) => self.events.push_back(ToBehaviour::Garbage(error)),
            },
            // The peer closed its side: it sent all it meant to.
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(target: "mosaic::bitswap", "inbound stream dropped: {error}");
            }
        }
    }
}

impl ConnectionHandler for Handler {
    type FromBehaviour = FromBehaviour;
    type ToBehaviour = ToBehaviour;
    type InboundProtocol = BitswapUpgrade;
    type OutboundProtocol = BitswapUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<BitswapUpgrade, ()> {
        SubstreamProtocol::new(BitswapUpgrade, ())
    }

    fn connection_keep_alive(&self) -> bool {
        !self.reading.is_empty()
            || !self.outbox.is_empty()
            || self.requested > 0
            || !self.sending.is_empty()
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<BitswapUpgrade, (), ToBehaviour>> {
        while let Poll::Ready(Some(sent)) = self.sending.poll_next_unpin(cx) {
            self.events.push_back(match sent {
                Ok(()) => ToBehaviour::Sent,
                Err(error) => {
                    tracing::debug!(target: "mosaic::bitswap", "sending failed: {error}");
                    ToBehaviour::Unsent(1)
                }
            });
        }
        // Local work first: while the behaviour has not taken what was
        // read, nothing more is read.
        while self.events.len() < MAX_PENDING_EVENTS {
            match self.reading.poll_next_unpin(cx) {
                Poll::Ready(Some(read)) => self.on_read(read),
                _ => break,
            }
        }
        if let Some(event) = self.events.pop_front() {
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(event));
        }
        if self.outbox.len() > self.requested
            && self.requested + self.sending.len() < MAX_OUTBOUND_STREAMS
        {
            self.requested += 1;
            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                protocol: SubstreamProtocol::new(BitswapUpgrade, ()).with_timeout(SEND_TIMEOUT),
            });
        }
        Poll::Pending
    }

    fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<Option<ToBehaviour>> {
        let lost = self.outbox.len() + self.sending.len();
        self.outbox.clear();
        self.sending.clear();
        self.requested = 0;
        Poll::Ready((lost > 0).then_some(ToBehaviour::Unsent(lost)))
    }

    fn on_behaviour_event(&mut self, event: FromBehaviour) {
        let FromBehaviour::Send(frame) = event;
        if self.outbox.len() >= MAX_OUTBOX {
            self.events.push_back(ToBehaviour::Unsent(1));
            return;
        }
        self.outbox.push_back(frame);
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<BitswapUpgrade, BitswapUpgrade, (), ()>,
    ) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol: stream,
                ..
            }) => {
                if self.reading.len() >= MAX_INBOUND_STREAMS {
                    tracing::debug!(target: "mosaic::bitswap", "too many inbound streams: one dropped");
                    return;
                }
                self.read(stream);
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: mut stream,
                ..
            }) => {
                self.requested = self.requested.saturating_sub(1);
                let Some(frame) = self.outbox.pop_front() else {
                    return;
                };
                self.sending.push(
                    async move {
                        let write = async {
                            write_frame(&mut stream, &frame).await?;
                            stream.close().await
                        };
                        tokio::time::timeout(SEND_TIMEOUT, write)
                            .await
                            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
                    }
                    .boxed(),
                );
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { error, .. }) => {
                tracing::debug!(target: "mosaic::bitswap", "no outbound stream: {error}");
                self.requested = self.requested.saturating_sub(1);
                if self.outbox.pop_front().is_some() {
                    self.events.push_back(ToBehaviour::Unsent(1));
                }
            }
            _ => {}
        }
    }
}

/// What the Bitswap behaviour reports.
#[derive(Debug)]
pub enum Event {
    /// `peer` sent a wantlist.
    Wants {
        /// The peer.
        peer: PeerId,
        /// What it wants.
        wantlist: Wantlist,
    },
    /// `peer` sent something that is not a Bitswap message.
    Garbage {
        /// The peer.
        peer: PeerId,
        /// What was wrong.
        error: MessageError,
    },
    /// `count` messages to `peer` were written (`sent`) or given up.
    Done {
        /// The peer.
        peer: PeerId,
        /// How many.
        count: usize,
        /// Whether they were written.
        sent: bool,
    },
    /// The last connection to `peer` closed.
    Disconnected {
        /// The peer.
        peer: PeerId,
    },
}

/// Bitswap over every connection of the swarm.
#[derive(Default)]
pub struct Behaviour {
    /// Connections open per peer.
    connected: HashMap<PeerId, usize>,
    events: VecDeque<ToSwarm<Event, FromBehaviour>>,
}

impl Behaviour {
    /// Queues `frame` (an encoded message) for `peer`; false if it is not
    /// connected.
    pub fn send(&mut self, peer: PeerId, frame: Vec<u8>) -> bool {
        if !self.connected.contains_key(&peer) {
            return false;
        }
        self.events.push_back(ToSwarm::NotifyHandler {
            peer_id: peer,
            handler: NotifyHandler::Any,
            event: FromBehaviour::Send(frame),
        });
        true
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Event;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler::new())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler::new())
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(established) => {
                *self.connected.entry(established.peer_id).or_default() += 1;
            }
            FromSwarm::ConnectionClosed(closed) if closed.remaining_established == 0 => {
                self.connected.remove(&closed.peer_id);
                self.events
                    .push_back(ToSwarm::GenerateEvent(Event::Disconnected {
                        peer: closed.peer_id,
                    }));
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        let event = match event {
            ToBehaviour::Wants(wantlist) => Event::Wants { peer, wantlist },
            ToBehaviour::Garbage(error) => Event::Garbage { peer, error },
            ToBehaviour::Sent => Event::Done {
                peer,
                count: 1,
                sent: true,
            },
            ToBehaviour::Unsent(count) => Event::Done {
                peer,
                count,
                sent: false,
            },
        };
        self.events.push_back(ToSwarm::GenerateEvent(event));
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Event, THandlerInEvent<Self>>> {
        match self.events.pop_front() {
            Some(event) => Poll::Ready(event),
            None => Poll::Pending,
        }
    }
}
