//! Bitswap's wire format: protobuf `Message`s, each sent as an
//! unsigned-varint length then that many bytes.
//!
//! A wantlist is read into [`Wantlist`] with every CID parsed and every
//! bound checked; answers are written with [`encode_answers`], split into
//! messages of at most [`MAX_MESSAGE`] bytes.

use std::io;

use cid::Cid;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use prost::Message as _;

/// Largest message read or written (what Kubo and Helia use too).
pub const MAX_MESSAGE: usize = 4 << 20;

/// Most wantlist entries read from one message.
pub const MAX_ENTRIES: usize = 1024;

/// The protobuf schema of Bitswap 1.2.0 (1.1.0 is the same less presences
/// and want types).
pub(crate) mod pb {
    /// One Bitswap message: wants, blocks and presences.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Message {
        /// What the sender wants.
        #[prost(message, optional, tag = "1")]
        pub wantlist: Option<Wantlist>,
        /// Bitswap 1.0.0 blocks (never sent; read and ignored).
        #[prost(bytes = "vec", repeated, tag = "2")]
        pub blocks: Vec<Vec<u8>>,
        /// Blocks with the prefix of their CID.
        #[prost(message, repeated, tag = "3")]
        pub payload: Vec<Block>,
        /// Have / DontHave answers.
        #[prost(message, repeated, tag = "4")]
        pub block_presences: Vec<BlockPresence>,
        /// Bytes the sender still has queued for the receiver.
        #[prost(int32, tag = "5")]
        pub pending_bytes: i32,
    }

    /// A wantlist, whole or as a change.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Wantlist {
        /// Its entries.
        #[prost(message, repeated, tag = "1")]
        pub entries: Vec<Entry>,
        /// Whether it replaces the previous one.
        #[prost(bool, tag = "2")]
        pub full: bool,
    }

    /// One wanted (or cancelled) CID.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        /// The CID, binary.
        #[prost(bytes = "vec", tag = "1")]
        pub block: Vec<u8>,
        /// Higher first.
        #[prost(int32, tag = "2")]
        pub priority: i32,
        /// Whether this withdraws the want.
        #[prost(bool, tag = "3")]
        pub cancel: bool,
        /// [`WantType`].
        #[prost(enumeration = "WantType", tag = "4")]
        pub want_type: i32,
        /// Whether a miss is to be answered DontHave.
        #[prost(bool, tag = "5")]
        pub send_dont_have: bool,
    }

    /// What is wanted of a CID.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum WantType {
        /// The block itself.
        Block = 0,
        /// Only whether the peer has it.
        Have = 1,
    }

    /// A block and its CID's prefix (version, codec, hash code and length).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Block {
        /// The CID without the digest.
        #[prost(bytes = "vec", tag = "1")]
        pub prefix: Vec<u8>,
        /// The block's bytes.
        #[prost(bytes = "vec", tag = "2")]
        pub data: Vec<u8>,
    }

    /// Whether the sender has a CID.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BlockPresence {
        /// The CID, binary.
        #[prost(bytes = "vec", tag = "1")]
        pub cid: Vec<u8>,
        /// [`BlockPresenceType`].
        #[prost(enumeration = "BlockPresenceType", tag = "2")]
        pub r#type: i32,
    }

    /// Have or DontHave.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum BlockPresenceType {
        /// The sender has the block.
        Have = 0,
        /// The sender does not have it.
        DontHave = 1,
    }
}

/// Why a message was refused.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The bytes are not a protobuf `Message`.
    #[error("not a bitswap message")]
    Protobuf(#[from] prost::DecodeError),
    /// More entries than [`MAX_ENTRIES`].
    #[error("{0} wantlist entries, more than {MAX_ENTRIES}")]
    TooManyEntries(usize),
    /// An entry's CID does not parse.
    #[error("wantlist entry {0} is not a CID")]
    BadCid(usize),
    /// An entry's want type is neither Block nor Have.
    #[error("wantlist entry {0} has want type {1}")]
    BadWantType(usize, i32),
}

/// What is wanted of a CID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WantKind {
    /// The block.
    Block,
    /// Whether we have it.
    Have,
}

/// One entry of a received wantlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantEntry {
    /// The block wanted.
    pub cid: Cid,
    /// Higher first.
    pub priority: i32,
    /// Whether this withdraws an earlier want of `cid`.
    pub cancel: bool,
    /// Block or Have.
    pub kind: WantKind,
    /// Whether a miss is to be answered DontHave.
    pub send_dont_have: bool,
}

/// A received wantlist, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wantlist {
    /// Whether it replaces every earlier want.
    pub full: bool,
    /// Its entries.
    pub entries: Vec<WantEntry>,
}

