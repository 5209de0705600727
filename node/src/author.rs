//! Aura-style block authoring.
//!
//! Time is cut into slots of [`SLOT_DURATION_MS`]; the author of slot `s` is
//! `authorities[s % n]` in the best block's state. When that is one of our
//! keys, we build a block on the best block: the pre-runtime digests carry the
//! slot and our VRF signature over the audit randomness and the slot, the
//! timestamp inherent is the slot's start, then ready transactions go in by
//! priority until the pool is spent or a third of the slot is. The
//! header is sealed with our ed25519 Aura key and imported.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mosaic_runtime::native::{BlockBuilder, ExecutionError, Hashing};
use mosaic_runtime::{Block, Hash, Runtime, SLOT_DURATION_MS};
use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::sp_consensus_aura::AURA_ENGINE_ID;
use polkadot_sdk::sp_core::crypto::Pair as _;
use polkadot_sdk::sp_core::{ed25519, sr25519};
use polkadot_sdk::sp_inherents::InherentData;
use polkadot_sdk::sp_runtime::traits::Header as _;
use polkadot_sdk::sp_runtime::transaction_validity::{
    InvalidTransaction, TransactionValidityError,
};
use polkadot_sdk::sp_runtime::DigestItem;
use polkadot_sdk::sp_state_machine::BackendTransaction;

use crate::chain::{now_ms, slot_of, CallError, Chain, ImportError};
use crate::keystore::{self, Keystore};
use crate::pool::Pool;

