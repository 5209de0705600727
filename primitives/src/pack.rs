//! UnixFS packs: how a public object stores an IPFS DAG so that one file, or
//! one block, is read without the rest.
//!
//! A public file of more than one chunk, and every directory, is stored as a
//! pack: its stored bytes are `data ‖ index`.
//!
//! * `data`: the bytes of each distinct file of the DAG (one per root CID),
//!   in the order a depth-first walk from the root first reaches them
//!   (links in their encoded order). Raw leaves live here and nowhere else.
//! * `index`: every dag-pb block of the DAG once (directories, HAMT shards,
//!   symlinks, inner nodes of files), in the order the same walk first
//!   reaches them, each as a varint length followed by the block.
//!
//! The order records the index's size (`dag_index`), so a reader fetches
//! the index alone, hashes every block into its CID, walks the DAG from the
//! root to learn where each file's bytes lie, and then reads one file's range
//! (checking every raw leaf against its CID as it streams,
//! [`LeafCheck`]) or serves any block by CID. A pack has one byte string: the
//! index must be exactly the walk's blocks in the walk's order, and the data
//! exactly as long as its files.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use cid::Cid;
use sha2::{Digest, Sha256};

use crate::unixfs::{
    hamt_lookup, put_varint, Block, DecodeError, HamtStep, LookupError, UnixfsNode, UnixfsType,
    DAG_PB_CODEC, RAW_CODEC, SHA2_256,
};

/// Largest dag-pb block a pack may hold (Bitswap's limit).
pub const MAX_BLOCK_SIZE: usize = 2 << 20;
/// Deepest a pack's DAG may be, directories and file levels together.
pub const MAX_DEPTH: usize = 256;
/// Largest raw leaf a pack may hold (IPFS's largest usual block).
pub const MAX_LEAF: u64 = 1 << 20;

/// Why a pack cannot be built or read.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A block the DAG links to is not in the index.
    #[error("block {0} is missing from the DAG index")]
    MissingBlock(Cid),
    /// A block does not decode as dag-pb/UnixFS.
    #[error("block {cid} is not a UnixFS node")]
    Decode {
        /// The block.
        cid: Cid,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// A HAMT shard cannot be searched.
    #[error("HAMT shard {cid} is malformed")]
    Hamt {
        /// The shard.
        cid: Cid,
        /// Why.
        #[source]
        source: LookupError,
    },
    /// A link to something a UnixFS pack cannot hold (another codec or hash,
    /// a raw leaf where a directory entry size is missing, a metadata node).
    #[error("the DAG links to {0}, which a pack cannot hold")]
    Unsupported(Cid),
    /// The DAG is deeper than [`MAX_DEPTH`].
    #[error("the DAG is deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The index bytes are not a list of blocks.
    #[error("the DAG index is malformed at byte {0}")]
    MalformedIndex(usize),
    /// The index holds other blocks, or in another order, than the walk.
    #[error("the DAG index is not the canonical one for its root")]
    NotCanonical,
    /// The data part is not as long as the DAG's files.
    #[error("the pack holds {actual} bytes of files, its DAG {expected}")]
    DataSize {
        /// Bytes of files the object stores.
        actual: u64,
        /// Bytes of files its DAG names.
        expected: u64,
    },
    /// A file's sizes do not add up.
    #[error("file node {0} has inconsistent sizes")]
    FileSizes(Cid),
    /// No entry at this path.
    #[error("no such file or directory: {0}")]
    NotFound(String),
    /// A path goes through something that is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(String),
}

/// Where a file's bytes lie in the pack's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSpan {
    /// The file's root CID.
    pub cid: Cid,
    /// Offset of its first byte in the stored object.
    pub offset: u64,
    /// Its bytes.
    pub size: u64,
}

/// What a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A file and where its bytes are.
    File(FileSpan),
    /// A directory (basic or HAMT-sharded).
    Directory(Cid),
    /// A symbolic link and its target.
    Symlink {
        /// The link's CID.
        cid: Cid,
        /// The target path, as stored.
        target: Vec<u8>,
    },
}

