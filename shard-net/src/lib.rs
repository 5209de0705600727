//! The shard exchange protocol: how pieces travel between clients and
//! storage workers over libp2p (TCP + noise + yamux, one stream per request).
//!
//! * [`protocol`]: the messages (SCALE, length-prefixed, size-limited) and
//!   the typed refusals a worker answers with.
//! * [`store`]: where a worker keeps pieces ([`ShardStore`]): on disk
//!   (temporary file, fsync, rename, then metadata) or in memory.
//! * [`server`]: the serving side: admits an offered piece only when the
//!   [`Admission`](server::Admission) (the worker's view of the chain) says
//!   it is assigned, checks the shard-root list against the piece root and
//!   every arriving shard against that list, then stores it; serves shards,
//!   byte ranges and leaf proofs of what it holds.
//! * [`net`]: a cloneable [`ShardClient`] handle over a bounded channel and
//!   the event loop that owns the swarm; inbound requests past the limits
//!   are answered `busy`, never queued.
//!
//! A put is an `Offer` (the piece's shard-root list; the answer says how
//! many segments are already stored, so an interrupted upload resumes) and
//! then one `PutShard` per segment, in order, each verified on arrival.

pub mod net;
pub mod protocol;
pub mod server;
pub mod store;

pub use libp2p::{identity::Keypair, multiaddr::Protocol, Multiaddr, PeerId};
pub use net::{NetConfig, NetError, RequestError, ShardClient};
pub use protocol::{Answer, Refusal, Request};
pub use store::{PieceMeta, ShardStore, StoreError};
