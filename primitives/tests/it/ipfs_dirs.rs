//! Directory CIDs must equal those of an independent IPFS implementation
//! (the JavaScript `ipfs-unixfs-importer` configured as Kubo's `ipfs add -r
//! --cid-version=1`); the trees are described in
//! `tests/fixtures/ipfs/README.md` and listed in `trees.json`. Every block
//! built must decode, and a walk by path (HAMTs included) must find every
//! entry.

use std::collections::{BTreeMap, HashMap};

use cid::Cid;
use mosaic_primitives::unixfs::{
    hamt_lookup, symlink, Block, CidBuilder, DirBuilder, HamtStep, PbNode, Root, UnixfsData,
    UnixfsNode, UnixfsType,
};
use proptest::prelude::*;
use serde::Deserialize;

use crate::ipfs::Xorshift32;

#[derive(Deserialize)]
struct Tree {
    name: String,
    generated: Option<Generated>,
    #[serde(default)]
    entries: Vec<Entry>,
    root: String,
    root_type: String,
    dirs: BTreeMap<String, DirCid>,
}

/// `count` files named by `threshold_entries`.
#[derive(Deserialize)]
struct Generated {
    count: u32,
    extra: bool,
}

#[derive(Deserialize)]
struct DirCid {
    cid: String,
}

#[derive(Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Entry {
    File { path: String, size: u64, seed: u32 },
    Dir { path: String },
    Symlink { path: String, target: String },
}

fn trees() -> Vec<Tree> {
    let trees: Vec<Tree> =
        serde_json::from_str(include_str!("../fixtures/ipfs/trees.json")).unwrap();
    assert!(trees.len() >= 9);
    trees
}

/// The README's rule: `count` files of 28-byte names (the last one 29 bytes
/// if `extra`), file `i` being `i % 64` bytes of the stream for seed `i + 1`.
fn threshold_entries(generated: &Generated) -> Vec<Entry> {
    (0..generated.count)
        .map(|i| {
            let stem = format!("entry-{i:06}-");
            let mut path = format!("{stem}{}", "a".repeat(28 - stem.len()));
            if generated.extra && i == generated.count - 1 {
                path.push('a');
            }
            Entry::File {
                path,
                size: u64::from(i % 64),
                seed: i + 1,
            }
        })
        .collect()
}

/// A tree in memory.
enum Node {
    File { size: u64, seed: u32 },
    Dir(BTreeMap<String, Node>),
    Symlink(String),
}

fn tree_of(tree: &Tree) -> Node {
    let mut entries = tree
        .generated
        .as_ref()
        .map(threshold_entries)
        .unwrap_or_default();
    entries.extend(tree.entries.iter().cloned());
    let mut root = BTreeMap::new();
    for entry in entries {
        let (path, node) = match entry {
            Entry::File { path, size, seed } => (path, Node::File { size, seed }),
            Entry::Dir { path } => (path, Node::Dir(BTreeMap::new())),
            Entry::Symlink { path, target } => (path, Node::Symlink(target)),
        };
        let mut parts: Vec<&str> = path.split('/').collect();
        let name = parts.pop().unwrap();
        let mut dir = &mut root;
        for part in parts {
            let next = dir
                .entry(part.to_owned())
                .or_insert_with(|| Node::Dir(BTreeMap::new()));
            let Node::Dir(children) = next else {
                panic!("{path}: {part} is not a directory")
            };
            dir = children;
        }
        dir.entry(name.to_owned()).or_insert(node);
    }
    Node::Dir(root)
}

/// What building a tree gave: every dag-pb block, each directory's root by
/// path, each entry's root by path.
#[derive(Default)]
struct Built {
    blocks: Vec<Block>,
    dirs: BTreeMap<String, (Root, bool)>,
    entries: BTreeMap<String, Root>,
}