impl Entry {
    /// The entry's CID.
    pub fn cid(&self) -> Cid {
        match self {
            Entry::File(span) => span.cid,
            Entry::Directory(cid) | Entry::Symlink { cid, .. } => *cid,
        }
    }
}

/// One raw leaf of a file: its CID and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// The raw leaf's CID.
    pub cid: Cid,
    /// Its bytes.
    pub len: u64,
}

/// A pack's DAG: every dag-pb block decoded, every file located.
pub struct Pack {
    root: Cid,
    nodes: HashMap<Cid, (Vec<u8>, UnixfsNode)>,
    /// Files in data order.
    files: Vec<FileSpan>,
    spans: HashMap<Cid, FileSpan>,
    /// dag-pb blocks in walk order.
    order: Vec<Cid>,
}

impl Pack {
    /// Lays out the DAG under `root` from its dag-pb `blocks` (more may be
    /// given than it uses): the pack's files in data order and its index
    /// bytes. A raw root (a file of one chunk or less) has no pack.
    pub fn plan(
        root: Cid,
        blocks: impl IntoIterator<Item = Block>,
    ) -> Result<(Pack, Vec<u8>), PackError> {
        let pack = Pack::walk(root, blocks.into_iter().map(|b| (b.cid, b.data)))?;
        let mut index = Vec::new();
        for cid in &pack.order {
            let block = &pack.nodes[cid].0;
            put_varint(&mut index, block.len() as u64);
            index.extend_from_slice(block);
        }
        Ok((pack, index))
    }

    /// Reads a pack's `index` (untrusted bytes) for the DAG under `root`,
    /// whose files take `data_size` bytes: every block is named by its hash,
    /// and the index and sizes must be exactly those [`plan`](Self::plan)
    /// gives.
    pub fn open(root: Cid, index: &[u8], data_size: u64) -> Result<Pack, PackError> {
        let mut blocks = Vec::new();
        let mut at = 0;
        while at < index.len() {
            let (len, used) = read_varint(&index[at..]).ok_or(PackError::MalformedIndex(at))?;
            let start = at + used;
            let end = usize::try_from(len)
                .ok()
                .filter(|len| *len <= MAX_BLOCK_SIZE)
                .and_then(|len| start.checked_add(len))
                .filter(|end| *end <= index.len())
                .ok_or(PackError::MalformedIndex(at))?;
            let data = index[start..end].to_vec();
            let cid = Block::dag_pb(data.clone()).cid;
            blocks.push((cid, data));
            at = end;
        }
        let listed: Vec<Cid> = blocks.iter().map(|(cid, _)| *cid).collect();
        let pack = Pack::walk(root, blocks)?;
        if pack.order != listed {
            return Err(PackError::NotCanonical);
        }
        let expected = pack.data_size();
        if expected != data_size {
            return Err(PackError::DataSize {
                actual: data_size,
                expected,
            });
        }
        Ok(pack)
    }

    /// The DAG's root.
    pub fn root(&self) -> Cid {
        self.root
    }

    /// The distinct files, in data order.
    pub fn files(&self) -> &[FileSpan] {
        &self.files
    }

    /// Bytes of the data part.
    pub fn data_size(&self) -> u64 {
        self.files.last().map_or(0, |f| f.offset + f.size)
    }

    /// A dag-pb block of the DAG by CID.
    pub fn block(&self, cid: &Cid) -> Option<&[u8]> {
        self.nodes.get(cid).map(|(bytes, _)| bytes.as_slice())
    }

