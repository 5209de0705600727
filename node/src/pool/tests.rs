//! The pool against a real dev chain: ordering by nonce, bounds, and
//! maintenance after a block.

use mosaic_runtime::signing::{sign_extrinsic, SigningParams};
use mosaic_runtime::{Nonce, RuntimeCall, VERSION};
use polkadot_sdk::pallet_balances;
use polkadot_sdk::sp_keyring::Sr25519Keyring::{self, Alice, Bob, Charlie, Dave};
use polkadot_sdk::sp_runtime::generic::Era;
use polkadot_sdk::sp_runtime::transaction_validity::InvalidTransaction;
use polkadot_sdk::sp_runtime::MultiAddress;

use super::*;
use crate::author::build_block;
use crate::store::StatePruning;
use crate::testing::{alice, base_slot, open};

fn transfer(chain: &Chain, from: Sr25519Keyring, nonce: Nonce, amount: u128) -> Vec<u8> {
    let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
        dest: MultiAddress::Id(Dave.to_account_id()),
        value: amount,
    });
    signed(chain, from, nonce, call)
}

/// `call` signed by `from` with `nonce`, immortal, encoded.
fn signed(chain: &Chain, from: Sr25519Keyring, nonce: Nonce, call: RuntimeCall) -> Vec<u8> {
    let genesis = chain.info().genesis_hash;
    let params = SigningParams {
        genesis,
        spec_version: VERSION.spec_version,
        transaction_version: VERSION.transaction_version,
        nonce,
        era: Era::Immortal,
        era_birth: genesis,
    };
    sign_extrinsic(&from.pair(), call, &params).encode()
}

fn pool(limit: usize) -> (tempfile::TempDir, Arc<Chain>, Pool) {
    pool_with(PoolConfig {
        max_count: limit,
        max_bytes: usize::MAX,
        ..PoolConfig::default()
    })
}

fn pool_with(config: PoolConfig) -> (tempfile::TempDir, Arc<Chain>, Pool) {
    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(open(dir.path(), StatePruning::Archive).unwrap());
    let pool = Pool::new(chain.clone(), config);
    (dir, chain, pool)
}

#[test]
fn transactions_are_ready_in_nonce_order_and_the_pool_stays_bounded() {
    let (_dir, chain, pool) = pool(3);
    let second = pool.submit(&transfer(&chain, Alice, 1, 1_000)).unwrap();
    assert!(pool.ready().is_empty(), "nonce 1 waits for nonce 0");
    let nonce_zero = transfer(&chain, Alice, 0, 1_000);
    let first = pool.submit(&nonce_zero).unwrap();
    let order: Vec<Hash> = pool.ready().iter().map(|t| t.hash).collect();
    assert_eq!(order, vec![first, second]);
    assert_eq!(pool.next_nonce(&Alice.to_account_id()).unwrap(), 2);

    assert!(matches!(
        pool.submit(&nonce_zero),
        Err(PoolError::AlreadyImported)
    ));
    // Another transfer with the same nonce and the same tip.
    assert!(matches!(
        pool.submit(&transfer(&chain, Alice, 0, 2_000)),
        Err(PoolError::TooLowPriority)
    ));
    pool.submit(&transfer(&chain, Bob, 0, 1_000)).unwrap();
    assert!(matches!(
        pool.submit(&transfer(&chain, Charlie, 0, 1_000)),
        Err(PoolError::TooLowPriority)
    ));
    assert_eq!(pool.len(), 3);
    assert!(matches!(
        pool.submit(b"\x01\x02"),
        Err(PoolError::BadFormat)
    ));
}

#[test]
fn a_block_takes_ready_transactions_and_maintenance_clears_them() {
    let (_dir, chain, pool) = pool(16);
    let watched = transfer(&chain, Alice, 0, 1_000);
    let (hash, mut watch) = pool.submit_and_watch(&watched).unwrap();
    assert_eq!(hash, tx_hash(&watched));
    pool.submit(&transfer(&chain, Alice, 1, 1_000)).unwrap();
    pool.submit(&transfer(&chain, Bob, 5, 1_000)).unwrap();
    let genesis = chain.info().genesis_hash;
    let (block, changes) = build_block(&chain, &alice(), genesis, base_slot() + 1, Some(&pool))
        .unwrap()
        .unwrap();
    // The timestamp and Alice's two transfers; Bob's nonce 5 is not ready.
    assert_eq!(block.extrinsics.len(), 3);
    let mut events = chain.subscribe();
    let block_hash = chain.import_built(block, changes).unwrap();
    let event = events.try_recv().unwrap();
    pool.maintain(&event);
    assert_eq!(pool.len(), 1, "only Bob's future transfer is left");
    assert_eq!(watch.try_recv().unwrap(), TxStatus::Ready);
    assert_eq!(watch.try_recv().unwrap(), TxStatus::InBlock(block_hash));
    chain.finalize(block_hash, None).unwrap();
    pool.maintain(&events.try_recv().unwrap());
    assert_eq!(watch.try_recv().unwrap(), TxStatus::Finalized(block_hash));
    assert!(matches!(
        pool.submit(&transfer(&chain, Alice, 0, 1_000)),
        Err(PoolError::Invalid(InvalidTransaction::Stale))
    ));
}

