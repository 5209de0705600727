//! What peers say to each other, and how it is framed.
//!
//! Gossip (libp2p gossipsub, one topic each): transactions as their SCALE
//! encoding, blocks as their SCALE encoding, and [`GrandpaMessage`]s.
//! Requests (libp2p request-response, one protocol): [`Request`] and
//! [`Response`], each a SCALE value behind a little-endian `u32` length,
//! bounded by [`MAX_REQUEST`] and [`MAX_RESPONSE`].
//!
//! Everything a peer sends is decoded with a nesting limit and must be
//! consumed whole; anything else is garbage and costs the peer its
//! connection.

use async_trait::async_trait;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use mosaic_runtime::{Block, BlockNumber, Hash};
use parity_scale_codec::{Decode, DecodeLimit, Encode};
use polkadot_sdk::sp_consensus_grandpa::{AuthorityId, AuthoritySignature};

/// Nesting allowed when decoding a peer's message (calls nest in batches).
const DECODE_DEPTH: u32 = 64;
/// The largest request.
pub const MAX_REQUEST: usize = 1024;
/// The largest response: a few full blocks.
pub const MAX_RESPONSE: usize = 16 * 1024 * 1024;
/// The largest gossip message: one full block (5 MiB) and its header.
pub const MAX_GOSSIP: usize = 6 * 1024 * 1024;
/// Blocks in one [`Response::Blocks`] at most.
pub const MAX_BLOCKS_PER_RESPONSE: u32 = 128;

/// A GRANDPA vote as gossiped.
pub type SignedVote =
    finality_grandpa::SignedMessage<Hash, BlockNumber, AuthoritySignature, AuthorityId>;
/// A GRANDPA commit as gossiped and stored.
pub type Commit = finality_grandpa::Commit<Hash, BlockNumber, AuthoritySignature, AuthorityId>;
/// A completed round's votes, which let a voter that fell behind jump ahead.
pub type CatchUp = finality_grandpa::CatchUp<Hash, BlockNumber, AuthoritySignature, AuthorityId>;

/// A GRANDPA message on the gossip topic.
#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub enum GrandpaMessage {
    /// A prevote, precommit or primary proposal of a round.
    Vote {
        /// The round.
        round: u64,
        /// The authority set.
        set_id: u64,
        /// The signed vote.
        vote: SignedVote,
    },
    /// A round's commit: precommits finalizing a block.
    Commit {
        /// The round.
        round: u64,
        /// The authority set.
        set_id: u64,
        /// The commit.
        commit: Commit,
    },
}

impl GrandpaMessage {
    /// The authority set the message belongs to.
    pub fn set_id(&self) -> u64 {
        match self {
            GrandpaMessage::Vote { set_id, .. } | GrandpaMessage::Commit { set_id, .. } => *set_id,
        }
    }
}

/// A node's view of its chain.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq)]
pub struct Status {
    /// Block 0: peers on another chain are dropped.
    pub genesis: Hash,
    /// The best block.
    pub best_number: BlockNumber,
    /// Its hash.
    pub best_hash: Hash,
    /// The last finalized block.
    pub finalized_number: BlockNumber,
}

/// A block with its finality proof, if it has one.
#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub struct SyncBlock {
    /// The block.
    pub block: Block,
    /// A GRANDPA justification of it.
    pub justification: Option<Vec<u8>>,
}

/// A request to a peer.
#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub enum Request {
    /// The peer's [`Status`].
    Status,
    /// Blocks of the peer's best chain, numbered `from` upwards.
    Blocks {
        /// The first number.
        from: BlockNumber,
        /// How many at most.
        max: u32,
    },
    /// The block `hash` and its ancestors, highest first: how a block off
    /// the peer's best chain (one a vote names, say) is fetched.
    Ancestry {
        /// The highest block.
        hash: Hash,
        /// How many at most.
        max: u32,
    },
    /// The peer's last completed GRANDPA round of authority set `set_id`.
    CatchUp {
        /// The authority set.
        set_id: u64,
    },
}

/// A peer's answer.
#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub enum Response {
    /// See [`Request::Status`].
    Status(Status),
    /// See [`Request::Blocks`] (lowest first) and [`Request::Ancestry`]
    /// (highest first); possibly fewer than asked.
    Blocks(Vec<SyncBlock>),
    /// See [`Request::CatchUp`]: none if the peer has none for that set.
    CatchUp(Option<CatchUp>),
}