/// Reads the wantlist of an encoded message (its blocks and presences, if
/// any, are ignored: this host only serves).
pub fn decode_wantlist(bytes: &[u8]) -> Result<Wantlist, MessageError> {
    let message = pb::Message::decode(bytes)?;
    let Some(wantlist) = message.wantlist else {
        return Ok(Wantlist::default());
    };
    if wantlist.entries.len() > MAX_ENTRIES {
        return Err(MessageError::TooManyEntries(wantlist.entries.len()));
    }
    let entries = wantlist
        .entries
        .into_iter()
        .enumerate()
        .map(|(at, entry)| {
            let cid =
                Cid::try_from(entry.block.as_slice()).map_err(|_| MessageError::BadCid(at))?;
            let kind = match pb::WantType::try_from(entry.want_type) {
                Ok(pb::WantType::Block) => WantKind::Block,
                Ok(pb::WantType::Have) => WantKind::Have,
                Err(_) => return Err(MessageError::BadWantType(at, entry.want_type)),
            };
            Ok(WantEntry {
                cid,
                priority: entry.priority,
                cancel: entry.cancel,
                kind,
                send_dont_have: entry.send_dont_have,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Wantlist {
        full: wantlist.full,
        entries,
    })
}

/// One answer to a want.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The block, checked against its CID.
    Block(Cid, Vec<u8>),
    /// We have it.
    Have(Cid),
    /// We do not.
    DontHave(Cid),
}

impl Answer {
    /// Bytes it adds to a message, roughly (field headers included).
    fn weight(&self) -> usize {
        match self {
            Answer::Block(cid, data) => data.len() + cid.encoded_len() + 16,
            Answer::Have(cid) | Answer::DontHave(cid) => cid.encoded_len() + 8,
        }
    }
}

/// The CID prefix Bitswap sends with a block: version, codec, hash code
/// and digest length, each an unsigned varint.
pub fn prefix(cid: &Cid) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    for value in [
        cid.version() as u64,
        cid.codec(),
        cid.hash().code(),
        u64::from(cid.hash().size()),
    ] {
        prost::encoding::encode_varint(value, &mut out);
    }
    out
}

/// `answers` as encoded messages, each under [`MAX_MESSAGE`] bytes (a
/// block is never split; blocks are at most a few MiB).
pub fn encode_answers(answers: Vec<Answer>) -> Vec<Vec<u8>> {
    // Room for the message's own framing.
    const BUDGET: usize = MAX_MESSAGE - 1024;
    let mut messages = Vec::new();
    let mut current = pb::Message::default();
    let mut size = 0;
    for answer in answers {
        let weight = answer.weight();
        let empty = current.payload.is_empty() && current.block_presences.is_empty();
        if !empty && size + weight > BUDGET {
            messages.push(std::mem::take(&mut current).encode_to_vec());
            size = 0;
        }
        size += weight;
        match answer {
            Answer::Block(cid, data) => current.payload.push(pb::Block {
                prefix: prefix(&cid),
                data,
            }),
            Answer::Have(cid) => current.block_presences.push(pb::BlockPresence {
                cid: cid.to_bytes(),
                r#type: pb::BlockPresenceType::Have as i32,
            }),
            Answer::DontHave(cid) => current.block_presences.push(pb::BlockPresence {
                cid: cid.to_bytes(),
                r#type: pb::BlockPresenceType::DontHave as i32,
            }),
        }
    }
    if !current.payload.is_empty() || !current.block_presences.is_empty() {
        messages.push(current.encode_to_vec());
    }
    messages
}

/// Reads one length-prefixed frame of at most `max` bytes; `None` at a
/// clean end of stream before its first byte.
pub async fn read_frame<R: AsyncRead + Unpin>(
    io: &mut R,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut len: u64 = 0;
    for at in 0..10 {
        let mut byte = [0u8];
        if io.read(&mut byte).await? == 0 {
            if at == 0 {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        len |= u64::from(byte[0] & 0x7f) << (7 * at);
        if byte[0] & 0x80 == 0 {
            if len > max as u64 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a frame of {len} bytes, more than {max}"),
                ));
            }
            let mut frame = vec![0; len as usize];
            io.read_exact(&mut frame).await?;
            return Ok(Some(frame));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "frame length is not a varint",
    ))
}

