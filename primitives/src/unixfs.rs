//! IPFS-compatible CIDs and DAGs: files, directories and symlinks as
//! `ipfs add [-r] --cid-version=1` builds them with Kubo's defaults.
//!
//! * [`CidBuilder`] computes, in one streaming
//!   pass and bounded memory, a file's CID: 256 KiB fixed-size chunks stored
//!   as raw leaves, a balanced DAG of dag-pb/UnixFS `File` nodes with at most
//!   174 links each, SHA-256 everywhere. A file of one chunk or less is named
//!   by its raw leaf; the empty file by the raw CID of no bytes. On request it
//!   also hands back its inner dag-pb blocks (one per 174 leaves).
//! * [`DirBuilder`] takes named entries (the [`Root`]s of files,
//!   sub-directories and [`symlink`]s) and builds a dag-pb/UnixFS
//!   `Directory` node, or a HAMT-sharded directory exactly where Kubo
//!   switches to one (see [`HAMT_SHARDING_SIZE`]).
//! * Walking a DAG by path: [`UnixfsNode::decode`] reads an untrusted dag-pb
//!   block (links, UnixFS data) or says why not, never panicking, and
//!   [`hamt_lookup`] says which link of a HAMT shard leads to a name.
//!
//! Data flows bottom-up: file bytes → [`CidBuilder`] → [`Root`]; roots and
//! names → [`DirBuilder`] → the directory's [`Root`] and its [`Block`]s, up
//! to the tree's root. Raw leaves are never returned as blocks: they are the
//! file's bytes, which the caller has.
//!
//! Fixtures from an independent implementation (the JavaScript
//! `ipfs-unixfs-importer` with Kubo's options) are in `tests/fixtures/ipfs/`:
//! `cids.json` for files, `trees.json` for directory trees.

mod dir;
mod file;
mod hamt;
mod pb;

use cid::Cid;
use multihash::Multihash;
use sha2::{Digest, Sha256};

pub use dir::{symlink, DirBuilder, DirError, HAMT_SHARDING_SIZE};
pub use file::{file_cid, CidBuilder};
pub use hamt::{hamt_lookup, HamtStep, LookupError, HAMT_FANOUT, HAMT_HASH_MURMUR3};
pub use pb::{
    put_varint, DecodeError, PbLink, PbNode, UnixTime, UnixfsData, UnixfsNode, UnixfsType,
};

/// Bytes per leaf chunk (Kubo's `size-262144` chunker).
pub const CHUNK_SIZE: usize = 256 * 1024;
/// Most links in one file DAG node (Kubo's balanced layout).
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

/// One dag-pb block: its CID and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// CIDv1, dag-pb, SHA-256 of `data`.
    pub cid: Cid,
    /// The encoded `PBNode`.
    pub data: Vec<u8>,
}

impl Block {
    /// Names encoded dag-pb bytes by their CID.
    pub fn dag_pb(data: Vec<u8>) -> Self {
        Self {
            cid: cid_v1(DAG_PB_CODEC, Sha256::digest(&data).into()),
            data,
        }
    }
}

/// The root of a DAG (file, directory or symlink), as a parent links to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Root {
    /// The root's CID.
    pub cid: Cid,
    /// Bytes of every block of the DAG (the dag-pb link's `Tsize`).
    pub tree_size: u64,
    /// File bytes under the root (UnixFS `filesize`); 0 for directories and
    /// symlinks.
    pub file_size: u64,
}