    /// The CIDs of the DAG's dag-pb blocks, in index order.
    pub fn block_cids(&self) -> impl Iterator<Item = Cid> + '_ {
        self.order.iter().copied()
    }

    /// What `path` (`a/b/c`, empty for the root) names.
    pub fn resolve(&self, path: &str) -> Result<Entry, PackError> {
        self.resolve_from(self.root, path, &mut Vec::new())
    }

    /// What `path` names below the entry `from` of the DAG, pushing onto
    /// `walked` every block read on the way (each directory, and each HAMT
    /// shard a lookup goes through), in order: the blocks a client needs
    /// to verify the path (the trustless gateway's CAR responses).
    pub fn resolve_from(
        &self,
        from: Cid,
        path: &str,
        walked: &mut Vec<Cid>,
    ) -> Result<Entry, PackError> {
        let mut entry = self.entry(from)?;
        let mut names = String::new();
        for name in path.split('/').filter(|n| !n.is_empty()) {
            let Entry::Directory(dir) = entry else {
                return Err(PackError::NotADirectory(names));
            };
            if !names.is_empty() {
                names.push('/');
            }
            names.push_str(name);
            let cid = self
                .lookup(dir, name, walked)?
                .ok_or_else(|| PackError::NotFound(names.clone()))?;
            entry = self.entry(cid)?;
        }
        Ok(entry)
    }

    /// A dag-pb block of the DAG, decoded.
    pub fn node(&self, cid: &Cid) -> Option<&UnixfsNode> {
        self.nodes.get(cid).map(|(_, node)| node)
    }

    /// The entries of directory `dir`, sorted by name.
    pub fn list(&self, dir: Cid) -> Result<Vec<(String, Entry)>, PackError> {
        let mut out = Vec::new();
        self.list_into(dir, 0, &mut out)?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The raw leaves of file `cid`, in order: what its bytes must hash to.
    pub fn leaves(&self, cid: Cid) -> Result<Vec<Leaf>, PackError> {
        let size = self.spans.get(&cid).map(|s| s.size);
        let mut out = Vec::new();
        self.leaves_into(cid, size, 0, &mut out)?;
        Ok(out)
    }

    fn known_node(&self, cid: &Cid) -> Result<&UnixfsNode, PackError> {
        self.node(cid).ok_or(PackError::MissingBlock(*cid))
    }

    fn entry(&self, cid: Cid) -> Result<Entry, PackError> {
        if let Some(span) = self.spans.get(&cid) {
            return Ok(Entry::File(*span));
        }
        let node = self.known_node(&cid)?;
        Ok(match node.data.kind {
            UnixfsType::Directory | UnixfsType::HamtShard => Entry::Directory(cid),
            UnixfsType::Symlink => Entry::Symlink {
                cid,
                target: node.data.data.clone().unwrap_or_default(),
            },
            _ => return Err(PackError::Unsupported(cid)),
        })
    }

    /// What the entry `name` of directory `dir` links to; every block read
    /// is pushed onto `walked`.
    fn lookup(
        &self,
        dir: Cid,
        name: &str,
        walked: &mut Vec<Cid>,
    ) -> Result<Option<Cid>, PackError> {
        let mut node = self.known_node(&dir)?;
        let mut shard = dir;
        walked.push(dir);
        if node.data.kind == UnixfsType::Directory {
            let link = node.links.iter().find(|l| l.name.as_deref() == Some(name));
            return Ok(link.map(|l| l.cid));
        }
        for depth in 0.. {
            let step = hamt_lookup(node, name, depth)
                .map_err(|source| PackError::Hamt { cid: shard, source })?;
            match step {
                HamtStep::Entry(link) => return Ok(Some(link.cid)),
                HamtStep::Absent => return Ok(None),
                HamtStep::Shard(link) => {
                    shard = link.cid;
                    node = self.known_node(&shard)?;
                    walked.push(shard);
                }
            }
        }
        unreachable!("hamt_lookup refuses depths past its hash; qed")
    }

    fn list_into(
        &self,
        dir: Cid,
        depth: usize,
        out: &mut Vec<(String, Entry)>,
    ) -> Result<(), PackError> {
        if depth > MAX_DEPTH {
            return Err(PackError::TooDeep);
        }
        let node = self.known_node(&dir)?;
        let sharded = node.data.kind == UnixfsType::HamtShard;
        let width = match node.data.fanout {
            Some(fanout) if sharded => format!("{:X}", fanout.saturating_sub(1)).len(),
            _ => 0,
        };
        for link in &node.links {
            let label = link.name.as_deref().unwrap_or_default();
            let name = label.get(width..).unwrap_or_default();
            if sharded && name.is_empty() {
                self.list_into(link.cid, depth + 1, out)?;
            } else {
                out.push((name.to_string(), self.entry(link.cid)?));
            }
        }
        Ok(())
    }

    fn leaves_into(
        &self,
        cid: Cid,
        size: Option<u64>,
        depth: usize,
        out: &mut Vec<Leaf>,
    ) -> Result<(), PackError> {
        if depth > MAX_DEPTH {
            return Err(PackError::TooDeep);
        }
        if cid.codec() == RAW_CODEC {
            let len = size.ok_or(PackError::Unsupported(cid))?;
            out.push(Leaf { cid, len });
            return Ok(());
        }
        let node = self.known_node(&cid)?;
        if node.data.kind != UnixfsType::File || node.links.len() != node.data.block_sizes.len() {
            return Err(PackError::FileSizes(cid));
        }
        for (link, &len) in node.links.iter().zip(&node.data.block_sizes) {
            self.leaves_into(link.cid, Some(len), depth + 1, out)?;
        }
        Ok(())
    }

    /// Walks the DAG under `root` over `blocks`: decodes every dag-pb block
    /// it reaches, in walk order, and lays out its files.
    fn walk(
        root: Cid,
        blocks: impl IntoIterator<Item = (Cid, Vec<u8>)>,
    ) -> Result<Pack, PackError> {
        let mut given: HashMap<Cid, Vec<u8>> = blocks.into_iter().collect();
        let mut pack = Pack {
            root,
            nodes: HashMap::new(),
            files: Vec::new(),
            spans: HashMap::new(),
            order: Vec::new(),
        };
        let mut walker = Walker {
            given: &mut given,
            pack: &mut pack,
            entries: HashSet::new(),
        };
        walker.entry(root, None, 0)?;
        Ok(pack)
    }
}

