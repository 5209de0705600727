//! Which blocks a CAR response carries, and in which order: the blocks that
//! prove the path (each directory and HAMT shard walked through), then a
//! depth-first walk from the path's end, links in their encoded order, cut
//! to the `dag-scope` and a file's `entity-bytes`. Known from the pack's
//! index alone: dag-pb blocks are decoded there and a raw leaf's size is
//! its parent's `blocksizes` entry, so the order is fixed before a byte of
//! a leaf is read.

use std::collections::HashSet;
use std::ops::Range;

use cid::Cid;
use mosaic_primitives::pack::{Pack, MAX_DEPTH};
use mosaic_primitives::unixfs::UnixfsType;

use super::request::Scope;

/// Most blocks one CAR may list (a 64 GiB file has a quarter of that).
pub(crate) const MAX_CAR_BLOCKS: usize = 1 << 20;

/// Why no block list could be made.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SelectError {
    /// The walk meets more than [`MAX_CAR_BLOCKS`] blocks.
    #[error("the DAG has more than {MAX_CAR_BLOCKS} blocks to send")]
    TooManyBlocks,
    /// The DAG is deeper than a pack may be.
    #[error("the DAG is deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// What to walk from the path's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Selection {
    /// How far the walk goes.
    pub scope: Scope,
    /// For a file entity under [`Scope::Entity`]: only the blocks holding
    /// these bytes (and the nodes above them).
    pub bytes: Option<Range<u64>>,
    /// Send a block each time the walk meets it.
    pub dups: bool,
}

/// The CIDs a CAR carries: `walked` (the path's blocks), then the DAG under
/// `entry` as `selection` says. `pack` is `None` for an object that is a
/// single raw block.
pub(crate) fn car_blocks(
    pack: Option<&Pack>,
    walked: &[Cid],
    entry: Cid,
    selection: &Selection,
) -> Result<Vec<Cid>, SelectError> {
    let mut walk = Walk {
        pack,
        dups: selection.dups,
        out: Vec::new(),
        sent: HashSet::new(),
        expanded: HashSet::new(),
    };
    for cid in walked {
        walk.emit(*cid)?;
    }
    match selection.scope {
        Scope::Block => walk.emit(entry)?,
        Scope::All => walk.all(entry, 0)?,
        Scope::Entity => walk.entity(entry, selection.bytes.as_ref())?,
    }
    Ok(walk.out)
}

struct Walk<'a> {
    pack: Option<&'a Pack>,
    dups: bool,
    out: Vec<Cid>,
    /// Blocks sent, for `dups=n`.
    sent: HashSet<Cid>,
    /// Nodes whose links were walked (with the file range they were walked
    /// for): a subtree met again is walked again only for `dups=y`.
    expanded: HashSet<(Cid, Option<Range<u64>>)>,
}