/// GRANDPA finalizes a sibling of the best block: the branch with the
/// transfer goes, bodies and all, and the transfer comes back to the pool.
#[test]
fn transactions_of_a_branch_finality_discards_come_back() {
    let (_dir, chain, pool) = pool(16);
    let watched = transfer(&chain, Alice, 0, 1_000);
    let (hash, mut watch) = pool.submit_and_watch(&watched).unwrap();
    let genesis = chain.info().genesis_hash;
    let mut events = chain.subscribe();
    let (with, changes) = build_block(&chain, &alice(), genesis, base_slot() + 1, Some(&pool))
        .unwrap()
        .unwrap();
    let with = chain.import_built(with, changes).unwrap();
    pool.maintain(&events.try_recv().unwrap());
    assert!(pool.is_empty());
    let (without, changes) = build_block(&chain, &alice(), genesis, base_slot() + 2, None)
        .unwrap()
        .unwrap();
    let without = chain.import_built(without, changes).unwrap();
    chain.finalize(without, None).unwrap();
    while let Ok(event) = events.try_recv() {
        pool.maintain(&event);
    }
    assert_eq!(chain.info().best_hash, without);
    assert!(chain.store().body(with).unwrap().is_none(), "discarded");
    let ready: Vec<Hash> = pool.ready().iter().map(|t| t.hash).collect();
    assert_eq!(ready, vec![hash]);
    let statuses: Vec<TxStatus> = std::iter::from_fn(|| watch.try_recv().ok()).collect();
    assert_eq!(
        statuses[..3],
        [
            TxStatus::Ready,
            TxStatus::InBlock(with),
            TxStatus::Retracted(with)
        ]
    );
}

/// A transaction that does not fit the block is skipped, and so are its
/// sender's later ones: they wait for the next block, they are not
/// invalid.
#[test]
fn transactions_after_one_that_does_not_fit_wait_for_the_next_block() {
    use polkadot_sdk::frame_system;
    let (_dir, chain, pool) = pool(16);
    let genesis = chain.info().genesis_hash;
    // Two remarks of 2 MiB: one fits the 3.75 MiB a block gives ordinary
    // transactions, the second does not.
    let remark = |nonce| {
        let call = RuntimeCall::System(frame_system::Call::remark {
            remark: vec![7; 2 << 20],
        });
        signed(&chain, Alice, nonce, call)
    };
    for nonce in 0..2 {
        pool.submit(&remark(nonce)).unwrap();
    }
    let after = pool.submit(&transfer(&chain, Alice, 2, 1_000)).unwrap();
    let (block, _) = build_block(&chain, &alice(), genesis, base_slot() + 1, Some(&pool))
        .unwrap()
        .unwrap();
    // The timestamp and the first remark.
    assert_eq!(block.extrinsics.len(), 2);
    assert_eq!(pool.len(), 3, "nothing left the pool as invalid");
    assert!(pool.ready().iter().any(|t| t.hash == after));
}

/// After a block, the pool is validated again a bounded number at a time,
/// those validated longest ago first: two transfers the block made stale
/// go one a block.
#[test]
fn revalidation_takes_a_bounded_number_a_block_oldest_first() {
    let (_dir, chain, pool) = pool_with(PoolConfig {
        revalidate_per_block: 1,
        ..PoolConfig::default()
    });
    pool.submit(&transfer(&chain, Alice, 0, 1_000)).unwrap();
    pool.submit(&transfer(&chain, Bob, 0, 1_000)).unwrap();
    // Rivals with the same nonces go into the block.
    let rivals = Pool::new(chain.clone(), PoolConfig::default());
    rivals.submit(&transfer(&chain, Alice, 0, 2_000)).unwrap();
    rivals.submit(&transfer(&chain, Bob, 0, 2_000)).unwrap();
    let genesis = chain.info().genesis_hash;
    let mut events = chain.subscribe();
    let (block, changes) = build_block(&chain, &alice(), genesis, base_slot() + 1, Some(&rivals))
        .unwrap()
        .unwrap();
    assert_eq!(block.extrinsics.len(), 3);
    let first = chain.import_built(block, changes).unwrap();
    pool.maintain(&events.try_recv().unwrap());
    assert_eq!(pool.len(), 1, "one stale transfer checked and dropped");
    let (block, changes) = build_block(&chain, &alice(), first, base_slot() + 2, None)
        .unwrap()
        .unwrap();
    chain.import_built(block, changes).unwrap();
    pool.maintain(&events.try_recv().unwrap());
    assert!(pool.is_empty(), "the other, checked a block later");
}
