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
    open_spec(&ChainSpec::dev(), path, pruning)
}

/// The `local` chain (four validators) in `path`.
pub fn open_local(path: &Path) -> Chain {
    open_spec(&ChainSpec::local(), path, StatePruning::Archive).unwrap()
}

fn open_spec(spec: &ChainSpec, path: &Path, pruning: StatePruning) -> Result<Chain, StoreError> {
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

/// A keystore with the keys of the `local` chain's four validators, which
/// can author every slot.
pub fn local_validators() -> Keystore {
    let keystore = Keystore::in_memory();
    for seed in ["//Alice", "//Bob", "//Charlie", "//Dave"] {
        keystore.insert_dev(seed).unwrap();
    }
    keystore
}

/// A slot well in the past, so that blocks at the following slots are not
/// in the future.
pub fn base_slot() -> u64 {
    now_ms() / SLOT_DURATION_MS - 1000
}

/// Builds and stores the block of `slot` on `parent`.
pub fn author(chain: &Chain, parent: Hash, slot: u64) -> Block {
    author_with(chain, &alice(), parent, slot)
}

/// Builds and stores the block of `slot` on `parent` with `keystore`'s keys.
pub fn author_with(chain: &Chain, keystore: &Keystore, parent: Hash, slot: u64) -> Block {
    let (block, changes) = build_block(chain, keystore, parent, slot, None)
        .unwrap()
        .expect("the keystore holds the slot's keys");
    chain.import_built(block.clone(), changes).unwrap();
    block
}