impl Walk<'_> {
    fn emit(&mut self, cid: Cid) -> Result<(), SelectError> {
        if self.dups || self.sent.insert(cid) {
            if self.out.len() == MAX_CAR_BLOCKS {
                return Err(SelectError::TooManyBlocks);
            }
            self.out.push(cid);
        }
        Ok(())
    }

    /// Whether to walk the links of `cid` (for `range`).
    fn expand(&mut self, cid: Cid, range: Option<&Range<u64>>) -> bool {
        self.expanded.insert((cid, range.cloned())) || self.dups
    }

    fn links(&self, cid: &Cid) -> Vec<Cid> {
        self.pack
            .and_then(|pack| pack.node(cid))
            .map(|node| node.links.iter().map(|l| l.cid).collect())
            .unwrap_or_default()
    }

    /// Everything under `cid`.
    fn all(&mut self, cid: Cid, depth: usize) -> Result<(), SelectError> {
        if depth > MAX_DEPTH {
            return Err(SelectError::TooDeep);
        }
        self.emit(cid)?;
        if self.expand(cid, None) {
            for link in self.links(&cid) {
                self.all(link, depth + 1)?;
            }
        }
        Ok(())
    }

    /// What reading `cid` needs: a file's blocks (those under `bytes`), a
    /// directory's own block and, when sharded, its inner shards.
    fn entity(&mut self, cid: Cid, bytes: Option<&Range<u64>>) -> Result<(), SelectError> {
        let Some(node) = self.pack.and_then(|pack| pack.node(&cid)) else {
            return self.emit(cid);
        };
        match node.data.kind {
            UnixfsType::File => self.file(cid, 0, bytes, 0),
            UnixfsType::HamtShard => self.shards(cid, 0),
            _ => self.emit(cid),
        }
    }

    /// A file's blocks from byte `base`, only the subtrees that hold a byte
    /// of `bytes`.
    fn file(
        &mut self,
        cid: Cid,
        base: u64,
        bytes: Option<&Range<u64>>,
        depth: usize,
    ) -> Result<(), SelectError> {
        if depth > MAX_DEPTH {
            return Err(SelectError::TooDeep);
        }
        self.emit(cid)?;
        let Some(node) = self.pack.and_then(|pack| pack.node(&cid)) else {
            return Ok(());
        };
        let local = bytes.map(|r| r.start.saturating_sub(base)..r.end.saturating_sub(base));
        if !self.expand(cid, local.as_ref()) {
            return Ok(());
        }
        let children: Vec<(Cid, u64)> = node
            .links
            .iter()
            .map(|l| l.cid)
            .zip(node.data.block_sizes.iter().copied())
            .collect();
        let mut at = base;
        for (child, size) in children {
            let end = at.saturating_add(size);
            if bytes.is_none_or(|r| at < r.end && r.start < end) {
                self.file(child, at, bytes, depth + 1)?;
            }
            at = end;
        }
        Ok(())
    }

    /// A HAMT directory's shards, without its entries.
    fn shards(&mut self, cid: Cid, depth: usize) -> Result<(), SelectError> {
        if depth > MAX_DEPTH {
            return Err(SelectError::TooDeep);
        }
        self.emit(cid)?;
        let Some(node) = self.pack.and_then(|pack| pack.node(&cid)) else {
            return Ok(());
        };
        // A link to an inner shard is labelled with its slot alone (as
        // many hex digits as the fanout needs); an entry's label goes on
        // with the entry's name.
        let width = format!("{:X}", node.data.fanout.unwrap_or(1).saturating_sub(1)).len();
        let inner: Vec<Cid> = node
            .links
            .iter()
            .filter(|l| l.name.as_deref().is_some_and(|n| n.len() == width))
            .map(|l| l.cid)
            .collect();
        if self.expand(cid, None) {
            for shard in inner {
                self.shards(shard, depth + 1)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mosaic_primitives::pack::{Entry, Pack};
    use mosaic_primitives::unixfs::{Block, CidBuilder, DirBuilder, CHUNK_SIZE};

    fn file(data: &[u8], blocks: &mut Vec<Block>) -> mosaic_primitives::unixfs::Root {
        let mut builder = CidBuilder::keeping_blocks();
        builder.update(data);
        let (root, inner) = builder.finish_dag();
        blocks.extend(inner);
        root
    }

    /// `big` (3 chunks), `again` (big once more), `small` (one chunk).
    fn tree() -> Pack {
        let mut blocks = Vec::new();
        let big = file(&vec![1u8; 3 * CHUNK_SIZE], &mut blocks);
        // Three distinct chunks, so that ranges pick different leaves.
        let mut data = vec![0u8; 3 * CHUNK_SIZE];
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = (i / CHUNK_SIZE) as u8 + 10;
        }
        let varied = file(&data, &mut blocks);
        let small = file(b"small", &mut blocks);
        let mut dir = DirBuilder::new();
        dir.add("big", big).unwrap();
        dir.add("again", big).unwrap();
        dir.add("small", small).unwrap();
        dir.add("varied", varied).unwrap();
        let (root, dir_blocks) = dir.finish().unwrap();
        blocks.extend(dir_blocks);
        Pack::plan(root.cid, blocks).unwrap().0
    }

    fn links(pack: &Pack, cid: &Cid) -> Vec<Cid> {
        pack.node(cid)
            .unwrap()
            .links
            .iter()
            .map(|l| l.cid)
            .collect()
    }

    fn select(scope: Scope, bytes: Option<Range<u64>>, dups: bool) -> Selection {
        Selection { scope, bytes, dups }
    }

    #[test]
    fn all_is_a_depth_first_walk_without_duplicates() {
        let pack = tree();
        let root = pack.root();
        let blocks = car_blocks(Some(&pack), &[], root, &select(Scope::All, None, false)).unwrap();
        let big = pack.resolve("big").unwrap().cid();
        let big_leaves = links(&pack, &big);
        // Entries sorted by name: again (= big), big, small, varied.
        assert_eq!(blocks[0], root);
        assert_eq!(blocks[1], big);
        // big's three chunks are equal: one leaf, once.
        assert_eq!(big_leaves.iter().collect::<HashSet<_>>().len(), 1);
        assert_eq!(blocks[2], big_leaves[0]);
        let unique: HashSet<_> = blocks.iter().collect();
        assert_eq!(unique.len(), blocks.len());
        // root, big, its leaf, small, varied and its three leaves.
        assert_eq!(blocks.len(), 8);
        // With dups=y every link is followed: again's and big's blocks twice.
        let with_dups =
            car_blocks(Some(&pack), &[], root, &select(Scope::All, None, true)).unwrap();
        assert_eq!(with_dups.len(), 1 + 2 * 4 + 1 + 4);
    }

    #[test]
    fn entity_and_block_stop_where_the_spec_says() {
        let pack = tree();
        let root = pack.root();
        let entity = select(Scope::Entity, None, false);
        // A directory's entity is its own block.
        assert_eq!(car_blocks(Some(&pack), &[], root, &entity).unwrap(), [root]);
        let mut walked = Vec::new();
        let Entry::File(varied) = pack.resolve_from(root, "varied", &mut walked).unwrap() else {
            panic!("a file")
        };
        let leaves = links(&pack, &varied.cid);
        let whole = car_blocks(Some(&pack), &walked, varied.cid, &entity).unwrap();
        assert_eq!(whole, [vec![root, varied.cid], leaves.clone()].concat());
        let block = select(Scope::Block, None, false);
        assert_eq!(
            car_blocks(Some(&pack), &walked, varied.cid, &block).unwrap(),
            [root, varied.cid]
        );
    }

    #[test]
    fn entity_bytes_keep_only_the_leaves_under_the_range() {
        let pack = tree();
        let varied = pack.resolve("varied").unwrap().cid();
        let leaves = links(&pack, &varied);
        let chunk = CHUNK_SIZE as u64;
        let range = |bytes: Range<u64>| {
            car_blocks(
                Some(&pack),
                &[],
                varied,
                &select(Scope::Entity, Some(bytes), false),
            )
            .unwrap()
        };
        assert_eq!(range(0..1), [varied, leaves[0]]);
        assert_eq!(range(chunk - 1..chunk + 1), [varied, leaves[0], leaves[1]]);
        assert_eq!(range(2 * chunk + 5..3 * chunk), [varied, leaves[2]]);
    }

    #[test]
    fn a_single_raw_block_is_its_own_dag() {
        let leaf = file(b"tiny", &mut Vec::new()).cid;
        for scope in [Scope::All, Scope::Entity, Scope::Block] {
            let blocks = car_blocks(None, &[], leaf, &select(scope, None, false)).unwrap();
            assert_eq!(blocks, [leaf]);
        }
    }

    #[test]
    fn a_sharded_directory_entity_is_its_shards() {
        let mut blocks = Vec::new();
        let leaf = file(b"x", &mut blocks);
        let mut dir = DirBuilder::new();
        for i in 0..6000 {
            dir.add(format!("entry-number-{i:05}-of-a-big-directory"), leaf)
                .unwrap();
        }
        let (root, dir_blocks) = dir.finish().unwrap();
        let shards = dir_blocks.len();
        blocks.extend(dir_blocks);
        let pack = Pack::plan(root.cid, blocks).unwrap().0;
        let entity = car_blocks(
            Some(&pack),
            &[],
            root.cid,
            &select(Scope::Entity, None, false),
        )
        .unwrap();
        assert_eq!(entity.len(), shards);
        assert!(!entity.contains(&leaf.cid));
        let all = car_blocks(Some(&pack), &[], root.cid, &select(Scope::All, None, false)).unwrap();
        assert_eq!(all.len(), shards + 1);
    }
}
