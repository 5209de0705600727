//! The chain: block import with its checks, runtime calls at any kept block,
//! and notifications of new and finalized blocks.
//!
//! Import of a block from outside: the parent must be known and not below the
//! finalized block; the header must carry an Aura slot later than the
//! parent's and not in the future, and end in an ed25519 seal by the slot's
//! authority (`authorities[slot % n]` in the parent's state); then the block,
//! without its seal, is executed natively on the parent's state and must give
//! the header's state root (the runtime checks the parent, extrinsics root and
//! digest). Only then is it written, in one batch. A rejected block changes
//! nothing. A block whose author already sealed another for its slot is an
//! equivocation: refused when a peer announces it, imported when we asked
//! for it ([`Source`]).

use std::sync::Mutex;

use mosaic_runtime::native::{self, ExecutionError, Hashing, Overlay};
use mosaic_runtime::verified::SignatureCache;
use mosaic_runtime::{
    AuraId, Block, BlockNumber, Hash, Header, UncheckedExtrinsic, SLOT_DURATION_MS,
};
use parity_scale_codec::Decode;
use polkadot_sdk::sp_consensus_aura::{Slot, AURA_ENGINE_ID};
use polkadot_sdk::sp_core::ed25519;
use polkadot_sdk::sp_runtime::traits::{Header as _, Verify};
use polkadot_sdk::sp_runtime::{DigestItem, Justifications};
use polkadot_sdk::sp_state_machine::{Backend as _, BackendTransaction};
use tokio::sync::broadcast;

use crate::metrics::Metrics;
use crate::store::{ChainInfo, State, Store, StoreError};

/// How far ahead of the local clock a block's slot may start: clocks differ.
pub const MAX_CLOCK_DRIFT_MS: u64 = 500;
/// Chain events kept for slow subscribers; a subscriber that falls further
/// behind is told it lagged.
const EVENT_BUFFER: usize = 256;

/// Something that happened to the chain.
#[derive(Clone, Debug)]
pub enum ChainEvent {
    /// A block was imported.
    Imported {
        /// Its header.
        header: Header,
        /// It is the new best block.
        is_new_best: bool,
        /// Blocks that left the best chain because of it, highest first.
        retracted: Vec<Hash>,
    },
    /// Finality moved the best block to an already imported block (the old
    /// best was on a branch finality discarded).
    NewBest {
        /// The new best block.
        header: Header,
        /// Blocks that left the best chain, highest first.
        retracted: Vec<Hash>,
        /// Their signed transactions: their bodies are gone.
        transactions: Vec<UncheckedExtrinsic>,
    },
    /// Blocks were finalized, lowest first.
    Finalized(Vec<Header>),
}

impl ChainEvent {
    /// The new best block and the blocks that left the best chain, if the
    /// best block changed.
    pub fn new_best(&self) -> Option<(&Header, &[Hash])> {
        match self {
            ChainEvent::Imported {
                header,
                is_new_best: true,
                retracted,
            }
            | ChainEvent::NewBest {
                header, retracted, ..
            } => Some((header, retracted)),
            _ => None,
        }
    }
}