struct Walker<'a> {
    given: &'a mut HashMap<Cid, Vec<u8>>,
    pack: &'a mut Pack,
    /// Entries (files, directories, symlinks) already walked.
    entries: HashSet<Cid>,
}

impl Walker<'_> {
    /// Decodes the dag-pb block `cid` the first time the walk reaches it.
    fn visit(&mut self, cid: Cid) -> Result<&UnixfsNode, PackError> {
        if !sha256_v1(&cid, DAG_PB_CODEC) {
            return Err(PackError::Unsupported(cid));
        }
        if !self.pack.nodes.contains_key(&cid) {
            let bytes = self
                .given
                .remove(&cid)
                .ok_or(PackError::MissingBlock(cid))?;
            let node =
                UnixfsNode::decode(&bytes).map_err(|source| PackError::Decode { cid, source })?;
            self.pack.order.push(cid);
            self.pack.nodes.insert(cid, (bytes, node));
        }
        Ok(&self.pack.nodes[&cid].1)
    }

    /// Walks the entry `cid`, linked with `Tsize` `size`.
    fn entry(&mut self, cid: Cid, size: Option<u64>, depth: usize) -> Result<(), PackError> {
        if depth > MAX_DEPTH {
            return Err(PackError::TooDeep);
        }
        if !self.entries.insert(cid) {
            return Ok(());
        }
        if cid.codec() == RAW_CODEC {
            let size = size
                .filter(|s| sha256_v1(&cid, RAW_CODEC) && *s <= MAX_LEAF)
                .ok_or(PackError::Unsupported(cid))?;
            self.file(cid, size);
            return Ok(());
        }
        let node = self.visit(cid)?;
        match node.data.kind {
            UnixfsType::Directory | UnixfsType::HamtShard => {
                let links: Vec<_> = node.links.iter().map(|l| (l.cid, l.tsize)).collect();
                for (cid, size) in links {
                    self.entry(cid, size, depth + 1)?;
                }
            }
            UnixfsType::File => {
                let size = node.data.file_size.unwrap_or(0);
                self.file(cid, size);
                self.file_nodes(cid, size, depth)?;
            }
            UnixfsType::Symlink => {}
            UnixfsType::Raw | UnixfsType::Metadata => return Err(PackError::Unsupported(cid)),
        }
        Ok(())
    }

    /// Visits the inner nodes of file node `cid` of `size` bytes, checking
    /// that its sizes add up.
    fn file_nodes(&mut self, cid: Cid, size: u64, depth: usize) -> Result<(), PackError> {
        if depth > MAX_DEPTH {
            return Err(PackError::TooDeep);
        }
        let node = self.visit(cid)?;
        let inline = node.data.data.as_ref().map_or(0, |d| d.len() as u64);
        let sizes = &node.data.block_sizes;
        let total = sizes.iter().try_fold(inline, |sum, s| sum.checked_add(*s));
        if node.links.len() != sizes.len() || total != Some(size) || inline > 0 {
            return Err(PackError::FileSizes(cid));
        }
        let links: Vec<_> = node
            .links
            .iter()
            .map(|l| l.cid)
            .zip(sizes.clone())
            .collect();
        for (child, child_size) in links {
            if child.codec() != RAW_CODEC {
                self.file_nodes(child, child_size, depth + 1)?;
            } else if !sha256_v1(&child, RAW_CODEC) || child_size > MAX_LEAF {
                return Err(PackError::Unsupported(child));
            }
        }
        Ok(())
    }

    fn file(&mut self, cid: Cid, size: u64) {
        let offset = self.pack.data_size();
        let span = FileSpan { cid, offset, size };
        self.pack.files.push(span);
        self.pack.spans.insert(cid, span);
    }
}