fn build(node: &Node, path: &str, out: &mut Built) -> Root {
    let root = match node {
        Node::File { size, seed } => {
            let mut stream = Xorshift32(*seed);
            let mut builder = CidBuilder::keeping_blocks();
            let mut buf = vec![0u8; 1 << 20];
            let mut left = *size;
            while left > 0 {
                let n = left.min(buf.len() as u64) as usize;
                stream.fill(&mut buf[..n]);
                builder.update(&buf[..n]);
                left -= n as u64;
            }
            let (root, blocks) = builder.finish_dag();
            assert_eq!(root.file_size, *size, "{path}");
            out.blocks.extend(blocks);
            root
        }
        Node::Symlink(target) => {
            let (root, block) = symlink(target.as_bytes());
            out.blocks.push(block);
            root
        }
        Node::Dir(children) => {
            let mut dir = DirBuilder::new();
            for (name, child) in children {
                let child_path = match path {
                    "" => name.clone(),
                    _ => format!("{path}/{name}"),
                };
                dir.add(name.as_str(), build(child, &child_path, out))
                    .unwrap();
            }
            let sharded = dir.is_sharded();
            let (root, blocks) = dir.finish().unwrap();
            assert_eq!(blocks.last().unwrap().cid, root.cid);
            out.blocks.extend(blocks);
            out.dirs.insert(path.to_owned(), (root, sharded));
            root
        }
    };
    out.entries.insert(path.to_owned(), root);
    root
}

fn built(tree: &Tree) -> Built {
    let mut out = Built::default();
    build(&tree_of(tree), "", &mut out);
    out
}

#[test]
fn directory_cids_match_the_ipfs_importer() {
    for tree in trees() {
        let built = built(&tree);
        let (root, sharded) = built.dirs[""];
        assert_eq!(root.cid.to_string(), tree.root, "{}", tree.name);
        assert_eq!(
            sharded,
            tree.root_type == "hamt-sharded-directory",
            "{}",
            tree.name
        );
        for (path, expected) in &tree.dirs {
            assert_eq!(
                built.dirs[path].0.cid.to_string(),
                expected.cid,
                "{}: {path:?}",
                tree.name
            );
        }
    }
}

#[test]
fn every_block_decodes_to_what_was_encoded() {
    for tree in trees() {
        for block in built(&tree).blocks {
            assert_eq!(Block::dag_pb(block.data.clone()), block);
            let node = UnixfsNode::decode(&block.data)
                .unwrap_or_else(|e| panic!("{}: {}: {e}", tree.name, block.cid));
            assert_eq!(node.encode(), block.data, "{}: {}", tree.name, block.cid);
            let pb = PbNode::decode(&block.data).unwrap();
            assert_eq!(pb.encode(), block.data);
            assert_eq!(
                UnixfsData::decode(pb.data.as_deref().unwrap()),
                Ok(node.data)
            );
        }
    }
}

/// Where a walk by path from a directory's root ends.
#[derive(Debug, PartialEq)]
enum Resolved {
    Found(Cid),
    Absent,
}

/// Resolves `path` under the directory `root` as `get CID/path` will: one
/// block at a time, through basic directories and HAMT shards. Returns the
/// depth of the deepest shard met as well.
fn resolve(nodes: &HashMap<Cid, UnixfsNode>, root: Cid, path: &str) -> (Resolved, u32) {
    let mut cid = root;
    let mut deepest = 0;
    for name in path.split('/') {
        let mut depth = 0;
        cid = loop {
            let node = &nodes[&cid];
            match node.data.kind {
                UnixfsType::Directory => {
                    let link = node.links.iter().find(|l| l.name.as_deref() == Some(name));
                    match link {
                        Some(link) => break link.cid,
                        None => return (Resolved::Absent, deepest),
                    }
                }
                UnixfsType::HamtShard => match hamt_lookup(node, name, depth).unwrap() {
                    HamtStep::Entry(link) => break link.cid,
                    HamtStep::Shard(link) => {
                        cid = link.cid;
                        depth += 1;
                        deepest = deepest.max(depth);
                    }
                    HamtStep::Absent => return (Resolved::Absent, deepest),
                },
                other => panic!("{name}: {other:?} is not a directory"),
            }
        };
    }
    (Resolved::Found(cid), deepest)
}

#[test]
fn walks_by_path_find_every_entry_and_no_other() {
    let mut deepest = 0;
    for tree in trees() {
        let built = built(&tree);
        let nodes: HashMap<Cid, UnixfsNode> = built
            .blocks
            .iter()
            .map(|b| (b.cid, UnixfsNode::decode(&b.data).unwrap()))
            .collect();
        let root = built.dirs[""].0.cid;
        for (path, entry) in built.entries.iter().filter(|(p, _)| !p.is_empty()) {
            let (found, depth) = resolve(&nodes, root, path);
            assert_eq!(found, Resolved::Found(entry.cid), "{}: {path}", tree.name);
            deepest = deepest.max(depth);
            let (missing, _) = resolve(&nodes, root, &format!("{path}~"));
            assert_eq!(missing, Resolved::Absent, "{}: {path}~", tree.name);
        }
        for absent in ["", "nope", "entry-000000-aaaaaaaaaaaaaaab", "AA"] {
            let (missing, _) = resolve(&nodes, root, absent);
            assert_eq!(missing, Resolved::Absent, "{}: {absent:?}", tree.name);
        }
    }
    assert!(deepest >= 2, "a HAMT with sub-shards of sub-shards");
}

