//! Directories and symlinks: Kubo's basic dag-pb/UnixFS directories, and the
//! switch to a HAMT-sharded directory when one would be too big.

use std::collections::BTreeMap;

use super::pb::{PbLink, PbNode, UnixfsData, UnixfsType};
use super::{hamt, Block, Root};

/// A basic directory whose links' estimated size (the sum over its entries
/// of the name's bytes plus the CID's bytes) is strictly greater than this
/// becomes a HAMT: boxo's `HAMTShardingSize` with its default
/// `SizeEstimationLinks`, Kubo's `Import.UnixFSHAMTDirectorySizeThreshold`.
/// A directory exactly at the threshold stays basic.
pub const HAMT_SHARDING_SIZE: u64 = 256 * 1024;

/// Why an entry cannot go into a directory.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DirError {
    /// An entry name must not be empty.
    #[error("empty entry name")]
    EmptyName,
    /// `/` separates path components; `.` and `..` name other directories.
    #[error("entry name {0:?} is not a single path component")]
    NotAComponent(String),
    /// Each name may appear once in a directory.
    #[error("entry name {0:?} given twice")]
    Duplicate(String),
    /// Two names of a HAMT with one 64-bit hash cannot be placed (Kubo fails
    /// on them too: "sharded directory too deep").
    #[error("entry names {0:?} and {1:?} collide in the HAMT hash")]
    HashCollision(String, String),
}

/// Collects a directory's entries and builds its dag-pb blocks.
#[derive(Clone, Debug, Default)]
pub struct DirBuilder {
    /// Sorted by name bytes, the order of a basic directory's links.
    entries: BTreeMap<String, Root>,
    /// Kubo's size estimate: sum of `len(name) + cid.ByteLen()`.
    estimated_size: u64,
}

impl DirBuilder {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the entry `name`: the root of a file, directory or symlink.
    pub fn add(&mut self, name: impl Into<String>, root: Root) -> Result<(), DirError> {
        let name = name.into();
        if name.is_empty() {
            return Err(DirError::EmptyName);
        }
        if name.contains('/') || name == "." || name == ".." {
            return Err(DirError::NotAComponent(name));
        }
        if self.entries.contains_key(&name) {
            return Err(DirError::Duplicate(name));
        }
        self.estimated_size += (name.len() + root.cid.encoded_len()) as u64;
        self.entries.insert(name, root);
        Ok(())
    }

    /// Entries added so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether [`finish`](Self::finish) will build a HAMT.
    pub fn is_sharded(&self) -> bool {
        self.estimated_size > HAMT_SHARDING_SIZE
    }

    /// The entries' names in the order a depth-first walk of the finished
    /// DAG meets them: by name bytes in a basic directory, by hash in a HAMT.
    pub fn names_in_dag_order(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.entries.keys().map(String::as_str).collect();
        if self.is_sharded() {
            names.sort_by_cached_key(|name| hamt::hash(name.as_bytes()));
        }
        names
    }

    /// The directory's root and its own blocks (not its entries'): one basic
    /// node, or every HAMT shard node, children before parents and the
    /// root's last.
    pub fn finish(self) -> Result<(Root, Vec<Block>), DirError> {
        if self.is_sharded() {
            return hamt::build(self.entries);
        }
        let links = self
            .entries
            .iter()
            .map(|(name, root)| PbLink {
                cid: root.cid,
                name: Some(name.clone()),
                tsize: Some(root.tree_size),
            })
            .collect();
        let (root, block) = node(links, UnixfsData::new(UnixfsType::Directory));
        Ok((root, vec![block]))
    }
}

/// A symlink to `target`, stored as Kubo stores it: a dag-pb node with no
/// links whose UnixFS `Data` is `Type = Symlink`, `Data = target`.
pub fn symlink(target: &[u8]) -> (Root, Block) {
    let mut data = UnixfsData::new(UnixfsType::Symlink);
    // An empty `Data` is left out, as both Kubo and the JS importer do.
    data.data = (!target.is_empty()).then(|| target.to_vec());
    node(Vec::new(), data)
}

/// Encodes a directory-like node: its root (whose `Tsize` counts its
/// links') and its block.
pub(super) fn node(links: Vec<PbLink>, data: UnixfsData) -> (Root, Block) {
    let below: u64 = links.iter().filter_map(|l| l.tsize).sum();
    let block = Block::dag_pb(
        PbNode {
            links,
            data: Some(data.encode()),
        }
        .encode(),
    );
    let root = Root {
        cid: block.cid,
        tree_size: block.data.len() as u64 + below,
        file_size: 0,
    };
    (root, block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unixfs::{file_cid, UnixfsNode};

    fn file(byte: u8) -> Root {
        Root {
            cid: file_cid(&[byte]),
            tree_size: 1,
            file_size: 1,
        }
    }

    #[test]
    fn names_are_single_components_given_once() {
        let mut dir = DirBuilder::new();
        assert_eq!(dir.add("", file(0)), Err(DirError::EmptyName));
        for bad in ["a/b", ".", ".."] {
            assert_eq!(
                dir.add(bad, file(0)),
                Err(DirError::NotAComponent(bad.into()))
            );
        }
        dir.add("a", file(0)).unwrap();
        assert_eq!(dir.add("a", file(1)), Err(DirError::Duplicate("a".into())));
        assert_eq!(dir.len(), 1);
    }

    #[test]
    fn links_are_sorted_by_name_bytes() {
        let mut dir = DirBuilder::new();
        for (i, name) in ["b", "B", "a", "ab", "é"].iter().enumerate() {
            dir.add(*name, file(i as u8)).unwrap();
        }
        let order: Vec<String> = dir
            .names_in_dag_order()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let (root, blocks) = dir.finish().unwrap();
        let node = UnixfsNode::decode(&blocks[0].data).unwrap();
        let names: Vec<_> = node
            .links
            .iter()
            .map(|l| l.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["B", "a", "ab", "b", "é"]);
        assert_eq!(names, order);
        assert_eq!(root.tree_size, blocks[0].data.len() as u64 + 5);
    }

    #[test]
    fn symlink_block_is_type_and_target() {
        let (root, block) = symlink(b"a/b");
        // PBNode { Data: Data { Type: Symlink, Data: "a/b" } }
        assert_eq!(block.data, b"\x0a\x07\x08\x04\x12\x03a/b");
        assert_eq!(root.tree_size, 9);
        assert_eq!(root.cid, block.cid);
    }
}