/// Whether `cid` is a CIDv1 of `codec` over SHA-256, as every block of a
/// pack is.
fn sha256_v1(cid: &Cid, codec: u64) -> bool {
    cid.version() == cid::Version::V1 && cid.codec() == codec && cid.hash().code() == SHA2_256
}

fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f).checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Passes a file's bytes through to `inner` only after checking each raw
/// leaf against its CID, so that nothing unverified is written; call
/// [`finish`](Self::finish) after the last byte.
pub struct LeafCheck<W> {
    inner: W,
    leaves: std::vec::IntoIter<Leaf>,
    current: Option<Leaf>,
    buf: Vec<u8>,
}

impl<W: Write> LeafCheck<W> {
    /// Checks bytes against `leaves` (from [`Pack::leaves`]).
    pub fn new(inner: W, leaves: Vec<Leaf>) -> Self {
        let mut leaves = leaves.into_iter();
        let current = leaves.next();
        LeafCheck {
            inner,
            leaves,
            current,
            buf: Vec::new(),
        }
    }

    /// Checks that every leaf came, and hands back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        // Empty leaves (an empty file) complete without bytes.
        self.complete_empty()?;
        if self.current.is_some() || !self.buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ended before its last leaf",
            ));
        }
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn complete_empty(&mut self) -> io::Result<()> {
        while let Some(leaf) = self.current.filter(|l| l.len == 0) {
            self.check(&leaf, &[])?;
            self.current = self.leaves.next();
        }
        Ok(())
    }

    fn check(&mut self, leaf: &Leaf, bytes: &[u8]) -> io::Result<()> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if leaf.cid.hash().digest() != digest.as_slice() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("leaf {} does not match its bytes", leaf.cid),
            ));
        }
        self.inner.write_all(bytes)
    }
}