/// Why a slot produced no block.
#[derive(Debug, thiserror::Error)]
pub enum AuthorError {
    /// The best block's state could not be read.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Building the block failed.
    #[error("building: {0}")]
    Build(#[from] ExecutionError),
    /// Importing it failed.
    #[error("importing: {0}")]
    Import(#[from] ImportError),
    /// We hold the Aura key but not the slot's VRF key: the block would be
    /// invalid.
    #[error("the VRF key for this slot is not in the keystore")]
    NoVrfKey,
    /// The audit pallet's state does not decode.
    #[error("the audit state does not decode")]
    AuditState,
}

/// How a validator authors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authoring {
    /// One block per slot of ours.
    Honest,
    /// A fault for tests only (a Byzantine author): two sibling blocks per
    /// slot of ours, both announced.
    Equivocating,
}

/// Blocks authored, by slot, each handed to `announce`; runs until the task
/// is dropped.
pub async fn run(
    chain: Arc<Chain>,
    pool: Arc<Pool>,
    keystore: Arc<Keystore>,
    authoring: Authoring,
    announce: impl Fn(Block) + Send + 'static,
) {
    loop {
        let now = now_ms();
        let next_slot = now / SLOT_DURATION_MS + 1;
        tokio::time::sleep(Duration::from_millis(next_slot * SLOT_DURATION_MS - now)).await;
        let (chain, pool, keystore) = (chain.clone(), pool.clone(), keystore.clone());
        let authored = tokio::task::spawn_blocking(move || {
            let block = author_slot(&chain, &pool, &keystore, next_slot)?;
            let rival = match (&block, authoring) {
                (Some(block), Authoring::Equivocating) => {
                    rival(&chain, &keystore, block, next_slot)?
                }
                _ => None,
            };
            Ok::<_, AuthorError>(block.into_iter().chain(rival))
        })
        .await;
        match authored {
            Ok(Ok(blocks)) => blocks.for_each(&announce),
            Ok(Err(e)) => {
                tracing::warn!(target: "mosaic::author", slot = next_slot, "no block: {e}")
            }
            Err(e) => tracing::error!(target: "mosaic::author", "authoring task failed: {e}"),
        }
    }
}

/// Authors the block of `slot` on the best block if the slot is ours;
/// returns it, imported.
pub fn author_slot(
    chain: &Chain,
    pool: &Pool,
    keystore: &Keystore,
    slot: u64,
) -> Result<Option<Block>, AuthorError> {
    let best = chain.info().best_hash;
    let Some((block, changes)) = build_block(chain, keystore, best, slot, Some(pool))? else {
        return Ok(None);
    };
    let number = *block.header.number();
    let hash = chain.import_built(block.clone(), changes)?;
    tracing::info!(target: "mosaic::author", number, ?hash, slot, "authored");
    Ok(Some(block))
}

/// The fault of [`Authoring::Equivocating`]: a sibling of `block` for the
/// same slot (a millisecond later in it, so that it differs), imported.
fn rival(
    chain: &Chain,
    keystore: &Keystore,
    block: &Block,
    slot: u64,
) -> Result<Option<Block>, AuthorError> {
    let parent = *block.header.parent_hash();
    let Some((rival, changes)) = build(chain, keystore, parent, slot, None, 1)? else {
        return Ok(None);
    };
    let hash = chain.import_built(rival.clone(), changes)?;
    tracing::warn!(target: "mosaic::author", ?hash, slot, "equivocated, as told to");
    Ok(Some(rival))
}

/// Builds and seals the block of `slot` on `parent` if the slot is ours,
/// with the pool's ready transactions; returns it with its state changes.
pub fn build_block(
    chain: &Chain,
    keystore: &Keystore,
    parent: Hash,
    slot: u64,
    pool: Option<&Pool>,
) -> Result<Option<(Block, BackendTransaction<Hashing>)>, AuthorError> {
    build(chain, keystore, parent, slot, pool, 0)
}

/// [`build_block`], with the timestamp `late_ms` after the slot's start.
pub fn build(
    chain: &Chain,
    keystore: &Keystore,
    parent: Hash,
    slot: u64,
    pool: Option<&Pool>,
    late_ms: u64,
) -> Result<Option<(Block, BackendTransaction<Hashing>)>, AuthorError> {
    let parent_header = chain
        .store()
        .expect_header(parent)
        .map_err(CallError::from)?;
    if slot_of(&parent_header).is_some_and(|parent_slot| parent_slot >= slot) {
        return Ok(None);
    }
    let authorities = chain.authorities(parent)?;
    if authorities.is_empty() {
        return Ok(None);
    }
    let index = (slot % authorities.len() as u64) as usize;
    let aura_public: &ed25519::Public = authorities[index].as_ref();
    let Some(aura_key) = keystore.ed25519(keystore::AURA, aura_public) else {
        return Ok(None);
    };
    let vrf_key = vrf_key(chain, keystore, parent, index)?;
    let randomness = chain
        .storage(
            parent,
            &pallet_mosaic_audit::Randomness::<Runtime>::hashed_key(),
        )?
        .map(|raw| <[u8; 32]>::decode(&mut &raw[..]).map_err(|_| AuthorError::AuditState))
        .transpose()?
        .unwrap_or_default();
    let digest = pallet_mosaic_audit::pre_digest(slot, &randomness, Some(&vrf_key));

    let state = chain
        .store()
        .state_for_block(parent)
        .map_err(CallError::from)?;
    let mut builder = BlockBuilder::new(
        &state,
        chain.signatures(),
        parent,
        parent_header.number() + 1,
        digest,
    )?;
    let mut inherents = InherentData::new();
    inherents
        .put_data(
            polkadot_sdk::sp_timestamp::INHERENT_IDENTIFIER,
            &(slot * SLOT_DURATION_MS + late_ms),
        )
        .expect("a u64 encodes; qed");
    builder.push_inherents(&inherents)?;
    if let Some(pool) = pool {
        push_transactions(&mut builder, pool);
    }
    let (mut block, changes) = builder.build()?;
    let seal = aura_key.sign(block.header.hash().as_bytes());
    block
        .header
        .digest_mut()
        .push(DigestItem::Seal(AURA_ENGINE_ID, seal.encode()));
    Ok(Some((block, changes.transaction)))
}

/// Fills the block with ready transactions by priority until the pool is
/// exhausted or a third of the slot is spent; invalid ones leave the pool.
/// One that does not fit is skipped, not the end: the block's room is kept
/// per dispatch class, and an operational transaction (a storage proof)
/// still fits after ordinary ones filled theirs. What depends on a skipped
/// transaction (its sender's later nonces) is skipped with it: it waits for
/// the next block, it is not invalid.
fn push_transactions<B: polkadot_sdk::sp_state_machine::Backend<Hashing>>(
    builder: &mut BlockBuilder<'_, B>,
    pool: &Pool,
) {
    let deadline = std::time::Instant::now() + Duration::from_millis(SLOT_DURATION_MS / 3);
    let mut invalid = Vec::new();
    let mut left_out: HashSet<&[u8]> = HashSet::new();
    let ready = pool.ready();
    for tx in &ready {
        if std::time::Instant::now() > deadline {
            break;
        }
        if tx.requires.iter().any(|tag| left_out.contains(&tag[..])) {
            left_out.extend(tx.provides.iter().map(|tag| &tag[..]));
            continue;
        }
        match builder.push(tx.extrinsic.clone()) {
            Ok(_) => continue,
            Err(ExecutionError::Invalid(TransactionValidityError::Invalid(
                InvalidTransaction::ExhaustsResources,
            ))) => {}
            Err(ExecutionError::Invalid(TransactionValidityError::Unknown(_))) => {}
            Err(e) => {
                tracing::debug!(target: "mosaic::author", hash = ?tx.hash, "left out: {e}");
                invalid.push(tx.hash);
            }
        }
        left_out.extend(tx.provides.iter().map(|tag| &tag[..]));
    }
    pool.remove_invalid(&invalid);
}

/// The VRF key registered for authority `index`, from the keystore.
fn vrf_key(
    chain: &Chain,
    keystore: &Keystore,
    at: Hash,
    index: usize,
) -> Result<sr25519::Pair, AuthorError> {
    let raw = chain
        .storage(
            at,
            &pallet_mosaic_audit::VrfAuthorities::<Runtime>::hashed_key(),
        )?
        .unwrap_or_default();
    let keys =
        Vec::<sr25519::Public>::decode(&mut &raw[..]).map_err(|_| AuthorError::AuditState)?;
    let public = keys.get(index).ok_or(AuthorError::NoVrfKey)?;
    keystore
        .sr25519(keystore::VRF, public)
        .ok_or(AuthorError::NoVrfKey)
}
