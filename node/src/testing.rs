//! Shared by the unit tests: dev-chain databases and blocks authored by
//! //Alice, as a validator would author them.

use std::path::Path;

use mosaic_chain_spec::ChainSpec;
use mosaic_runtime::{Block, Hash, SLOT_DURATION_MS};

use crate::author::build_block;
use crate::chain::{now_ms, Chain};
use crate::keystore::Keystore;
use crate::store::{StatePruning, Store, StoreError};

/// A dev chain in `path`.
pub fn open(path: &Path, pruning: StatePruning) -> Result<Chain, StoreError> {
    let spec = ChainSpec::dev();
    let store = Store::open(
        path,
        pruning,
        &spec.genesis_header().unwrap(),
        spec.genesis_storage().unwrap(),
    )?;
    Ok(Chain::new(store, None))
}

/// A keystore with //Alice's validator keys.
pub fn alice() -> Keystore {
    let keystore = Keystore::in_memory();
    keystore.insert_dev("//Alice").unwrap();
    keystore
}

/// A slot well in the past, so that blocks at the following slots are not
/// in the future.
pub fn base_slot() -> u64 {
    now_ms() / SLOT_DURATION_MS - 1000
}

/// Builds and stores the block of `slot` on `parent`.
pub fn author(chain: &Chain, parent: Hash, slot: u64) -> Block {
    let (block, changes) = build_block(chain, &alice(), parent, slot, None)
        .unwrap()
        .expect("every dev slot is Alice's");
    chain.import_built(block.clone(), changes).unwrap();
    block
}
