//! Import, forks, finality and pruning on real RocksDB stores, with blocks
//! authored by `author::build_block` as a validator would.

use mosaic_chain_spec::ChainSpec;
use mosaic_runtime::{Block, Hash, SLOT_DURATION_MS};
use parity_scale_codec::Encode;
use polkadot_sdk::sp_consensus_aura::AURA_ENGINE_ID;
use polkadot_sdk::sp_core::{ed25519, Pair};
use polkadot_sdk::sp_runtime::traits::Header as _;
use polkadot_sdk::sp_runtime::DigestItem;
use polkadot_sdk::sp_state_machine::Backend as _;

use super::*;
use crate::author::build_block;
use crate::store::{StatePruning, Store};
use crate::testing::{alice, author, base_slot, open};

/// The block with its header's seal replaced by `signer`'s over the rest.
fn resealed(mut block: Block, signer: &ed25519::Pair, change: impl FnOnce(&mut Block)) -> Block {
    block.header.digest_mut().pop();
    change(&mut block);
    let seal = signer.sign(block.header.hash().as_bytes());
    block
        .header
        .digest_mut()
        .push(DigestItem::Seal(AURA_ENGINE_ID, seal.encode()));
    block
}

/// Whether an import error is the one a test expects.
type IsExpected = fn(&ImportError) -> bool;

#[test]
fn blocks_import_into_a_second_node_and_bad_ones_change_nothing() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(a_dir.path(), StatePruning::Archive).unwrap();
    let b = open(b_dir.path(), StatePruning::Archive).unwrap();
    let base = base_slot();
    for i in 1..=3 {
        let block = author(&a, a.info().best_hash, base + i);
        b.import(block, now_ms(), Source::Gossip).unwrap();
    }
    assert_eq!(a.info(), b.info());
    assert_eq!(b.info().best_number, 3);

    let alice_key = ed25519::Pair::from_string("//Alice", None).unwrap();
    let bob_key = ed25519::Pair::from_string("//Bob", None).unwrap();
    let parent = a.info().best_hash;
    let next = author(&a, parent, base + 4);
    let mut flipped_seal = next.clone();
    if let Some(DigestItem::Seal(_, seal)) = flipped_seal.header.digest_mut().logs.last_mut() {
        seal[3] ^= 1;
    }
    let mut unsealed = next.clone();
    unsealed.header.digest_mut().pop();
    let future = {
        let (block, _) = build_block(&a, &alice(), parent, now_ms() / SLOT_DURATION_MS + 10, None)
            .unwrap()
            .unwrap();
        block
    };
    let before = b.info();
    let bad: Vec<(Block, IsExpected)> = vec![
        (
            resealed(next.clone(), &alice_key, |b| {
                b.header.state_root = Hash::repeat_byte(7)
            }),
            |e| matches!(e, ImportError::Execution(_)),
        ),
        (resealed(next.clone(), &bob_key, |_| {}), |e| {
            matches!(e, ImportError::BadSeal { .. })
        }),
        (flipped_seal, |e| matches!(e, ImportError::BadSeal { .. })),
        (unsealed, |e| matches!(e, ImportError::NoSeal)),
        (
            resealed(next.clone(), &alice_key, |b| {
                b.header.parent_hash = Hash::repeat_byte(1)
            }),
            |e| matches!(e, ImportError::UnknownParent(_)),
        ),
        (
            resealed(next.clone(), &alice_key, |b| {
                b.extrinsics.pop().map(drop).unwrap_or(())
            }),
            |e| matches!(e, ImportError::Execution(_)),
        ),
        (future, |e| matches!(e, ImportError::FutureSlot(_))),
    ];
    for (block, expected) in bad {
        let hash = block.header.hash();
        let error = b.import(block, now_ms(), Source::Gossip).unwrap_err();
        assert!(expected(&error), "unexpected error: {error}");
        assert_eq!(b.info(), before);
        assert!(b.store().header(hash).unwrap().is_none());
    }
    b.import(next.clone(), now_ms(), Source::Gossip).unwrap();
    assert!(matches!(
        b.import(next, now_ms(), Source::Gossip),
        Err(ImportError::Known(_))
    ));
    assert_eq!(a.info().best_hash, b.info().best_hash);
}

#[test]
fn a_second_block_for_one_slot_is_refused_from_gossip_and_imported_when_asked_for() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(a_dir.path(), StatePruning::Archive).unwrap();
    let b = open(b_dir.path(), StatePruning::Archive).unwrap();
    let genesis = a.info().genesis_hash;
    let slot = base_slot() + 1;
    let first = author(&a, genesis, slot);
    let (rival, _) = crate::author::build(&a, &alice(), genesis, slot, None, 1)
        .unwrap()
        .unwrap();
    assert_ne!(first.header.hash(), rival.header.hash());
    // A fork at the next slot is no equivocation.
    let (fork, _) = build_block(&a, &alice(), genesis, slot + 1, None)
        .unwrap()
        .unwrap();

    b.import(first.clone(), now_ms(), Source::Gossip).unwrap();
    let refused = b.import(rival.clone(), now_ms(), Source::Gossip);
    assert!(
        matches!(
            &refused,
            Err(ImportError::Equivocation { slot: s, first: f, second, .. })
                if *s == slot && *f == first.header.hash() && *second == rival.header.hash()
        ),
        "{refused:?}"
    );
    assert!(b.store().header(rival.header.hash()).unwrap().is_none());
    b.import(fork, now_ms(), Source::Gossip).unwrap();
    // Asked for (others built on it): imported.
    b.import(rival.clone(), now_ms(), Source::Requested)
        .unwrap();
    assert!(b.store().header(rival.header.hash()).unwrap().is_some());
}