/// Why a block was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Already in the database.
    #[error("block {0:?} is already known")]
    Known(Hash),
    /// Its parent is unknown.
    #[error("unknown parent {0:?}")]
    UnknownParent(Hash),
    /// Its number is not its parent's plus one.
    #[error("block number {number} does not follow its parent's {parent}")]
    BadNumber {
        /// The block's.
        number: BlockNumber,
        /// The parent's.
        parent: BlockNumber,
    },
    /// It forks off below the finalized block.
    #[error("block forks below the finalized block #{0}")]
    BelowFinalized(BlockNumber),
    /// No (or a malformed) Aura slot digest.
    #[error("header has no valid Aura slot")]
    NoSlot,
    /// Its slot is not after its parent's.
    #[error("slot {slot} is not after the parent's slot {parent}")]
    SlotNotIncreasing {
        /// The block's.
        slot: u64,
        /// The parent's.
        parent: u64,
    },
    /// Its slot has not started yet.
    #[error("slot {0} is in the future")]
    FutureSlot(u64),
    /// No seal, or not an ed25519 signature.
    #[error("header has no valid seal")]
    NoSeal,
    /// The parent's state has no authorities.
    #[error("no authorities at the parent")]
    NoAuthorities,
    /// The seal is not the slot's authority's signature.
    #[error("seal is not by slot {slot}'s author {expected:?}")]
    BadSeal {
        /// The slot.
        slot: u64,
        /// Who should have sealed.
        expected: AuraId,
    },
    /// A gossiped block whose author already sealed another for its slot.
    #[error("equivocation: {author:?} sealed {first:?} and {second:?} for slot {slot}")]
    Equivocation {
        /// The slot.
        slot: u64,
        /// Its author.
        author: AuraId,
        /// The block imported first.
        first: Hash,
        /// The one refused.
        second: Hash,
    },
    /// Execution failed or gave another state root.
    #[error("execution: {0}")]
    Execution(#[from] ExecutionError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a runtime call or state read failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The block or its state is not available.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The runtime failed.
    #[error(transparent)]
    Execution(#[from] ExecutionError),
}

/// The chain: the store plus import and execution.
pub struct Chain {
    store: Store,
    metrics: Option<Metrics>,
    events: broadcast::Sender<ChainEvent>,
    /// One import at a time: checks and commit must see the same chain.
    import: Mutex<()>,
    /// The blocks of recent slots, for equivocation checks.
    claims: Mutex<slots::Claims>,
    /// Transaction signatures verified by this node (pool, authoring,
    /// import), each verified once.
    signatures: SignatureCache,
}

/// How a block reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Announced by a peer: an equivocation is refused.
    Gossip,
    /// Asked for, as the ancestor of a block or the target of a vote: an
    /// equivocation is imported and logged.
    Requested,
}