/// Writes `frame` with its length before it.
pub async fn write_frame<W: AsyncWrite + Unpin>(io: &mut W, frame: &[u8]) -> io::Result<()> {
    let mut header = Vec::with_capacity(10);
    prost::encoding::encode_varint(frame.len() as u64, &mut header);
    io.write_all(&header).await?;
    io.write_all(frame).await?;
    io.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use mosaic_primitives::unixfs::{chunk_digest, cid_v1, RAW_CODEC};

    fn raw_cid(data: &[u8]) -> Cid {
        cid_v1(RAW_CODEC, chunk_digest(data))
    }

    fn want(cid: Cid, want_type: pb::WantType) -> pb::Entry {
        pb::Entry {
            block: cid.to_bytes(),
            priority: 7,
            cancel: false,
            want_type: want_type as i32,
            send_dont_have: true,
        }
    }

    #[test]
    fn a_wantlist_reads_back() {
        let a = raw_cid(b"a");
        let b = raw_cid(b"b");
        let mut cancel = want(b, pb::WantType::Block);
        cancel.cancel = true;
        let message = pb::Message {
            wantlist: Some(pb::Wantlist {
                entries: vec![want(a, pb::WantType::Have), cancel],
                full: true,
            }),
            ..Default::default()
        };
        let read = decode_wantlist(&message.encode_to_vec()).unwrap();
        assert!(read.full);
        assert_eq!(
            read.entries,
            vec![
                WantEntry {
                    cid: a,
                    priority: 7,
                    cancel: false,
                    kind: WantKind::Have,
                    send_dont_have: true
                },
                WantEntry {
                    cid: b,
                    priority: 7,
                    cancel: true,
                    kind: WantKind::Block,
                    send_dont_have: true
                },
            ]
        );
        // A message with no wantlist (only blocks) wants nothing.
        assert_eq!(decode_wantlist(&[]).unwrap(), Wantlist::default());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(
            decode_wantlist(&[0xff, 0xff, 0xff]),
            Err(MessageError::Protobuf(_))
        ));
        let bad_cid = pb::Message {
            wantlist: Some(pb::Wantlist {
                entries: vec![pb::Entry {
                    block: vec![1, 2, 3],
                    ..Default::default()
                }],
                full: false,
            }),
            ..Default::default()
        };
        assert!(matches!(
            decode_wantlist(&bad_cid.encode_to_vec()),
            Err(MessageError::BadCid(0))
        ));
        let mut odd = want(raw_cid(b"x"), pb::WantType::Block);
        odd.want_type = 9;
        let odd = pb::Message {
            wantlist: Some(pb::Wantlist {
                entries: vec![odd],
                full: false,
            }),
            ..Default::default()
        };
        assert!(matches!(
            decode_wantlist(&odd.encode_to_vec()),
            Err(MessageError::BadWantType(0, 9))
        ));
        let many = pb::Message {
            wantlist: Some(pb::Wantlist {
                entries: vec![want(raw_cid(b"y"), pb::WantType::Have); MAX_ENTRIES + 1],
                full: false,
            }),
            ..Default::default()
        };
        assert!(matches!(
            decode_wantlist(&many.encode_to_vec()),
            Err(MessageError::TooManyEntries(_))
        ));
        // Random bytes never panic.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..512 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let _ = decode_wantlist(&bytes);
        }
    }

    #[test]
    fn answers_carry_blocks_that_hash_to_their_cid() {
        let data = b"hello bitswap".to_vec();
        let cid = raw_cid(&data);
        let missing = raw_cid(b"missing");
        let messages = encode_answers(vec![
            Answer::Block(cid, data.clone()),
            Answer::Have(cid),
            Answer::DontHave(missing),
        ]);
        assert_eq!(messages.len(), 1);
        let message = pb::Message::decode(messages[0].as_slice()).unwrap();
        assert_eq!(message.payload.len(), 1);
        // The prefix and the data's hash give back the CID.
        let mut prefix = message.payload[0].prefix.as_slice();
        let mut field = || prost::encoding::decode_varint(&mut prefix).unwrap();
        let (version, codec, code, size) = (field(), field(), field(), field());
        assert_eq!((version, codec, code, size), (1, RAW_CODEC, 0x12, 32));
        assert_eq!(raw_cid(&message.payload[0].data), cid);
        let presences: Vec<_> = message
            .block_presences
            .iter()
            .map(|p| (Cid::try_from(p.cid.as_slice()).unwrap(), p.r#type))
            .collect();
        assert_eq!(presences, vec![(cid, 0), (missing, 1)]);
    }

    #[test]
    fn large_answers_are_split_under_the_bound() {
        let block = vec![7u8; 1 << 20];
        let cid = raw_cid(&block);
        let messages = encode_answers(vec![Answer::Block(cid, block); 9]);
        assert_eq!(messages.len(), 3);
        assert!(messages.iter().all(|m| m.len() <= MAX_MESSAGE));
    }

    #[tokio::test]
    async fn frames_round_trip_and_bound_their_length() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"one").await.unwrap();
        write_frame(&mut wire, &[9; 300]).await.unwrap();
        let mut reader = wire.as_slice();
        assert_eq!(
            read_frame(&mut reader, 1000).await.unwrap().unwrap(),
            b"one"
        );
        assert_eq!(
            read_frame(&mut reader, 1000).await.unwrap().unwrap(),
            [9; 300]
        );
        assert!(read_frame(&mut reader, 1000).await.unwrap().is_none());
        // Too long, cut short, or a length that never ends.
        let mut reader = wire.as_slice();
        assert!(read_frame(&mut reader, 2).await.is_err());
        let mut cut = &wire[..2];
        assert!(read_frame(&mut cut, 1000).await.is_err());
        let mut endless = &[0xffu8; 12][..];
        assert!(read_frame(&mut endless, usize::MAX).await.is_err());
    }
}
