//! The messages of `/mosaic/shard/1`: one request and one answer per
//! stream, each a SCALE value behind a 4-byte little-endian length, refused
//! past [`MAX_MESSAGE`] before anything is allocated. A server reads a
//! request only if its length fits the [`MemoryBudget`] of requests in
//! memory; past it, the bytes are read and dropped and the request is
//! answered `busy`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use mosaic_primitives::erasure::MAX_SHARD_SIZE;
use mosaic_primitives::merkle::ShardRoot;
use mosaic_primitives::piece::{PieceRoot, MAX_SEGMENTS};
use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode};

/// The protocol's name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/mosaic/shard/1");

/// Largest message: a shard of the largest size, or the shard-root list of
/// the longest piece, plus framing.
pub const MAX_MESSAGE: usize = {
    let shard = MAX_SHARD_SIZE as usize;
    let roots = MAX_SEGMENTS as usize * 32;
    (if shard > roots { shard } else { roots }) + 1024
};

/// An order on chain.
pub type OrderId = u64;

/// What a peer asks.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking)]
pub enum Request {
    /// Offers piece `piece` of `order`: its shard-root list, which must add
    /// up to the piece root the chain records. Answered
    /// [`Answer::Accepted`].
    Offer {
        /// The order.
        order: OrderId,
        /// The piece's index in the order.
        piece: u8,
        /// The root of the piece's shard of each segment, in order.
        shard_roots: Vec<ShardRoot>,
    },
    /// The shard of `segment` of an offered piece; segments go in order.
    /// Answered [`Answer::Stored`].
    PutShard {
        /// The order.
        order: OrderId,
        /// The piece's index in the order.
        piece: u8,
        /// The segment.
        segment: u32,
        /// The shard's bytes.
        shard: Vec<u8>,
    },
    /// The shard-root list of a held piece. Answered [`Answer::Roots`].
    Roots {
        /// The piece.
        root: PieceRoot,
    },
    /// One segment's shard of a held piece. Answered [`Answer::Bytes`].
    ///
    /// Whole shards only, never a part of one: a provider that dropped its
    /// piece can rebuild a challenged leaf from the same leaf of `k` other
    /// pieces (Reed-Solomon works position by position), and serving less
    /// than a shard would let it do so for `k` KiB instead of `k` shards
    /// (see the audit pallet's cost of cheating).
    Shard {
        /// The piece.
        root: PieceRoot,
        /// The segment.
        segment: u32,
    },
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking)]
pub enum Answer {
    /// The offer is taken; segments before `next` are stored already (all
    /// of them when the piece is held).
    Accepted {
        /// The next segment to send.
        next: u32,
    },
    /// The shard is stored; `next` is the segment to send next (the
    /// segment count once the piece is complete and durable).
    Stored {
        /// The next segment to send.
        next: u32,
    },
    /// A shard-root list.
    Roots(Vec<ShardRoot>),
    /// A shard.
    Bytes(Vec<u8>),
}

/// Why a worker refused a request.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, thiserror::Error,
)]
pub enum Refusal {
    /// The chain does not assign this piece to the worker (or the order is
    /// unknown to it).
    #[error("the piece is not assigned to this provider on chain")]
    NotAssigned,
    /// The shard-root list or a shard does not verify against the piece
    /// root on chain.
    #[error("the bytes do not match the piece root on chain")]
    RootMismatch,
    /// The worker has no room for the piece.
    #[error("the provider is over its capacity")]
    OverCapacity,
    /// Too many requests in flight; try again later.
    #[error("the provider is busy; try again later")]
    Busy,
    /// The worker does not hold what was asked for.
    #[error("the provider does not hold it")]
    NotFound,
    /// A segment out of order or out of range, a range too long.
    #[error("the request is malformed or out of range")]
    Malformed,
    /// The worker failed to store or read (its disk); its log says why.
    #[error("the provider failed to store or read it")]
    Failed,
}

/// What a worker answers.
pub type Response = Result<Answer, Refusal>;

/// Bytes of inbound requests in memory at once (being read or handled),
/// shared by every stream of a server.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(MemoryBudget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes taken now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// Takes `bytes` if they fit.
    fn take(self: &Arc<Self>, bytes: usize) -> Option<Held> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .ok()?;
        Some(Held {
            budget: self.clone(),
            bytes,
        })
    }
}

/// Bytes taken from a [`MemoryBudget`], given back when dropped.
#[derive(Debug)]
pub struct Held {
    budget: Arc<MemoryBudget>,
    bytes: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// A request on a stream: as sent, or as a server read it.
#[derive(Debug)]
pub enum Framed {
    /// A request, with the memory it holds on a server with a budget.
    Request(Request, Option<Held>),
    /// A request that did not fit the server's budget: read and dropped.
    OverBudget,
}

/// The length-prefixed SCALE codec; a server's holds its memory budget.
#[derive(Clone, Debug, Default)]
pub struct Codec {
    budget: Option<Arc<MemoryBudget>>,
}

impl Codec {
    /// A codec whose inbound requests take from `budget`.
    pub fn with_budget(budget: Arc<MemoryBudget>) -> Self {
        Codec {
            budget: Some(budget),
        }
    }
}

/// Reads a frame's length, refusing one past [`MAX_MESSAGE`].
async fn read_len<T: AsyncRead + Unpin + Send>(io: &mut T) -> std::io::Result<usize> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(invalid(format!(
            "a {len}-byte message is over the {MAX_MESSAGE}-byte limit"
        )));
    }
    Ok(len)
}

