//! Files: the balanced DAG of Kubo's `ipfs add`, built in one streaming pass.
//!
//! The balanced layout keeps every leaf at the same depth: a level's node is
//! closed when it holds 174 links and more data follows, and its link moves
//! up. The builder therefore keeps at most 174 links per level and no data
//! (plus, when asked, the inner blocks it closed: one per 174 leaves).

use cid::Cid;

use super::pb::{PbLink, PbNode, UnixfsData, UnixfsType};
use super::{chunk_digest, cid_v1, Block, Root, CHUNK_SIZE, MAX_LINKS, RAW_CODEC};

/// Streams a file's bytes (or its chunks' digests) into its IPFS CID.
#[derive(Default)]
pub struct CidBuilder {
    /// `levels[0]` holds leaves; `levels[i]` nodes of height `i`.
    levels: Vec<Vec<Root>>,
    /// Bytes of a chunk not yet complete.
    partial: Vec<u8>,
    /// A chunk shorter than `CHUNK_SIZE` was added: it must be the last.
    ended: bool,
    /// The inner dag-pb blocks closed so far, when kept.
    blocks: Option<Vec<Block>>,
}

impl CidBuilder {
    /// A builder that computes the CID only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder that also keeps the file's inner dag-pb blocks for
    /// [`finish_dag`](Self::finish_dag): about 8 KiB per 45 MiB of file.
    pub fn keeping_blocks() -> Self {
        Self {
            blocks: Some(Vec::new()),
            ..Self::default()
        }
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
        let leaf = Root {
            cid: cid_v1(RAW_CODEC, digest),
            tree_size: len as u64,
            file_size: len as u64,
        };
        self.push(0, leaf);
    }

    fn push(&mut self, height: usize, link: Root) {
        if self.levels.len() == height {
            self.levels.push(Vec::with_capacity(MAX_LINKS));
        }
        if self.levels[height].len() == MAX_LINKS {
            let full = std::mem::take(&mut self.levels[height]);
            let node = self.close(&full);
            self.push(height + 1, node);
        }
        self.levels[height].push(link);
    }

    /// Encodes a node over `links`, keeps its block if asked, and returns
    /// the link to it.
    fn close(&mut self, links: &[Root]) -> Root {
        let (root, block) = file_node(links);
        if let Some(blocks) = &mut self.blocks {
            blocks.push(block);
        }
        root
    }

    /// The file's CID.
    pub fn finish(self) -> Cid {
        self.finish_dag().0.cid
    }

    /// The file's root and, if built with
    /// [`keeping_blocks`](Self::keeping_blocks), every inner dag-pb block,
    /// children before parents and the root's last (none for a file of one
    /// chunk or less, whose root is its raw leaf). A builder made with
    /// [`new`](Self::new) returns no blocks.
    pub fn finish_dag(mut self) -> (Root, Vec<Block>) {
        if !self.partial.is_empty() {
            let chunk = std::mem::take(&mut self.partial);
            self.push_chunk(chunk_digest(&chunk), chunk.len());
        }
        if self.levels.is_empty() {
            return (
                Root {
                    cid: cid_v1(RAW_CODEC, chunk_digest(&[])),
                    tree_size: 0,
                    file_size: 0,
                },
                Vec::new(),
            );
        }
        if self.levels.len() == 1 && self.levels[0].len() == 1 {
            return (self.levels[0][0], Vec::new());
        }
        // Close every open node bottom-up. Pushing into a full parent level
        // closes that level too, as Kubo's builder does when more data
        // follows, so `levels` may grow here.
        let mut height = 0;
        while height + 1 < self.levels.len() {
            let links = std::mem::take(&mut self.levels[height]);
            if !links.is_empty() {
                let node = self.close(&links);
                self.push(height + 1, node);
            }
            height += 1;
        }
        let top = std::mem::take(&mut self.levels[height]);
        let root = self.close(&top);
        (root, self.blocks.unwrap_or_default())
    }
}

/// The CID of `data`, as `ipfs add --cid-version=1` names it.
pub fn file_cid(data: &[u8]) -> Cid {
    let mut builder = CidBuilder::new();
    builder.update(data);
    builder.finish()
}

/// A UnixFS `File` node over `links`: its root and its block.
fn file_node(links: &[Root]) -> (Root, Block) {
    let file_size: u64 = links.iter().map(|l| l.file_size).sum();
    let mut data = UnixfsData::new(UnixfsType::File);
    data.file_size = Some(file_size);
    data.block_sizes = links.iter().map(|l| l.file_size).collect();
    // Kubo writes an empty, present Name on file links.
    let node = PbNode {
        links: links
            .iter()
            .map(|l| PbLink {
                cid: l.cid,
                name: Some(String::new()),
                tsize: Some(l.tree_size),
            })
            .collect(),
        data: Some(data.encode()),
    };
    let block = Block::dag_pb(node.encode());
    let root = Root {
        cid: block.cid,
        tree_size: block.data.len() as u64 + links.iter().map(|l| l.tree_size).sum::<u64>(),
        file_size,
    };
    (root, block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unixfs::UnixfsNode;

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
    fn kept_blocks_describe_the_file() {
        // 176 leaves: a full 174-leaf node, a 2-leaf node, and a root.
        let mut builder = CidBuilder::keeping_blocks();
        for i in 0..MAX_LINKS + 1 {
            builder.push_chunk([i as u8; 32], CHUNK_SIZE);
        }
        builder.push_chunk([0xff; 32], 5);
        let (root, blocks) = builder.finish_dag();
        assert_eq!(blocks.len(), 3, "two inner nodes and the root");
        let last = blocks.last().unwrap();
        assert_eq!(last.cid, root.cid);
        assert_eq!(
            root.file_size,
            (MAX_LINKS as u64 + 1) * CHUNK_SIZE as u64 + 5
        );
        let node = UnixfsNode::decode(&last.data).unwrap();
        assert_eq!(node.data.file_size, Some(root.file_size));
        assert_eq!(node.links.len(), 2);
        let tsizes: u64 = node.links.iter().map(|l| l.tsize.unwrap()).sum();
        assert_eq!(root.tree_size, last.data.len() as u64 + tsizes);
        for block in &blocks {
            assert_eq!(
                UnixfsNode::decode(&block.data).unwrap().encode(),
                block.data
            );
        }
        let mut plain = CidBuilder::new();
        plain.push_chunk([1; 32], CHUNK_SIZE);
        plain.push_chunk([2; 32], 1);
        assert!(plain.finish_dag().1.is_empty());
    }
}