#[test]
fn the_longest_chain_wins_and_finality_discards_other_branches() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path(), StatePruning::Archive).unwrap();
    let mut events = chain.subscribe();
    let genesis = chain.info().genesis_hash;
    let base = base_slot();
    let a1 = author(&chain, genesis, base + 1).header.hash();
    let a2 = author(&chain, a1, base + 2).header.hash();
    let b1 = author(&chain, genesis, base + 3).header.hash();
    let b2 = author(&chain, b1, base + 4).header.hash();
    assert_eq!(
        chain.info().best_hash,
        a2,
        "an equally long branch does not take over"
    );
    let a3_orphan = build_block(&chain, &alice(), a2, base + 6, None)
        .unwrap()
        .unwrap()
        .0;
    let b3 = author(&chain, b2, base + 5).header.hash();
    assert_eq!(chain.info().best_hash, b3);
    assert_eq!(chain.store().canonical_hash(1).unwrap(), Some(b1));
    let mut last = None;
    while let Ok(event) = events.try_recv() {
        last = Some(event);
    }
    match last {
        Some(ChainEvent::Imported {
            is_new_best: true,
            retracted,
            ..
        }) => assert_eq!(retracted, vec![a2, a1]),
        other => panic!("expected the reorg, got {other:?}"),
    }

    chain.finalize(b2, None).unwrap();
    assert_eq!(chain.info().finalized_hash, b2);
    for gone in [a1, a2] {
        assert!(chain.store().header(gone).unwrap().is_none());
    }
    assert_eq!(chain.store().leaves().unwrap(), vec![b3]);
    assert!(matches!(
        chain.import(a3_orphan, now_ms(), Source::Gossip),
        Err(ImportError::UnknownParent(_))
    ));
    // Finalized blocks stay: finalizing an ancestor again changes nothing,
    // and a block off the finalized chain cannot be finalized.
    chain.finalize(b1, None).unwrap();
    assert_eq!(chain.info().finalized_hash, b2);
    let reopened_state = chain.store().state(b3).unwrap();
    assert!(reopened_state.pairs(Default::default()).unwrap().count() > 0);
}

/// Every key and value of a block's state; fails if a node is missing.
fn all_pairs(chain: &Chain, hash: Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
    chain
        .store()
        .state(hash)
        .unwrap()
        .pairs(Default::default())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn pruning_drops_old_states_and_keeps_every_node_of_the_kept_ones() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let archive = open(a_dir.path(), StatePruning::Archive).unwrap();
    let pruned = open(b_dir.path(), StatePruning::Keep(2)).unwrap();
    let base = base_slot();
    let mut hashes = vec![archive.info().genesis_hash];
    for i in 1..=8 {
        let block = author(&archive, archive.info().best_hash, base + i);
        let hash = pruned.import(block, now_ms(), Source::Gossip).unwrap();
        pruned.finalize(hash, None).unwrap();
        archive.finalize(hash, None).unwrap();
        hashes.push(hash);
    }
    for (number, hash) in hashes.iter().enumerate() {
        let kept = pruned.store().state(*hash);
        if number < 6 {
            assert!(matches!(kept, Err(StoreError::StatePruned(_))), "#{number}");
        } else {
            assert_eq!(
                all_pairs(&pruned, *hash),
                all_pairs(&archive, *hash),
                "#{number}"
            );
        }
        assert!(!all_pairs(&archive, *hash).is_empty());
    }
    assert!(pruned.store().state_node_count() < archive.store().state_node_count());
    // Reopened, it still knows what it pruned.
    drop(pruned);
    let reopened = open(b_dir.path(), StatePruning::Keep(2)).unwrap();
    for hash in &hashes[..6] {
        assert!(matches!(
            reopened.store().state(*hash),
            Err(StoreError::StatePruned(_))
        ));
    }
    assert_eq!(
        all_pairs(&reopened, hashes[8]),
        all_pairs(&archive, hashes[8])
    );
}

#[test]
fn a_reopened_database_has_the_same_heads_and_refuses_another_chain() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path(), StatePruning::Keep(4)).unwrap();
    let block = author(&chain, chain.info().best_hash, base_slot() + 1);
    chain.finalize(block.header.hash(), None).unwrap();
    let info = chain.info();
    let pairs = all_pairs(&chain, info.best_hash);
    drop(chain);
    assert!(matches!(
        open(dir.path(), StatePruning::Archive),
        Err(StoreError::WrongPruning { .. })
    ));
    let local = ChainSpec::local();
    assert!(matches!(
        Store::open(
            dir.path(),
            StatePruning::Keep(4),
            &local.genesis_header().unwrap(),
            local.genesis_storage().unwrap()
        ),
        Err(StoreError::WrongGenesis { .. })
    ));
    let reopened = open(dir.path(), StatePruning::Keep(4)).unwrap();
    assert_eq!(reopened.info(), info);
    assert_eq!(all_pairs(&reopened, info.best_hash), pairs);
}