async fn read_body<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    len: usize,
) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0; len];
    io.read_exact(&mut bytes).await?;
    Ok(bytes)
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> std::io::Result<Vec<u8>> {
    let len = read_len(io).await?;
    read_body(io, len).await
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    value: &impl Encode,
) -> std::io::Result<()> {
    let bytes = value.encode();
    if bytes.len() > MAX_MESSAGE {
        return Err(invalid(format!(
            "a {}-byte message is over the {MAX_MESSAGE}-byte limit",
            bytes.len()
        )));
    }
    io.write_all(&(bytes.len() as u32).to_le_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

/// Decodes all of `bytes` as one `V`.
pub fn decode<V: Decode>(bytes: &[u8]) -> std::io::Result<V> {
    parity_scale_codec::DecodeAll::decode_all(&mut &bytes[..])
        .map_err(|e| invalid(format!("a message does not decode: {e}")))
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

#[async_trait]
impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Framed;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Framed>
    where
        T: AsyncRead + Unpin + Send,
    {
        let len = read_len(io).await?;
        let held = match &self.budget {
            None => None,
            Some(budget) => match budget.take(len) {
                Some(held) => Some(held),
                None => {
                    // Read to the end so that the peer gets the answer.
                    let mut rest = AsyncReadExt::take(&mut *io, len as u64);
                    futures::io::copy(&mut rest, &mut futures::io::sink()).await?;
                    return Ok(Framed::OverBudget);
                }
            },
        };
        let request = decode(&read_body(io, len).await?)?;
        Ok(Framed::Request(request, held))
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode(&read_frame(io).await?)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Framed,
    ) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match request {
            Framed::Request(request, _) => write_frame(io, &request).await,
            Framed::OverBudget => Err(invalid("nothing to send".into())),
        }
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Response,
    ) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;
    use libp2p::request_response::Codec as _;

    #[tokio::test]
    async fn messages_round_trip_and_oversized_or_garbage_frames_are_refused() {
        let request = Request::PutShard {
            order: 7,
            piece: 3,
            segment: 2,
            shard: vec![9; 5000],
        };
        let mut wire = Cursor::new(Vec::new());
        Codec::default()
            .write_request(&PROTOCOL, &mut wire, Framed::Request(request.clone(), None))
            .await
            .unwrap();
        let wire = wire.into_inner();
        let read = Codec::default()
            .read_request(&PROTOCOL, &mut Cursor::new(wire.clone()))
            .await
            .unwrap();
        assert!(matches!(read, Framed::Request(r, None) if r == request));

        // Within a server's budget the request holds its bytes until
        // dropped; past it, it is read to the end and refused.
        let budget = MemoryBudget::new(wire.len() + 10);
        let mut server = Codec::with_budget(budget.clone());
        let held = server
            .read_request(&PROTOCOL, &mut Cursor::new(wire.clone()))
            .await
            .unwrap();
        assert!(matches!(&held, Framed::Request(r, Some(_)) if *r == request));
        assert_eq!(budget.used(), wire.len() - 4);
        let mut second = Cursor::new(wire.clone());
        let refused = server.read_request(&PROTOCOL, &mut second).await.unwrap();
        assert!(matches!(refused, Framed::OverBudget));
        assert_eq!(second.position() as usize, wire.len());
        drop(held);
        assert_eq!(budget.used(), 0);
        assert!(matches!(
            server
                .read_request(&PROTOCOL, &mut Cursor::new(wire))
                .await
                .unwrap(),
            Framed::Request(..)
        ));
        assert_eq!(budget.used(), 0);

        let response: Response = Err(Refusal::RootMismatch);
        let mut wire = Cursor::new(Vec::new());
        Codec::default()
            .write_response(&PROTOCOL, &mut wire, response.clone())
            .await
            .unwrap();
        let mut read = Cursor::new(wire.into_inner());
        assert_eq!(
            Codec::default()
                .read_response(&PROTOCOL, &mut read)
                .await
                .unwrap(),
            response
        );

        let mut huge = Cursor::new(((MAX_MESSAGE + 1) as u32).to_le_bytes().to_vec());
        let error = Codec::default()
            .read_request(&PROTOCOL, &mut huge)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("over the"), "{error}");

        let mut garbage = vec![3, 0, 0, 0];
        garbage.extend([0xff, 1, 2]);
        let error = Codec::default()
            .read_request(&PROTOCOL, &mut Cursor::new(garbage))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("does not decode"), "{error}");

        // Trailing bytes after a valid message are refused too.
        let mut trailing = request.encode();
        trailing.push(0);
        assert!(decode::<Request>(&trailing).is_err());
    }
}
