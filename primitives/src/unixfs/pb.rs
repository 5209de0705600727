//! The two protobufs of UnixFS: dag-pb's `PBNode`/`PBLink` and UnixFS's
//! `Data`. Encoding is canonical (fields in number order, dag-pb links
//! before data, as Kubo and the dag-pb spec write them); decoding takes
//! untrusted bytes and either returns typed values or says what is wrong.
//!
//! dag-pb is decoded strictly, as its spec asks: no unknown fields, no
//! repeated singular fields, links before data, link fields in order. UnixFS
//! `Data` is a proto2 message that other writers extend, so unknown fields
//! of a known wire type are skipped. Every length is checked against the
//! bytes left before anything is allocated, so memory stays within a small
//! multiple of the input's size.

use cid::Cid;

/// Why bytes are not a dag-pb node or a UnixFS `Data` message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end inside a field.
    #[error("truncated protobuf")]
    Truncated,
    /// A varint longer than ten bytes or above `u64::MAX`.
    #[error("varint overflows 64 bits")]
    VarintOverflow,
    /// A field number carried with the wrong wire type.
    #[error("field {field} has wire type {wire_type}, expected {expected}")]
    WireType {
        /// The field number.
        field: u64,
        /// The wire type found.
        wire_type: u8,
        /// The wire type the schema says.
        expected: u8,
    },
    /// A field dag-pb does not define, or a wire type protobuf does not.
    #[error("unknown field {field} (wire type {wire_type})")]
    UnknownField {
        /// The field number.
        field: u64,
        /// Its wire type.
        wire_type: u8,
    },
    /// A singular field given twice, or dag-pb fields out of order.
    #[error("field {0} repeated or out of order")]
    FieldOrder(&'static str),
    /// A link without its `Hash`.
    #[error("link without a hash")]
    MissingHash,
    /// A link's `Hash` is not a CID.
    #[error("link hash is not a cid: {0}")]
    Cid(String),
    /// A link's `Name` is not UTF-8.
    #[error("link name is not utf-8")]
    NameNotUtf8,
    /// A dag-pb node without `Data`, so not UnixFS.
    #[error("dag-pb node has no unixfs data")]
    NotUnixfs,
    /// UnixFS `Data` without its `Type`.
    #[error("unixfs data without a type")]
    MissingType,
    /// A `Type` UnixFS does not define.
    #[error("unknown unixfs type {0}")]
    UnknownType(u64),
    /// A value too large for its field (`mode` is 32 bits).
    #[error("{0} out of range")]
    OutOfRange(&'static str),
}

/// One link of a dag-pb node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbLink {
    /// The linked block's CID (`Hash`).
    pub cid: Cid,
    /// `Name`: an entry name in a directory, a slot label (+ name) in a HAMT
    /// shard, empty in a file node.
    pub name: Option<String>,
    /// `Tsize`: bytes of every block under the link.
    pub tsize: Option<u64>,
}

/// A dag-pb node (`PBNode`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PbNode {
    /// `Links`, in the order they are encoded.
    pub links: Vec<PbLink>,
    /// `Data`: for UnixFS, an encoded [`UnixfsData`].
    pub data: Option<Vec<u8>>,
}

/// UnixFS node types (`Data.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnixfsType {
    /// Raw bytes inside a dag-pb node (old leaves).
    Raw = 0,
    /// A basic directory: one link per entry.
    Directory = 1,
    /// A file node (leaves or inner node of a file DAG).
    File = 2,
    /// Metadata (unused by Kubo).
    Metadata = 3,
    /// A symbolic link: `data` is the target path.
    Symlink = 4,
    /// A node of a HAMT-sharded directory.
    HamtShard = 5,
}

impl UnixfsType {
    fn from_u64(value: u64) -> Result<Self, DecodeError> {
        Ok(match value {
            0 => Self::Raw,
            1 => Self::Directory,
            2 => Self::File,
            3 => Self::Metadata,
            4 => Self::Symlink,
            5 => Self::HamtShard,
            other => return Err(DecodeError::UnknownType(other)),
        })
    }
}

/// A modification time (`UnixTime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnixTime {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: Option<u32>,
}

/// A UnixFS `Data` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixfsData {
    /// `Type`.
    pub kind: UnixfsType,
    /// `Data`: file bytes, a symlink's target, a HAMT shard's bitfield.
    pub data: Option<Vec<u8>>,
    /// `filesize`: file bytes under a file node.
    pub file_size: Option<u64>,
    /// `blocksizes`: file bytes under each link of a file node.
    pub block_sizes: Vec<u64>,
    /// `hashType`: a HAMT's hash function (multicodec; 0x22 is murmur3).
    pub hash_type: Option<u64>,
    /// `fanout`: a HAMT's slots per shard.
    pub fanout: Option<u64>,
    /// `mode`: Unix permission bits, when not the default.
    pub mode: Option<u32>,
    /// `mtime`.
    pub mtime: Option<UnixTime>,
}