impl<W: Write> Write for LeafCheck<W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let written = data.len();
        while !data.is_empty() {
            self.complete_empty()?;
            let Some(leaf) = self.current else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "more bytes than the file's leaves",
                ));
            };
            let want = (leaf.len as usize).saturating_sub(self.buf.len());
            let take = want.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() as u64 == leaf.len {
                let bytes = std::mem::take(&mut self.buf);
                self.check(&leaf, &bytes)?;
                self.buf = bytes;
                self.buf.clear();
                self.current = self.leaves.next();
            }
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unixfs::{symlink, CidBuilder, DirBuilder, Root, CHUNK_SIZE};

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    fn file(data: &[u8], blocks: &mut Vec<Block>) -> Root {
        let mut builder = CidBuilder::keeping_blocks();
        builder.update(data);
        let (root, inner) = builder.finish_dag();
        blocks.extend(inner);
        root
    }

    /// A tree: `big` (3 chunks + 5), `small` (a raw leaf), `copy` (big
    /// again), `sub/{empty, link}`. Returns the root, every block and each
    /// file's bytes by CID.
    fn tree() -> (Cid, Vec<Block>, HashMap<Cid, Vec<u8>>) {
        let mut blocks = Vec::new();
        let mut contents = HashMap::new();
        let mut add = |dir: &mut DirBuilder, name: &str, data: Vec<u8>, blocks: &mut Vec<Block>| {
            let root = file(&data, blocks);
            contents.insert(root.cid, data);
            dir.add(name, root).unwrap();
        };
        let mut sub = DirBuilder::new();
        add(&mut sub, "empty", Vec::new(), &mut blocks);
        let (link, link_block) = symlink(b"../big");
        blocks.push(link_block);
        sub.add("link", link).unwrap();
        let (sub, sub_blocks) = sub.finish().unwrap();
        blocks.extend(sub_blocks);
        let mut top = DirBuilder::new();
        add(&mut top, "big", bytes(3 * CHUNK_SIZE + 5, 1), &mut blocks);
        add(&mut top, "small", bytes(1000, 2), &mut blocks);
        add(&mut top, "copy", bytes(3 * CHUNK_SIZE + 5, 1), &mut blocks);
        top.add("sub", sub).unwrap();
        let (root, top_blocks) = top.finish().unwrap();
        blocks.extend(top_blocks);
        (root.cid, blocks, contents)
    }

    fn data_of(pack: &Pack, contents: &HashMap<Cid, Vec<u8>>) -> Vec<u8> {
        pack.files()
            .iter()
            .flat_map(|f| contents[&f.cid].clone())
            .collect()
    }

    fn read(pack: &Pack, data: &[u8], path: &str) -> Result<Vec<u8>, io::Error> {
        let Entry::File(span) = pack.resolve(path).unwrap() else {
            panic!("{path} is a file");
        };
        let range = span.offset as usize..(span.offset + span.size) as usize;
        let mut check = LeafCheck::new(Vec::new(), pack.leaves(span.cid).unwrap());
        check.write_all(&data[range])?;
        check.finish()
    }

    #[test]
    fn a_tree_is_laid_out_once_and_read_back_by_path() {
        let (root, blocks, contents) = tree();
        let (planned, index) = Pack::plan(root, blocks).unwrap();
        // `copy` is `big`: stored once; the empty file and `small` once each.
        assert_eq!(planned.files().len(), 3);
        let data = data_of(&planned, &contents);
        assert_eq!(data.len() as u64, planned.data_size());
        let pack = Pack::open(root, &index, data.len() as u64).unwrap();
        assert_eq!(pack.files(), planned.files());
        assert_eq!(
            read(&pack, &data, "big").unwrap(),
            bytes(3 * CHUNK_SIZE + 5, 1)
        );
        assert_eq!(
            read(&pack, &data, "/copy").unwrap(),
            bytes(3 * CHUNK_SIZE + 5, 1)
        );
        assert_eq!(read(&pack, &data, "small").unwrap(), bytes(1000, 2));
        assert_eq!(read(&pack, &data, "sub/empty").unwrap(), b"");
        assert!(matches!(
            pack.resolve("sub/link").unwrap(),
            Entry::Symlink { target, .. } if target == b"../big"
        ));
        assert!(matches!(pack.resolve("").unwrap(), Entry::Directory(cid) if cid == root));
        // The blocks walked to a path: each directory on the way.
        let mut walked = Vec::new();
        let sub = pack.resolve("sub").unwrap().cid();
        let empty = pack.resolve_from(root, "sub/empty", &mut walked).unwrap();
        assert_eq!(walked, [root, sub]);
        assert_eq!(
            pack.resolve_from(sub, "empty", &mut Vec::new()).unwrap(),
            empty
        );
        assert!(
            matches!(pack.resolve("sub/nothing"), Err(PackError::NotFound(p)) if p == "sub/nothing")
        );
        assert!(
            matches!(pack.resolve("small/x"), Err(PackError::NotADirectory(p)) if p == "small")
        );
        let names: Vec<String> = pack
            .list(root)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["big", "copy", "small", "sub"]);
        // Every dag-pb block is served by CID.
        assert_eq!(
            pack.block(&root).map(|b| Block::dag_pb(b.to_vec()).cid),
            Some(root)
        );
    }

    #[test]
    fn a_changed_byte_fails_its_leaf() {
        let (root, blocks, contents) = tree();
        let (pack, _) = Pack::plan(root, blocks).unwrap();
        let mut data = data_of(&pack, &contents);
        let Entry::File(big) = pack.resolve("big").unwrap() else {
            panic!()
        };
        data[(big.offset + 2 * CHUNK_SIZE as u64 + 9) as usize] ^= 1;
        let err = read(&pack, &data, "big").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Too few bytes, or too many, are caught too.
        let leaves = pack.leaves(big.cid).unwrap();
        let mut short = LeafCheck::new(Vec::new(), leaves.clone());
        short.write_all(&[0; 10]).unwrap();
        assert!(short.finish().is_err());
        let mut long = LeafCheck::new(
            Vec::new(),
            pack.leaves(pack.resolve("sub/empty").unwrap().cid())
                .unwrap(),
        );
        assert!(long.write_all(&[0]).is_err());
    }

    #[test]
    fn an_index_that_is_not_the_canonical_one_is_refused() {
        let (root, blocks, contents) = tree();
        let (pack, index) = Pack::plan(root, blocks.clone()).unwrap();
        let size = data_of(&pack, &contents).len() as u64;
        assert!(matches!(
            Pack::open(root, &index, size + 1),
            Err(PackError::DataSize { .. })
        ));
        assert!(matches!(
            Pack::open(root, &index[..index.len() - 1], size),
            Err(PackError::MalformedIndex(_))
        ));
        // A block the walk does not reach, or the blocks in another order.
        let mut extra = index.clone();
        put_varint(&mut extra, 3);
        extra.extend_from_slice(&[0x0a, 0x01, 0x08]);
        assert!(matches!(
            Pack::open(root, &extra, size),
            Err(PackError::NotCanonical)
        ));
        let mut reordered = Vec::new();
        for cid in pack.order.iter().rev() {
            let block = pack.block(cid).unwrap();
            put_varint(&mut reordered, block.len() as u64);
            reordered.extend_from_slice(block);
        }
        assert!(matches!(
            Pack::open(root, &reordered, size),
            Err(PackError::NotCanonical)
        ));
        // Without the root's block nothing is known.
        let other = file(&bytes(2 * CHUNK_SIZE, 9), &mut Vec::new()).cid;
        assert!(
            matches!(Pack::open(other, &index, size), Err(PackError::MissingBlock(c)) if c == other)
        );
    }

    #[test]
    fn a_sharded_directory_resolves_every_name() {
        let mut blocks = Vec::new();
        let mut dir = DirBuilder::new();
        let leaf = file(b"x", &mut blocks);
        let names: Vec<String> = (0..6000)
            .map(|i| format!("entry-number-{i:05}-of-a-big-directory"))
            .collect();
        for name in &names {
            dir.add(name.clone(), leaf).unwrap();
        }
        assert!(dir.is_sharded());
        let (root, dir_blocks) = dir.finish().unwrap();
        blocks.extend(dir_blocks);
        let (_, index) = Pack::plan(root.cid, blocks).unwrap();
        let pack = Pack::open(root.cid, &index, 1).unwrap();
        for name in names.iter().step_by(97) {
            let mut walked = Vec::new();
            let entry = pack.resolve_from(root.cid, name, &mut walked).unwrap();
            assert_eq!(entry.cid(), leaf.cid);
            // The root shard, then the inner shards the lookup went through.
            assert_eq!(walked[0], root.cid);
            assert!(walked.len() >= 2, "6000 entries need two levels");
            assert!(walked.iter().all(|cid| pack.node(cid).is_some()));
        }
        assert!(matches!(
            pack.resolve("absent"),
            Err(PackError::NotFound(_))
        ));
        assert_eq!(pack.list(root.cid).unwrap().len(), names.len());
    }

    proptest::proptest! {
        #[test]
        fn any_index_bytes_give_a_pack_or_an_error(index in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let root = file(&bytes(2 * CHUNK_SIZE, 3), &mut Vec::new()).cid;
            let _ = Pack::open(root, &index, 2 * CHUNK_SIZE as u64);
        }
    }
}
