//! `mosaic gateway`: an IPFS path gateway and trustless gateway (the IPFS
//! HTTP Gateway specs) over the content Mosaic stores publicly.
//!
//! A request flows through one module per step:
//!
//! * [`server`]: accepts connections (at most [`GatewayConfig::max_connections`],
//!   request headers at most [`GatewayConfig::max_header_bytes`]), takes a
//!   request permit (at most [`GatewayConfig::max_requests`] at once, past
//!   that `503` with `Retry-After`) and bounds the time to the response's
//!   head ([`GatewayConfig::request_timeout`], then `504`).
//! * [`request`]: the content path (`/ipfs/{cid}[/path]`, `/ipns/{name}`),
//!   percent-decoded, and the response type negotiated from `?format=` and
//!   `Accept`, with the CAR parameters.
//! * [`respond`]: finds the object through [`PublicBlocks`] (the chain's
//!   live public orders, then the object's UnixFS pack index), resolves the
//!   path, and answers: a file's bytes (whole or one `Range`), a raw block,
//!   a CAR, a directory's `index.html` or its [`listing`]. File bytes are
//!   read leaf by leaf through the segment cache and each leaf is hashed
//!   against its CID before a byte of it is sent; [`content`] names its type.
//! * [`dag`] picks a CAR's blocks and their order from the pack's index,
//!   [`car`] frames them.
//!
//! Bodies stream through a channel of [`GatewayConfig::body_chunks`]
//! chunks of at most one leaf (1 MiB) each: a slow client holds that much
//! at most, and one that takes no chunk for [`GatewayConfig::idle_timeout`]
//! loses its connection.

mod car;
mod content;
mod dag;
mod listing;
mod range;
mod request;
mod respond;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::public_blocks::PublicBlocks;

/// Bounds of a gateway.
#[derive(Clone, Copy, Debug)]
pub struct GatewayConfig {
    /// Requests answered at once; past this, `503` with `Retry-After`.
    pub max_requests: usize,
    /// Open connections; past this, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Bytes of a request's head (request line and headers).
    pub max_header_bytes: usize,
    /// Time from a request to its response's head (finding the object,
    /// reading the first leaf); past this, `504`.
    pub request_timeout: Duration,
    /// Time a body may wait on the client (or on one leaf from the
    /// providers) before the connection is dropped.
    pub idle_timeout: Duration,
    /// Chunks buffered per streaming body.
    pub body_chunks: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            max_requests: 64,
            max_connections: 256,
            max_header_bytes: 16 << 10,
            request_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            body_chunks: 4,
        }
    }
}

/// What every request reads.
pub(crate) struct State {
    blocks: PublicBlocks,
    config: GatewayConfig,
    requests: Arc<Semaphore>,
}

/// A gateway bound to its address, not yet serving.
pub struct Gateway {
    listener: TcpListener,
    state: Arc<State>,
}

impl Gateway {
    /// Binds `addr` (port 0 picks a free one) to serve what `blocks` finds;
    /// its chain connection also resolves `/ipns/` names.
    pub async fn bind(
        addr: SocketAddr,
        config: GatewayConfig,
        blocks: PublicBlocks,
    ) -> std::io::Result<Gateway> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Gateway {
            listener,
            state: Arc::new(State {
                blocks,
                config,
                requests: Arc::new(Semaphore::new(config.max_requests)),
            }),
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the future is dropped.
    pub async fn serve(self) {
        server::serve(self.listener, self.state).await
    }
}