impl UnixfsData {
    /// A message of type `kind` with no other field set.
    pub fn new(kind: UnixfsType) -> Self {
        Self {
            kind,
            data: None,
            file_size: None,
            block_sizes: Vec::new(),
            hash_type: None,
            fanout: None,
            mode: None,
            mtime: None,
        }
    }

    /// The canonical encoding (fields in number order, `blocksizes` not
    /// packed, as Kubo writes them).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 10 * self.block_sizes.len());
        put_key(&mut out, 1, VARINT);
        put_varint(&mut out, self.kind as u64);
        if let Some(data) = &self.data {
            put_bytes(&mut out, 2, data);
        }
        if let Some(size) = self.file_size {
            put_key(&mut out, 3, VARINT);
            put_varint(&mut out, size);
        }
        for size in &self.block_sizes {
            put_key(&mut out, 4, VARINT);
            put_varint(&mut out, *size);
        }
        if let Some(hash) = self.hash_type {
            put_key(&mut out, 5, VARINT);
            put_varint(&mut out, hash);
        }
        if let Some(fanout) = self.fanout {
            put_key(&mut out, 6, VARINT);
            put_varint(&mut out, fanout);
        }
        if let Some(mode) = self.mode {
            put_key(&mut out, 7, VARINT);
            put_varint(&mut out, mode.into());
        }
        if let Some(time) = self.mtime {
            let mut inner = Vec::with_capacity(16);
            put_key(&mut inner, 1, VARINT);
            put_varint(&mut inner, time.seconds as u64);
            if let Some(nanos) = time.nanos {
                put_key(&mut inner, 2, FIXED32);
                inner.extend_from_slice(&nanos.to_le_bytes());
            }
            put_bytes(&mut out, 8, &inner);
        }
        out
    }

    /// Reads a `Data` message. Unknown fields are skipped; a missing or
    /// unknown `Type` is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader(bytes);
        let mut kind = None;
        let mut message = Self::new(UnixfsType::Raw);
        while !reader.is_empty() {
            let (field, wire_type) = reader.key()?;
            match field {
                1 | 3 | 5 | 6 | 7 => {
                    expect_wire(field, wire_type, VARINT)?;
                    let value = reader.varint()?;
                    match field {
                        1 => kind = Some(UnixfsType::from_u64(value)?),
                        3 => message.file_size = Some(value),
                        5 => message.hash_type = Some(value),
                        6 => message.fanout = Some(value),
                        _ => {
                            let mode = u32::try_from(value)
                                .map_err(|_| DecodeError::OutOfRange("mode"))?;
                            message.mode = Some(mode);
                        }
                    }
                }
                2 => {
                    expect_wire(field, wire_type, LEN)?;
                    message.data = Some(reader.bytes()?.to_vec());
                }
                // Writers may pack repeated scalars; proto2 readers accept both.
                4 if wire_type == LEN => {
                    let mut packed = Reader(reader.bytes()?);
                    while !packed.is_empty() {
                        message.block_sizes.push(packed.varint()?);
                    }
                }
                4 => {
                    expect_wire(field, wire_type, VARINT)?;
                    message.block_sizes.push(reader.varint()?);
                }
                8 => {
                    expect_wire(field, wire_type, LEN)?;
                    message.mtime = Some(decode_time(reader.bytes()?)?);
                }
                _ => reader.skip(field, wire_type)?,
            }
        }
        message.kind = kind.ok_or(DecodeError::MissingType)?;
        Ok(message)
    }
}

fn decode_time(bytes: &[u8]) -> Result<UnixTime, DecodeError> {
    let mut reader = Reader(bytes);
    let mut time = UnixTime {
        seconds: 0,
        nanos: None,
    };
    while !reader.is_empty() {
        match reader.key()? {
            (1, VARINT) => time.seconds = reader.varint()? as i64,
            (2, FIXED32) => time.nanos = Some(u32::from_le_bytes(reader.array()?)),
            (field @ (1 | 2), wire_type) => {
                expect_wire(field, wire_type, if field == 1 { VARINT } else { FIXED32 })?
            }
            (field, wire_type) => reader.skip(field, wire_type)?,
        }
    }
    Ok(time)
}