/// The slot in a header's Aura pre-runtime digest.
pub fn slot_of(header: &Header) -> Option<u64> {
    header.digest().logs().iter().find_map(|item| match item {
        DigestItem::PreRuntime(id, data) if *id == AURA_ENGINE_ID => {
            Slot::decode(&mut &data[..]).ok().map(u64::from)
        }
        _ => None,
    })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl Chain {
    /// The chain over `store`; imports are timed into `metrics`.
    pub fn new(store: Store, metrics: Option<Metrics>) -> Self {
        Chain {
            store,
            metrics,
            events: broadcast::channel(EVENT_BUFFER).0,
            import: Mutex::new(()),
            claims: Mutex::default(),
            signatures: SignatureCache::new(),
        }
    }

    /// This chain, verifying signatures through `signatures` (an off
    /// cache, `SignatureCache::default()`, verifies every one every time:
    /// the benchmark's reference).
    pub fn with_signature_cache(mut self, signatures: SignatureCache) -> Self {
        self.signatures = signatures;
        self
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The transaction signatures this node has verified.
    pub fn signatures(&self) -> &SignatureCache {
        &self.signatures
    }

    /// The heads of the chain.
    pub fn info(&self) -> ChainInfo {
        self.store.info()
    }

    /// New and finalized blocks from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// Calls a runtime API method on the state after `at`; its changes are
    /// thrown away.
    pub fn call(&self, at: Hash, method: &str, args: &[u8]) -> Result<Vec<u8>, CallError> {
        let state = self.store.state(at)?;
        Ok(native::call(
            &state,
            &mut Overlay::default(),
            &self.signatures,
            method,
            args,
        )?)
    }

    /// [`Chain::call`], decoding the answer.
    pub fn call_decoded<R: Decode>(
        &self,
        at: Hash,
        method: &str,
        args: &[u8],
    ) -> Result<R, CallError> {
        let state = self.store.state(at)?;
        Ok(native::call_decoded(
            &state,
            &mut Overlay::default(),
            &self.signatures,
            method,
            args,
        )?)
    }

    /// A storage value after `at`.
    pub fn storage(&self, at: Hash, key: &[u8]) -> Result<Option<Vec<u8>>, CallError> {
        self.store
            .state(at)?
            .storage(key)
            .map_err(|e| ExecutionError::State(e.to_string()).into())
    }

    /// Whether block `hash` is stored, numbered `number`.
    pub fn has_block(&self, hash: Hash, number: BlockNumber) -> bool {
        matches!(self.store.header(hash), Ok(Some(h)) if *h.number() == number)
    }

    /// The Aura authorities after `at`.
    pub fn authorities(&self, at: Hash) -> Result<Vec<AuraId>, CallError> {
        self.call_decoded(at, "AuraApi_authorities", &[])
    }

    /// Checks and imports a block received from elsewhere; `now_ms` is the
    /// local clock.
    pub fn import(&self, block: Block, now_ms: u64, source: Source) -> Result<Hash, ImportError> {
        let _guard = self.import.lock().expect("never poisoned; qed");
        let _timer = self.import_timer();
        let hash = self.check_new(&block.header)?;
        let parent = self.parent_of(&block.header)?;
        let state = self.store.state_for_block(parent.hash())?;
        let (slot, expected) = self.check_slot(&block.header, &parent, &state, now_ms)?;
        let unsealed = Block {
            header: unseal(&block.header, slot, &expected)?,
            extrinsics: block.extrinsics,
        };
        self.check_equivocation(&block.header, slot, &expected, source)?;
        let changes = native::execute_block(&state, &self.signatures, &unsealed)?;
        let block = Block {
            header: block.header,
            extrinsics: unsealed.extrinsics,
        };
        self.commit(block, changes.transaction)?;
        Ok(hash)
    }

    /// Refuses a gossiped block whose author already sealed another for
    /// its slot; one we asked for is imported all the same (others may
    /// have built on it, or finalized it), with the equivocation logged.
    fn check_equivocation(
        &self,
        header: &Header,
        slot: u64,
        author: &AuraId,
        source: Source,
    ) -> Result<(), ImportError> {
        let claims = self.claims.lock().expect("never poisoned; qed");
        let Some(first) = claims.rival(slot, author, header) else {
            return Ok(());
        };
        tracing::warn!(
            target: "mosaic::import",
            slot,
            ?author,
            "equivocation: two blocks sealed for one slot: first {first:?}, second {header:?}"
        );
        if let Some(metrics) = &self.metrics {
            metrics.equivocations.inc();
        }
        match source {
            Source::Gossip => Err(ImportError::Equivocation {
                slot,
                author: author.clone(),
                first: first.hash(),
                second: header.hash(),
            }),
            Source::Requested => Ok(()),
        }
    }

    /// Imports a block this node authored and executed itself.
    pub fn import_built(
        &self,
        block: Block,
        changes: BackendTransaction<Hashing>,
    ) -> Result<Hash, ImportError> {
        let _guard = self.import.lock().expect("never poisoned; qed");
        let _timer = self.import_timer();
        let hash = self.check_new(&block.header)?;
        self.parent_of(&block.header)?;
        self.commit(block, changes)?;
        Ok(hash)
    }

    /// Finalizes `hash` and its ancestors.
    pub fn finalize(
        &self,
        hash: Hash,
        justification: Option<Justifications>,
    ) -> Result<(), StoreError> {
        let _guard = self.import.lock().expect("never poisoned; qed");
        let finalized = self.store.finalize(hash, justification)?;
        if let Some(last) = finalized.route.last() {
            tracing::info!(target: "mosaic::import", number = last.number(), hash = ?hash, "finalized");
            let _ = self.events.send(ChainEvent::Finalized(finalized.route));
        }
        if let Some((header, retracted)) = finalized.best_change {
            let _ = self.events.send(ChainEvent::NewBest {
                header,
                retracted,
                transactions: finalized.retracted_transactions,
            });
        }
        Ok(())
    }

    fn import_timer(&self) -> Option<prometheus::HistogramTimer> {
        self.metrics
            .as_ref()
            .map(|m| m.import_seconds.start_timer())
    }

    /// The header's hash, or [`ImportError::Known`] if it is stored.
    fn check_new(&self, header: &Header) -> Result<Hash, ImportError> {
        let hash = header.hash();
        if self.store.header(hash)?.is_some() {
            return Err(ImportError::Known(hash));
        }
        Ok(hash)
    }

    fn parent_of(&self, header: &Header) -> Result<Header, ImportError> {
        let parent = self
            .store
            .header(*header.parent_hash())?
            .ok_or(ImportError::UnknownParent(*header.parent_hash()))?;
        if *header.number() != parent.number() + 1 {
            return Err(ImportError::BadNumber {
                number: *header.number(),
                parent: *parent.number(),
            });
        }
        let finalized = self.store.info().finalized_number;
        if *parent.number() < finalized {
            return Err(ImportError::BelowFinalized(finalized));
        }
        Ok(parent)
    }

    fn check_slot(
        &self,
        header: &Header,
        parent: &Header,
        state: &State,
        now_ms: u64,
    ) -> Result<(u64, AuraId), ImportError> {
        let slot = slot_of(header).ok_or(ImportError::NoSlot)?;
        let parent_slot = slot_of(parent).unwrap_or(0);
        if slot <= parent_slot && *parent.number() > 0 {
            return Err(ImportError::SlotNotIncreasing {
                slot,
                parent: parent_slot,
            });
        }
        if slot.saturating_mul(SLOT_DURATION_MS) > now_ms.saturating_add(MAX_CLOCK_DRIFT_MS) {
            return Err(ImportError::FutureSlot(slot));
        }
        let authorities: Vec<AuraId> = native::call_decoded(
            state,
            &mut Overlay::default(),
            &self.signatures,
            "AuraApi_authorities",
            &[],
        )?;
        if authorities.is_empty() {
            return Err(ImportError::NoAuthorities);
        }
        let expected = authorities[(slot % authorities.len() as u64) as usize].clone();
        Ok((slot, expected))
    }

    fn commit(
        &self,
        block: Block,
        changes: BackendTransaction<Hashing>,
    ) -> Result<(), ImportError> {
        let change = self.store.commit(&block, changes)?;
        if let Some(slot) = slot_of(&block.header) {
            self.claims
                .lock()
                .expect("never poisoned; qed")
                .record(slot, block.header.clone());
        }
        tracing::info!(
            target: "mosaic::import",
            number = block.header.number(),
            hash = ?block.header.hash(),
            extrinsics = block.extrinsics.len(),
            best = change.is_new_best,
            "imported"
        );
        let _ = self.events.send(ChainEvent::Imported {
            header: block.header,
            is_new_best: change.is_new_best,
            retracted: change.retracted,
        });
        Ok(())
    }
}

/// Checks that `header` ends in `expected`'s seal over the rest of it;
/// returns the header without its seal, as the runtime executes it.
fn unseal(header: &Header, slot: u64, expected: &AuraId) -> Result<Header, ImportError> {
    let mut header = header.clone();
    let Some(DigestItem::Seal(id, signature)) = header.digest_mut().pop() else {
        return Err(ImportError::NoSeal);
    };
    if id != AURA_ENGINE_ID {
        return Err(ImportError::NoSeal);
    }
    let signature =
        ed25519::Signature::decode(&mut &signature[..]).map_err(|_| ImportError::NoSeal)?;
    let author: &ed25519::Public = expected.as_ref();
    if !signature.verify(header.hash().as_bytes(), author) {
        return Err(ImportError::BadSeal {
            slot,
            expected: expected.clone(),
        });
    }
    Ok(header)
}

mod slots;
#[cfg(test)]
mod tests;