#[test]
fn names_in_dag_order_are_the_order_of_a_depth_first_walk() {
    for tree in trees().iter().filter(|t| t.generated.is_some()) {
        let Node::Dir(children) = tree_of(tree) else {
            unreachable!()
        };
        let mut out = Built::default();
        let mut dir = DirBuilder::new();
        for (name, child) in &children {
            dir.add(name.as_str(), build(child, name, &mut out))
                .unwrap();
        }
        let order: Vec<String> = dir
            .names_in_dag_order()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let (root, blocks) = dir.finish().unwrap();
        let blocks: HashMap<Cid, &[u8]> =
            blocks.iter().map(|b| (b.cid, b.data.as_slice())).collect();
        let mut walked = Vec::new();
        walk(&blocks, root.cid, &mut walked);
        assert_eq!(walked, order, "{}", tree.name);
    }
}

/// Entry names of a directory's DAG, depth-first, labels stripped.
fn walk(blocks: &HashMap<Cid, &[u8]>, cid: Cid, names: &mut Vec<String>) {
    let node = UnixfsNode::decode(blocks[&cid]).unwrap();
    let hamt = node.data.kind == UnixfsType::HamtShard;
    for link in &node.links {
        let name = link.name.as_deref().unwrap();
        match hamt {
            true if name.len() == 2 => walk(blocks, link.cid, names),
            true => names.push(name[2..].to_owned()),
            false => names.push(name.to_owned()),
        }
    }
}

#[test]
fn symlink_block_is_a_hand_checked_vector() {
    // PBNode { Data (1): UnixFS Data { Type (1) = Symlink (4), Data (2) =
    // "target.txt" } }, no links: as the importer writes a symlink.
    let (root, block) = symlink(b"target.txt");
    assert_eq!(block.data, b"\x0a\x0e\x08\x04\x12\x0atarget.txt");
    assert_eq!(root.tree_size, block.data.len() as u64);
}

fn real_blocks() -> Vec<Vec<u8>> {
    let tree = trees().into_iter().find(|t| t.name == "symlinks").unwrap();
    built(&tree).blocks.into_iter().map(|b| b.data).collect()
}

proptest! {
    #[test]
    fn any_bytes_decode_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        // What the unixfs_decode fuzz target checks, on fewer inputs.
        if let Ok(node) = PbNode::decode(&bytes) {
            prop_assert_eq!(PbNode::decode(&node.encode()), Ok(node));
        }
        if let Ok(message) = UnixfsData::decode(&bytes) {
            prop_assert_eq!(UnixfsData::decode(&message.encode()), Ok(message));
        }
        if let Ok(node) = UnixfsNode::decode(&bytes) {
            for depth in [0, 1, 9, u32::MAX] {
                let _ = hamt_lookup(&node, "name", depth);
            }
            prop_assert_eq!(UnixfsNode::decode(&node.encode()), Ok(node));
        }
    }

    #[test]
    fn damaged_blocks_decode_or_fail_without_panicking(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
    ) {
        let blocks = real_blocks();
        let mut block = blocks[which.index(blocks.len())].clone();
        let at = at.index(block.len());
        match cut {
            true => block.truncate(at),
            false => block[at] = byte,
        }
        if let Ok(node) = UnixfsNode::decode(&block) {
            let _ = hamt_lookup(&node, "target.txt", 0);
        }
    }
}

#[test]
fn malformed_dag_pb_gives_errors() {
    let valid = real_blocks().remove(0);
    for end in 0..valid.len() {
        // A strict prefix ends inside a field or lacks the data.
        assert!(UnixfsNode::decode(&valid[..end]).is_err(), "prefix {end}");
    }
    // Data (field 1) as a varint; a link of length 2^63; a 11-byte varint.
    assert!(PbNode::decode(&[0x08, 0x01]).is_err());
    assert!(
        PbNode::decode(&[0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
            .is_err()
    );
    assert!(PbNode::decode(&[
        0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
    ])
    .is_err());
}
