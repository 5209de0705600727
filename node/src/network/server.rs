//! Answers to peers' requests: status, block ranges of our best chain, a
//! block's ancestry, GRANDPA catch-ups; bounded in count and size.

use super::*;

/// Answers peers' requests, on the blocking pool: they read the database.
pub(super) struct Server {
    pub(super) chain: Arc<Chain>,
    pub(super) grandpa: grandpa::NetworkLink,
}

impl Server {
    pub(super) fn answer(&self, request: Request) -> Response {
        match request {
            Request::Status => Response::Status(self.status()),
            Request::Blocks { from, max } => Response::Blocks(self.blocks(from, max)),
            Request::Ancestry { hash, max } => Response::Blocks(self.ancestry(hash, max)),
            Request::CatchUp { set_id } => Response::CatchUp(self.grandpa.catch_up(set_id)),
        }
    }

    /// Block `hash` and its ancestors, highest first, bounded in count and
    /// size.
    fn ancestry(&self, hash: Hash, max: u32) -> Vec<SyncBlock> {
        let blocks = std::iter::successors(self.sync_block(hash), |child| {
            let header = &child.block.header;
            (*header.number() > 0)
                .then(|| self.sync_block(*header.parent_hash()))
                .flatten()
        });
        bounded(blocks, max)
    }

    /// A stored block with its justification.
    fn sync_block(&self, hash: Hash) -> Option<SyncBlock> {
        let store = self.chain.store();
        let header = store.header(hash).ok()??;
        let extrinsics = store.body(hash).ok()??;
        let justification = store
            .justifications(hash)
            .ok()
            .flatten()
            .and_then(|j| j.into_justification(grandpa::ENGINE_ID));
        Some(SyncBlock {
            block: Block { header, extrinsics },
            justification,
        })
    }

    fn status(&self) -> Status {
        let info = self.chain.info();
        Status {
            genesis: info.genesis_hash,
            best_number: info.best_number,
            best_hash: info.best_hash,
            finalized_number: info.finalized_number,
        }
    }

    /// Our best chain from `from` up, bounded in count and size.
    fn blocks(&self, from: BlockNumber, max: u32) -> Vec<SyncBlock> {
        let store = self.chain.store();
        let blocks = (from..=BlockNumber::MAX).map_while(|number| {
            let hash = store.canonical_hash(number).ok()??;
            self.sync_block(hash)
        });
        bounded(blocks, max)
    }
}

/// The first of `blocks`, at most `max` (and [`SYNC_BATCH`]) of them and, but
/// for the first, within [`protocol::MAX_RESPONSE`].
fn bounded(blocks: impl Iterator<Item = SyncBlock>, max: u32) -> Vec<SyncBlock> {
    let mut size = 0;
    let mut taken = Vec::new();
    for block in blocks.take(max.min(SYNC_BATCH) as usize) {
        size += block.encoded_size();
        if size > protocol::MAX_RESPONSE - 1024 && !taken.is_empty() {
            break;
        }
        taken.push(block);
    }
    taken
}