impl PbNode {
    /// The canonical dag-pb encoding: links first, then data.
    pub fn encode(&self) -> Vec<u8> {
        let data_len = self.data.as_ref().map_or(0, |d| d.len() + 11);
        let mut out = Vec::with_capacity(data_len + 64 * self.links.len());
        let mut link = Vec::with_capacity(64);
        for l in &self.links {
            link.clear();
            put_bytes(&mut link, 1, &l.cid.to_bytes());
            if let Some(name) = &l.name {
                put_bytes(&mut link, 2, name.as_bytes());
            }
            if let Some(tsize) = l.tsize {
                put_key(&mut link, 3, VARINT);
                put_varint(&mut link, tsize);
            }
            put_bytes(&mut out, 2, &link);
        }
        if let Some(data) = &self.data {
            put_bytes(&mut out, 1, data);
        }
        out
    }

    /// Reads a dag-pb block strictly (see the module docs).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader(bytes);
        let mut node = Self::default();
        while !reader.is_empty() {
            let (field, wire_type) = reader.key()?;
            match field {
                1 => {
                    expect_wire(field, wire_type, LEN)?;
                    if node.data.is_some() {
                        return Err(DecodeError::FieldOrder("Data"));
                    }
                    node.data = Some(reader.bytes()?.to_vec());
                }
                2 => {
                    expect_wire(field, wire_type, LEN)?;
                    if node.data.is_some() {
                        return Err(DecodeError::FieldOrder("Links"));
                    }
                    node.links.push(decode_link(reader.bytes()?)?);
                }
                _ => return Err(DecodeError::UnknownField { field, wire_type }),
            }
        }
        Ok(node)
    }
}

fn decode_link(bytes: &[u8]) -> Result<PbLink, DecodeError> {
    let mut reader = Reader(bytes);
    let mut cid = None;
    let mut name = None;
    let mut tsize = None;
    // Fields must come in number order, each at most once.
    let mut last = 0;
    while !reader.is_empty() {
        let (field, wire_type) = reader.key()?;
        let label = match field {
            1 => "Hash",
            2 => "Name",
            3 => "Tsize",
            _ => return Err(DecodeError::UnknownField { field, wire_type }),
        };
        if field <= last {
            return Err(DecodeError::FieldOrder(label));
        }
        last = field;
        match field {
            1 => {
                expect_wire(field, wire_type, LEN)?;
                let mut raw = reader.bytes()?;
                let parsed =
                    Cid::read_bytes(&mut raw).map_err(|e| DecodeError::Cid(e.to_string()))?;
                if !raw.is_empty() {
                    return Err(DecodeError::Cid("trailing bytes".into()));
                }
                cid = Some(parsed);
            }
            2 => {
                expect_wire(field, wire_type, LEN)?;
                let raw = reader.bytes()?;
                let text = std::str::from_utf8(raw).map_err(|_| DecodeError::NameNotUtf8)?;
                name = Some(text.to_owned());
            }
            _ => {
                expect_wire(field, wire_type, VARINT)?;
                tsize = Some(reader.varint()?);
            }
        }
    }
    Ok(PbLink {
        cid: cid.ok_or(DecodeError::MissingHash)?,
        name,
        tsize,
    })
}

/// A dag-pb node carrying UnixFS data: what walking a DAG by path reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixfsNode {
    /// The node's links.
    pub links: Vec<PbLink>,
    /// Its decoded `Data`.
    pub data: UnixfsData,
}

impl UnixfsNode {
    /// Reads a dag-pb block and its UnixFS `Data`.
    pub fn decode(block: &[u8]) -> Result<Self, DecodeError> {
        let node = PbNode::decode(block)?;
        let data = node.data.ok_or(DecodeError::NotUnixfs)?;
        Ok(Self {
            links: node.links,
            data: UnixfsData::decode(&data)?,
        })
    }

    /// The canonical block bytes.
    pub fn encode(&self) -> Vec<u8> {
        PbNode {
            links: self.links.clone(),
            data: Some(self.data.encode()),
        }
        .encode()
    }
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

fn expect_wire(field: u64, wire_type: u8, expected: u8) -> Result<(), DecodeError> {
    match wire_type == expected {
        true => Ok(()),
        false => Err(DecodeError::WireType {
            field,
            wire_type,
            expected,
        }),
    }
}

/// A cursor over protobuf bytes; every read checks the bytes left.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&byte, rest) = self.0.split_first().ok_or(DecodeError::Truncated)?;
            self.0 = rest;
            // The tenth byte may only carry the top bit of a u64.
            if i == 9 && byte > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    fn key(&mut self) -> Result<(u64, u8), DecodeError> {
        let key = self.varint()?;
        Ok((key >> 3, (key & 7) as u8))
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
        if len > self.0.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        self.take(len)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N as u64)?;
        Ok(bytes.try_into().expect("take returned N bytes; qed"))
    }

    fn skip(&mut self, field: u64, wire_type: u8) -> Result<(), DecodeError> {
        match wire_type {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => self.take(4).map(drop),
            _ => Err(DecodeError::UnknownField { field, wire_type }),
        }
    }
}