/// Decodes a peer's bytes: the whole input, with bounded nesting.
pub fn decode<T: Decode>(bytes: &[u8]) -> Option<T> {
    T::decode_all_with_depth_limit(DECODE_DEPTH, &mut &bytes[..]).ok()
}

/// Protocol names, scoped by the genesis hash so that nodes of different
/// chains never mix.
#[derive(Clone, Debug)]
pub struct Protocols {
    /// Request-response.
    pub sync: StreamProtocol,
    /// Kademlia.
    pub kad: StreamProtocol,
    /// Gossip topic of transactions.
    pub transactions: String,
    /// Gossip topic of blocks.
    pub blocks: String,
    /// Gossip topic of GRANDPA messages.
    pub grandpa: String,
}

impl Protocols {
    /// The protocols of the chain with `genesis`.
    pub fn new(genesis: Hash) -> Self {
        let id = hex::encode(&genesis.as_bytes()[..8]);
        let name = |what: &str| format!("/mosaic/{id}/{what}");
        Protocols {
            sync: StreamProtocol::try_from_owned(name("sync/1")).expect("starts with a slash; qed"),
            kad: StreamProtocol::try_from_owned(name("kad/1")).expect("starts with a slash; qed"),
            transactions: name("transactions/1"),
            blocks: name("blocks/1"),
            grandpa: name("grandpa/1"),
        }
    }
}

/// The request-response codec: a `u32` length, then SCALE.
#[derive(Clone, Copy, Debug, Default)]
pub struct Codec;

async fn read_frame<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    limit: usize,
) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > limit {
        return Err(invalid(format!(
            "a {len}-byte message is over the {limit}-byte limit"
        )));
    }
    let mut bytes = vec![0; len];
    io.read_exact(&mut bytes).await?;
    Ok(bytes)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: &[u8],
) -> std::io::Result<()> {
    io.write_all(&(bytes.len() as u32).to_le_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

#[async_trait]
impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_frame(io, MAX_REQUEST).await?;
        decode(&bytes).ok_or_else(|| invalid("undecodable request".into()))
    }

    async fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_frame(io, MAX_RESPONSE).await?;
        decode(&bytes).ok_or_else(|| invalid("undecodable response".into()))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Request,
    ) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request.encode()).await
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
        write_frame(io, &response.encode()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;
    use libp2p::request_response::Codec as _;

    fn protocol() -> StreamProtocol {
        Protocols::new(Hash::repeat_byte(1)).sync
    }

    #[tokio::test]
    async fn frames_round_trip_and_oversized_or_garbage_frames_are_refused() {
        let request = Request::Blocks { from: 7, max: 64 };
        let mut wire = Cursor::new(Vec::new());
        Codec
            .write_request(&protocol(), &mut wire, request.clone())
            .await
            .unwrap();
        let mut wire = Cursor::new(wire.into_inner());
        assert_eq!(
            Codec.read_request(&protocol(), &mut wire).await.unwrap(),
            request
        );

        // A length over the limit is refused before anything is allocated.
        let mut wire = Cursor::new((MAX_REQUEST as u32 + 1).to_le_bytes().to_vec());
        assert!(Codec.read_request(&protocol(), &mut wire).await.is_err());
        // A frame shorter than its length.
        let mut wire = Cursor::new([8u8, 0, 0, 0, 1].to_vec());
        assert!(Codec.read_request(&protocol(), &mut wire).await.is_err());
        // Bytes that are no request, and a request with trailing bytes.
        let mut trailing = Request::Status.encode();
        trailing.push(0);
        for body in [vec![0xff, 0xff], trailing] {
            let mut frame = (body.len() as u32).to_le_bytes().to_vec();
            frame.extend(body);
            let mut wire = Cursor::new(frame);
            assert!(Codec.read_request(&protocol(), &mut wire).await.is_err());
        }
    }

    #[test]
    fn chains_have_their_own_protocols() {
        let a = Protocols::new(Hash::repeat_byte(1));
        let b = Protocols::new(Hash::repeat_byte(2));
        assert_ne!(a.sync, b.sync);
        assert_ne!(a.blocks, b.blocks);
    }
}
