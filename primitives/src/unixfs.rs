//! IPFS-compatible file CIDs.
//!
//! [`CidBuilder`] computes, in one streaming pass and bounded memory, the CID
//! that `ipfs add --cid-version=1` gives with Kubo's defaults: 256 KiB
//! fixed-size chunks stored as raw leaves, a balanced DAG of dag-pb/UnixFS
//! `File` nodes with at most 174 links each, SHA-256 everywhere. A file of one
//! chunk or less is named by its raw leaf; the empty file by the raw CID of no
//! bytes.
//!
//! The balanced layout keeps every leaf at the same depth: a level's node is
//! closed when it holds 174 links and more data follows, and its link moves
//! up. The builder therefore keeps at most 174 links per level and no data.
//!
//! Fixtures from an independent implementation (the JavaScript
//! `ipfs-unixfs-importer` with Kubo's options) are in
//! `tests/fixtures/ipfs/`.

use cid::Cid;
use multihash::Multihash;
use sha2::{Digest, Sha256};

/// Bytes per leaf chunk (Kubo's `size-262144` chunker).
pub const CHUNK_SIZE: usize = 256 * 1024;
/// Most links in one DAG node (Kubo's balanced layout).
pub const MAX_LINKS: usize = 174;
/// Multicodec of raw leaves.
pub const RAW_CODEC: u64 = 0x55;
/// Multicodec of dag-pb nodes.
pub const DAG_PB_CODEC: u64 = 0x70;
/// Multihash code of SHA-256.
pub const SHA2_256: u64 = 0x12;

/// A CIDv1 with a SHA-256 multihash.
pub fn cid_v1(codec: u64, digest: [u8; 32]) -> Cid {
    let hash = Multihash::wrap(SHA2_256, &digest).expect("32 bytes fit in a multihash; qed");
    Cid::new_v1(codec, hash)
}

/// The raw-leaf CID of one chunk's digest.
pub fn chunk_digest(chunk: &[u8]) -> [u8; 32] {
    Sha256::digest(chunk).into()
}

#[derive(Clone)]
struct Link {
    cid: Cid,
    /// Bytes of the whole sub-DAG, blocks included (dag-pb `Tsize`).
    tree_size: u64,
    /// File bytes under the link (UnixFS `blocksizes`).
    file_size: u64,
}

/// Streams a file's bytes (or its chunks' digests) into its IPFS CID.
#[derive(Default)]
pub struct CidBuilder {
    /// `levels[0]` holds leaves; `levels[i]` nodes of height `i`.
    levels: Vec<Vec<Link>>,
    /// Bytes of a chunk not yet complete.
    partial: Vec<u8>,
    /// A chunk shorter than `CHUNK_SIZE` was added: it must be the last.
    ended: bool,
}

impl CidBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds file bytes; chunks are cut at `CHUNK_SIZE` boundaries whatever
    /// the slices' sizes.
    pub fn update(&mut self, mut data: &[u8]) {
        if !self.partial.is_empty() {
            let take = (CHUNK_SIZE - self.partial.len()).min(data.len());
            self.partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.partial.len() == CHUNK_SIZE {
                let chunk = std::mem::take(&mut self.partial);
                self.push_chunk(chunk_digest(&chunk), CHUNK_SIZE);
            }
        }
        let mut chunks = data.chunks_exact(CHUNK_SIZE);
        for chunk in &mut chunks {
            self.push_chunk(chunk_digest(chunk), CHUNK_SIZE);
        }
        self.partial.extend_from_slice(chunks.remainder());
    }

    /// Adds a chunk by its SHA-256 digest, for callers that hash chunks in
    /// parallel. Every chunk but the last must be `CHUNK_SIZE` bytes, and
    /// this must not be mixed with a pending partial chunk from `update`.
    pub fn push_chunk(&mut self, digest: [u8; 32], len: usize) {
        debug_assert!(self.partial.is_empty() && !self.ended && len <= CHUNK_SIZE);
        self.ended = len < CHUNK_SIZE;
        let leaf = Link {
            cid: cid_v1(RAW_CODEC, digest),
            tree_size: len as u64,
            file_size: len as u64,
        };
        self.push(0, leaf);
    }

    fn push(&mut self, height: usize, link: Link) {
        if self.levels.len() == height {
            self.levels.push(Vec::with_capacity(MAX_LINKS));
        }
        if self.levels[height].len() == MAX_LINKS {
            let full = std::mem::take(&mut self.levels[height]);
            self.push(height + 1, file_node(&full));
        }
        self.levels[height].push(link);
    }

    /// The file's CID.
    pub fn finish(mut self) -> Cid {
        if !self.partial.is_empty() {
            let chunk = std::mem::take(&mut self.partial);
            self.push_chunk(chunk_digest(&chunk), chunk.len());
        }
        if self.levels.is_empty() {
            return cid_v1(RAW_CODEC, chunk_digest(&[]));
        }
        if self.levels.len() == 1 && self.levels[0].len() == 1 {
            return self.levels[0][0].cid;
        }
        // Close every open node bottom-up. Pushing into a full parent level
        // closes that level too, as Kubo's builder does when more data
        // follows, so `levels` may grow here.
        let mut height = 0;
        while height + 1 < self.levels.len() {
            let links = std::mem::take(&mut self.levels[height]);
            if !links.is_empty() {
                let node = file_node(&links);
                self.push(height + 1, node);
            }
            height += 1;
        }
        file_node(&self.levels[height]).cid
    }
}