fn put_key(out: &mut Vec<u8>, field: u64, wire_type: u8) {
    put_varint(out, field << 3 | u64::from(wire_type));
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends `value` as a protobuf varint (the same bytes as a multiformats
/// unsigned varint, which CAR files frame their sections with).
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unixfs::{cid_v1, RAW_CODEC};

    #[test]
    fn varints_match_protobuf() {
        let mut out = Vec::new();
        put_varint(&mut out, 262_145);
        assert_eq!(out, [0x81, 0x80, 0x10]);
        assert_eq!(Reader(&out).varint(), Ok(262_145));
        let mut max = Vec::new();
        put_varint(&mut max, u64::MAX);
        assert_eq!(Reader(&max).varint(), Ok(u64::MAX));
        max[9] = 2;
        assert_eq!(Reader(&max).varint(), Err(DecodeError::VarintOverflow));
    }

    #[test]
    fn empty_directory_is_kubos() {
        let block = PbNode {
            links: vec![],
            data: Some(UnixfsData::new(UnixfsType::Directory).encode()),
        }
        .encode();
        assert_eq!(block, [0x0a, 0x02, 0x08, 0x01]);
    }

    #[test]
    fn nodes_round_trip() {
        let mut data = UnixfsData::new(UnixfsType::File);
        data.file_size = Some(300);
        data.block_sizes = vec![100, 200];
        data.mode = Some(0o600);
        data.mtime = Some(UnixTime {
            seconds: -5,
            nanos: Some(7),
        });
        let node = UnixfsNode {
            links: vec![
                PbLink {
                    cid: cid_v1(RAW_CODEC, [1; 32]),
                    name: Some(String::new()),
                    tsize: Some(100),
                },
                PbLink {
                    cid: cid_v1(RAW_CODEC, [2; 32]),
                    name: None,
                    tsize: None,
                },
            ],
            data,
        };
        assert_eq!(UnixfsNode::decode(&node.encode()), Ok(node));
    }

    #[test]
    fn dag_pb_is_strict() {
        let link = PbNode {
            links: vec![PbLink {
                cid: cid_v1(RAW_CODEC, [1; 32]),
                name: Some("a".into()),
                tsize: Some(1),
            }],
            data: None,
        }
        .encode();
        let data = [0x0a, 0x02, 0x08, 0x01];
        // Data before links.
        let swapped = [&data[..], &link[..]].concat();
        assert_eq!(
            PbNode::decode(&swapped),
            Err(DecodeError::FieldOrder("Links"))
        );
        // Data twice.
        let twice = [&data[..], &data[..]].concat();
        assert_eq!(PbNode::decode(&twice), Err(DecodeError::FieldOrder("Data")));
        // An unknown field.
        assert!(matches!(
            PbNode::decode(&[0x18, 0x01]),
            Err(DecodeError::UnknownField { field: 3, .. })
        ));
        // Links as a varint.
        assert!(matches!(
            PbNode::decode(&[0x10, 0x01]),
            Err(DecodeError::WireType { field: 2, .. })
        ));
        // A length past the end.
        assert_eq!(
            PbNode::decode(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(DecodeError::Truncated)
        );
        // Every strict prefix of a valid block fails or is a shorter valid one.
        for end in 0..link.len() {
            let _ = PbNode::decode(&link[..end]);
        }
        assert!(PbNode::decode(&link[..link.len() - 1]).is_err());
    }

    #[test]
    fn unixfs_skips_unknown_fields_and_reads_packed_sizes() {
        // Type = File, field 15 (varint) unknown, blocksizes packed [1, 300].
        let bytes = [0x08, 0x02, 0x78, 0x05, 0x22, 0x03, 0x01, 0xac, 0x02];
        let data = UnixfsData::decode(&bytes).unwrap();
        assert_eq!(data.kind, UnixfsType::File);
        assert_eq!(data.block_sizes, [1, 300]);
        assert_eq!(
            UnixfsData::decode(&[0x08, 0x09]),
            Err(DecodeError::UnknownType(9))
        );
        assert_eq!(UnixfsData::decode(&[]), Err(DecodeError::MissingType));
    }
}