/// The CID of `data`, as `ipfs add --cid-version=1` names it.
pub fn file_cid(data: &[u8]) -> Cid {
    let mut builder = CidBuilder::new();
    builder.update(data);
    builder.finish()
}

/// Encodes a UnixFS `File` node over `links` and returns the link to it.
fn file_node(links: &[Link]) -> Link {
    let file_size: u64 = links.iter().map(|l| l.file_size).sum();
    // UnixFS Data: Type = File (field 1), filesize (3), blocksizes (4, not packed).
    let mut unixfs = Vec::with_capacity(16 + 10 * links.len());
    unixfs.extend_from_slice(&[0x08, 0x02, 0x18]);
    put_varint(&mut unixfs, file_size);
    for link in links {
        unixfs.push(0x20);
        put_varint(&mut unixfs, link.file_size);
    }
    // dag-pb PBNode: Links (field 2) first, then Data (field 1). A PBLink is
    // Hash (1), Name (2, present and empty, as Kubo writes it), Tsize (3).
    let mut block = Vec::with_capacity(unixfs.len() + 56 * links.len());
    let mut encoded = Vec::with_capacity(64);
    for link in links {
        encoded.clear();
        let cid = link.cid.to_bytes();
        encoded.push(0x0a);
        put_varint(&mut encoded, cid.len() as u64);
        encoded.extend_from_slice(&cid);
        encoded.extend_from_slice(&[0x12, 0x00, 0x18]);
        put_varint(&mut encoded, link.tree_size);
        block.push(0x12);
        put_varint(&mut block, encoded.len() as u64);
        block.extend_from_slice(&encoded);
    }
    block.push(0x0a);
    put_varint(&mut block, unixfs.len() as u64);
    block.extend_from_slice(&unixfs);
    Link {
        cid: cid_v1(DAG_PB_CODEC, Sha256::digest(&block).into()),
        tree_size: block.len() as u64 + links.iter().map(|l| l.tree_size).sum::<u64>(),
        file_size,
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_does_not_depend_on_slice_sizes() {
        let data: Vec<u8> = (0..3 * CHUNK_SIZE + 17).map(|i| (i % 251) as u8).collect();
        let whole = file_cid(&data);
        let mut builder = CidBuilder::new();
        for piece in data.chunks(100_003) {
            builder.update(piece);
        }
        assert_eq!(builder.finish(), whole);
        let mut digests = CidBuilder::new();
        for chunk in data.chunks(CHUNK_SIZE) {
            digests.push_chunk(chunk_digest(chunk), chunk.len());
        }
        assert_eq!(digests.finish(), whole);
    }

    #[test]
    fn varints_match_protobuf() {
        let mut out = Vec::new();
        put_varint(&mut out, 262_145);
        assert_eq!(out, [0x81, 0x80, 0x10]);
    }
}
