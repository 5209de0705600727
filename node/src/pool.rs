//! The transaction pool: signed extrinsics validated by the runtime
//! (`TaggedTransactionQueue_validate_transaction`) against the best block,
//! bounded in count and bytes.
//!
//! A transaction is *ready* when every tag it requires (for example the
//! sender's previous nonce) is provided by a ready transaction in the pool,
//! and *future* otherwise. Blocks take ready transactions by priority, in an
//! order that respects the tags. After each new best block the included
//! transactions leave, the rest are validated again (stale nonces, expired
//! mortality and transactions whose longevity ran out are dropped), and the
//! transactions of retracted blocks come back.
//!
//! Watchers (`author_submitAndWatchExtrinsic`) get Substrate's status events
//! through bounded channels.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use mosaic_runtime::{BlockNumber, Hash, UncheckedExtrinsic};
use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::sp_runtime::traits::{BlakeTwo256, Hash as _};
use polkadot_sdk::sp_runtime::transaction_validity::{
    TransactionSource, TransactionValidity, TransactionValidityError,
};
use tokio::sync::mpsc;

use crate::chain::{CallError, Chain, ChainEvent};

/// Status events a watcher can buffer before further ones are dropped.
const WATCH_BUFFER: usize = 16;

/// The pool's limits.
#[derive(Clone, Copy, Debug)]
pub struct PoolConfig {
    /// Most transactions held.
    pub max_count: usize,
    /// Most encoded bytes held.
    pub max_bytes: usize,
    /// Transactions validated again after each new best block, at most:
    /// those validated longest ago first, so that each comes round in
    /// turn and a full pool costs a bounded number of runtime calls per
    /// block.
    pub revalidate_per_block: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_count: 8192,
            max_bytes: 20 * 1024 * 1024,
            revalidate_per_block: 1024,
        }
    }
}

/// Why a transaction was refused.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The bytes are not an extrinsic.
    #[error("extrinsic has invalid format")]
    BadFormat,
    /// The runtime says it is invalid.
    #[error("invalid transaction: {}", <&'static str>::from(*.0))]
    Invalid(polkadot_sdk::sp_runtime::transaction_validity::InvalidTransaction),
    /// The runtime cannot tell whether it is valid.
    #[error("unknown transaction validity: {}", <&'static str>::from(*.0))]
    UnknownValidity(polkadot_sdk::sp_runtime::transaction_validity::UnknownTransaction),
    /// The same transaction is in the pool.
    #[error("transaction is already in the pool")]
    AlreadyImported,
    /// The pool is full of transactions at least as important.
    #[error("the pool is full and the transaction's priority is too low")]
    TooLowPriority,
    /// It provides nothing, so nothing orders it.
    #[error("transaction provides no tags")]
    NoTags,
    /// The best block's state is unavailable or the runtime failed.
    #[error(transparent)]
    Chain(#[from] CallError),
}

impl From<TransactionValidityError> for PoolError {
    fn from(e: TransactionValidityError) -> Self {
        match e {
            TransactionValidityError::Invalid(i) => PoolError::Invalid(i),
            TransactionValidityError::Unknown(u) => PoolError::UnknownValidity(u),
        }
    }
}

pub use mosaic_api::TxStatus;

/// A validated transaction.
#[derive(Debug)]
pub struct PoolTx {
    /// Blake2-256 of its encoding.
    pub hash: Hash,
    /// The extrinsic.
    pub extrinsic: UncheckedExtrinsic,
    /// Its encoding.
    pub encoded: Vec<u8>,
    priority: u64,
    /// Tags it needs provided first (its sender's previous nonce).
    pub requires: Vec<Vec<u8>>,
    /// Tags it provides.
    pub provides: Vec<Vec<u8>>,
    /// The last block number it may enter.
    valid_till: BlockNumber,
    /// The best block number when it was last validated.
    validated_at: BlockNumber,
    /// Arrival order, to break priority ties.
    seq: u64,
}

#[derive(Default)]
struct Inner {
    txs: HashMap<Hash, Arc<PoolTx>>,
    /// Which transaction provides each tag.
    providers: HashMap<Vec<u8>, Hash>,
    bytes: usize,
    seq: u64,
    watchers: HashMap<Hash, mpsc::Sender<TxStatus>>,
    /// Watched transactions in a best-chain block, by block.
    in_block: HashMap<Hash, Vec<Hash>>,
}

impl Inner {
    fn notify(&mut self, tx: Hash, status: TxStatus) {
        let Some(watcher) = self.watchers.get(&tx) else {
            return;
        };
        let done = status.is_final();
        // A watcher that stopped reading loses updates rather than stalling
        // the pool.
        let _ = watcher.try_send(status);
        if done {
            self.watchers.remove(&tx);
        }
    }

    fn remove(&mut self, hash: &Hash) -> Option<Arc<PoolTx>> {
        let tx = self.txs.remove(hash)?;
        self.bytes -= tx.encoded.len();
        for tag in &tx.provides {
            if self.providers.get(tag) == Some(hash) {
                self.providers.remove(tag);
            }
        }
        Some(tx)
    }

    fn insert(&mut self, tx: Arc<PoolTx>) {
        self.bytes += tx.encoded.len();
        for tag in &tx.provides {
            self.providers.insert(tag.clone(), tx.hash);
        }
        self.txs.insert(tx.hash, tx);
    }

    /// Ready transactions in block order: among those whose requirements are
    /// met, the highest priority first.
    fn ready(&self) -> Vec<Arc<PoolTx>> {
        // Waiting on an unmet tag, per transaction.
        let mut waiting: HashMap<Hash, usize> = HashMap::new();
        let mut unlocks: HashMap<Hash, Vec<Hash>> = HashMap::new();
        let mut queue = BTreeSet::new();
        for tx in self.txs.values() {
            let mut unmet = 0;
            for tag in &tx.requires {
                match self.providers.get(tag) {
                    Some(provider) => {
                        unmet += 1;
                        unlocks.entry(*provider).or_default().push(tx.hash);
                    }
                    // The runtime lists only tags not yet met on chain, so
                    // with no provider in the pool the transaction waits.
                    None => unmet += 1,
                }
            }
            if unmet == 0 {
                queue.insert((std::cmp::Reverse(tx.priority), tx.seq, tx.hash));
            } else {
                waiting.insert(tx.hash, unmet);
            }
        }
        let mut order = Vec::new();
        while let Some(next) = queue.pop_first() {
            let tx = &self.txs[&next.2];
            order.push(tx.clone());
            for unlocked in unlocks.remove(&tx.hash).unwrap_or_default() {
                let count = waiting.get_mut(&unlocked).expect("counted above; qed");
                *count -= 1;
                if *count == 0 {
                    let t = &self.txs[&unlocked];
                    queue.insert((std::cmp::Reverse(t.priority), t.seq, t.hash));
                }
            }
        }
        order
    }
}

/// The transaction pool.
pub struct Pool {
    chain: Arc<Chain>,
    config: PoolConfig,
    inner: Mutex<Inner>,
    local: tokio::sync::broadcast::Sender<Vec<u8>>,
}

/// Local submissions buffered for the network, at most.
const LOCAL_BUFFER: usize = 4096;

/// Blake2-256 of an extrinsic's encoding: its hash in RPC answers.
pub fn tx_hash(encoded: &[u8]) -> Hash {
    BlakeTwo256::hash(encoded)
}

impl Pool {
    /// An empty pool validating against `chain`.
    pub fn new(chain: Arc<Chain>, config: PoolConfig) -> Self {
        Pool {
            chain,
            config,
            inner: Mutex::new(Inner::default()),
            local: tokio::sync::broadcast::channel(LOCAL_BUFFER).0,
        }
    }

    /// Transactions submitted here (not by peers) from now on, which the
    /// network gossips.
    pub fn local_submissions(&self) -> tokio::sync::broadcast::Receiver<Vec<u8>> {
        self.local.subscribe()
    }

    /// Validates and adds a transaction a peer gossiped.
    pub fn submit_from_peer(&self, encoded: &[u8]) -> Result<Hash, PoolError> {
        self.submit_inner(encoded, false, false)
            .map(|(hash, _)| hash)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .expect("never poisoned: no panics under the lock; qed")
    }

    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.lock().txs.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Validates and adds an encoded extrinsic; returns its hash.
    pub fn submit(&self, encoded: &[u8]) -> Result<Hash, PoolError> {
        self.submit_inner(encoded, false, true)
            .map(|(hash, _)| hash)
    }

    /// [`Pool::submit`], with a channel of its status changes.
    pub fn submit_and_watch(
        &self,
        encoded: &[u8],
    ) -> Result<(Hash, mpsc::Receiver<TxStatus>), PoolError> {
        let (hash, watcher) = self.submit_inner(encoded, true, true)?;
        Ok((hash, watcher.expect("asked for; qed")))
    }

    fn submit_inner(
        &self,
        encoded: &[u8],
        watch: bool,
        local: bool,
    ) -> Result<(Hash, Option<mpsc::Receiver<TxStatus>>), PoolError> {
        let extrinsic = UncheckedExtrinsic::decode(&mut &encoded[..])
            .ok()
            .filter(|xt| xt.encode() == encoded)
            .ok_or(PoolError::BadFormat)?;
        let hash = tx_hash(encoded);
        if self.lock().txs.contains_key(&hash) {
            return Err(PoolError::AlreadyImported);
        }
        let tx = self.validate(hash, extrinsic, encoded.to_vec())?;
        let mut inner = self.lock();
        if inner.txs.contains_key(&hash) {
            return Err(PoolError::AlreadyImported);
        }
        self.replace_clashing(&mut inner, &tx)?;
        self.make_room(&mut inner, &tx)?;
        let ready = tx.requires.iter().all(|t| inner.providers.contains_key(t));
        inner.insert(tx);
        let receiver = watch.then(|| {
            let (sender, receiver) = mpsc::channel(WATCH_BUFFER);
            inner.watchers.insert(hash, sender);
            receiver
        });
        inner.notify(
            hash,
            if ready {
                TxStatus::Ready
            } else {
                TxStatus::Future
            },
        );
        drop(inner);
        if local {
            // Nobody listening (no network) is fine.
            let _ = self.local.send(encoded.to_vec());
        }
        Ok((hash, receiver))
    }

    fn validate(
        &self,
        hash: Hash,
        extrinsic: UncheckedExtrinsic,
        encoded: Vec<u8>,
    ) -> Result<Arc<PoolTx>, PoolError> {
        let info = self.chain.info();
        let validity: TransactionValidity = self.chain.call_decoded(
            info.best_hash,
            "TaggedTransactionQueue_validate_transaction",
            &(TransactionSource::External, &extrinsic, info.best_hash).encode(),
        )?;
        let valid = validity?;
        if valid.provides.is_empty() {
            return Err(PoolError::NoTags);
        }
        let seq = {
            let mut inner = self.lock();
            inner.seq += 1;
            inner.seq
        };
        Ok(Arc::new(PoolTx {
            hash,
            extrinsic,
            encoded,
            priority: valid.priority,
            requires: valid.requires,
            provides: valid.provides,
            valid_till: info
                .best_number
                .saturating_add(valid.longevity.min(u64::from(u32::MAX)) as u32),
            validated_at: info.best_number,
            seq,
        }))
    }

    /// A transaction that provides what one in the pool provides (the same
    /// sender and nonce) replaces it if its priority is higher (a higher
    /// tip), and is refused otherwise.
    fn replace_clashing(&self, inner: &mut Inner, tx: &PoolTx) -> Result<(), PoolError> {
        let clashing: BTreeSet<Hash> = tx
            .provides
            .iter()
            .filter_map(|tag| inner.providers.get(tag).copied())
            .collect();
        if clashing
            .iter()
            .any(|old| inner.txs[old].priority >= tx.priority)
        {
            return Err(PoolError::TooLowPriority);
        }
        for old in clashing {
            inner.remove(&old);
            inner.notify(old, TxStatus::Usurped(tx.hash));
        }
        Ok(())
    }

    /// Evicts lower-priority transactions until `tx` fits, or refuses it.
    fn make_room(&self, inner: &mut Inner, tx: &PoolTx) -> Result<(), PoolError> {
        let fits = |inner: &Inner| {
            inner.txs.len() < self.config.max_count
                && inner.bytes + tx.encoded.len() <= self.config.max_bytes
        };
        while !fits(inner) {
            let lowest = inner
                .txs
                .values()
                .min_by_key(|t| (t.priority, std::cmp::Reverse(t.seq)))
                .filter(|t| t.priority < tx.priority)
                .map(|t| t.hash)
                .ok_or(PoolError::TooLowPriority)?;
            inner.remove(&lowest);
            inner.notify(lowest, TxStatus::Dropped);
        }
        Ok(())
    }

    /// Ready transactions in the order a block should take them.
    pub fn ready(&self) -> Vec<Arc<PoolTx>> {
        self.lock().ready()
    }

    /// Encodings of every transaction held.
    pub fn pending(&self) -> Vec<Vec<u8>> {
        self.lock()
            .txs
            .values()
            .map(|t| t.encoded.clone())
            .collect()
    }

    /// Removes transactions the block builder found invalid.
    pub fn remove_invalid(&self, hashes: &[Hash]) {
        let mut inner = self.lock();
        for hash in hashes {
            if inner.remove(hash).is_some() {
                inner.notify(*hash, TxStatus::Invalid);
            }
        }
    }

    /// The next nonce of `account`: its on-chain nonce, advanced past the
    /// pool's transactions that provide the following ones.
    pub fn next_nonce(&self, account: &mosaic_runtime::AccountId) -> Result<u32, CallError> {
        let best = self.chain.info().best_hash;
        let mut nonce: u32 =
            self.chain
                .call_decoded(best, "AccountNonceApi_account_nonce", &account.encode())?;
        let inner = self.lock();
        while inner.providers.contains_key(&(account, nonce).encode()) {
            nonce += 1;
        }
        Ok(nonce)
    }

    /// Brings the pool up to date with a chain event.
    pub fn maintain(&self, event: &ChainEvent) {
        if let Some((header, retracted)) = event.new_best() {
            let gone = match event {
                ChainEvent::NewBest { transactions, .. } => &transactions[..],
                _ => &[],
            };
            self.on_new_best(header.hash(), retracted, gone);
        }
        if let ChainEvent::Finalized(headers) = event {
            let mut inner = self.lock();
            for header in headers {
                let block = header.hash();
                for tx in inner.in_block.remove(&block).unwrap_or_default() {
                    inner.notify(tx, TxStatus::Finalized(block));
                }
            }
        }
    }

    /// `gone`: the transactions of retracted blocks whose bodies finality
    /// deleted with their branch.
    fn on_new_best(&self, best: Hash, retracted: &[Hash], gone: &[UncheckedExtrinsic]) {
        let store = self.chain.store();
        // Transactions of retracted blocks come back.
        let mut resubmit = gone.to_vec();
        for block in retracted {
            let mut inner = self.lock();
            for tx in inner.in_block.remove(block).unwrap_or_default() {
                inner.notify(tx, TxStatus::Retracted(*block));
            }
            drop(inner);
            if let Ok(Some(body)) = store.body(*block) {
                resubmit.extend(body.into_iter().filter(|xt| xt.is_signed()));
            }
        }
        // Tags the block's transactions from the pool provided: what
        // required them may be ready now.
        let mut met = HashSet::new();
        if let Ok(Some(body)) = store.body(best) {
            let mut inner = self.lock();
            let mut watched = Vec::new();
            for xt in body {
                let hash = tx_hash(&xt.encode());
                if let Some(tx) = inner.remove(&hash) {
                    met.extend(tx.provides.iter().cloned());
                }
                if inner.watchers.contains_key(&hash) {
                    inner.notify(hash, TxStatus::InBlock(best));
                    watched.push(hash);
                }
            }
            if !watched.is_empty() {
                inner.in_block.insert(best, watched);
            }
        }
        for xt in resubmit {
            let _ = self.submit(&xt.encode());
        }
        self.revalidate(&met);
    }

    /// Drops the transactions that outlived their longevity; validates
    /// again at the best block those that required a tag `met` (the next
    /// nonces of the block's senders, ready now), and at most
    /// `revalidate_per_block` of the rest, those validated longest ago
    /// first; drops the ones that became invalid. (One left invalid a while
    /// is refused by the author, which removes it then.)
    fn revalidate(&self, met: &HashSet<Vec<u8>>) {
        let number = self.chain.info().best_number;
        let mut held: Vec<Arc<PoolTx>> = self.lock().txs.values().cloned().collect();
        let unlocked = |tx: &PoolTx| tx.requires.iter().any(|tag| met.contains(tag));
        held.sort_by_cached_key(|tx| {
            (
                tx.valid_till >= number,
                !unlocked(tx),
                tx.validated_at,
                tx.seq,
            )
        });
        let mut budget = self.config.revalidate_per_block;
        for tx in held {
            let outcome = if tx.valid_till < number {
                Err(TxStatus::Dropped)
            } else {
                if !unlocked(&tx) {
                    if budget == 0 {
                        break;
                    }
                    budget -= 1;
                }
                self.validate(tx.hash, tx.extrinsic.clone(), tx.encoded.clone())
                    .map_err(|e| match e {
                        PoolError::Chain(_) | PoolError::UnknownValidity(_) => TxStatus::Dropped,
                        _ => TxStatus::Invalid,
                    })
            };
            let mut inner = self.lock();
            if !inner.txs.contains_key(&tx.hash) {
                continue;
            }
            inner.remove(&tx.hash);
            match outcome {
                Ok(fresh) => inner.insert(fresh),
                Err(status) => {
                    tracing::debug!(target: "mosaic::pool", hash = ?tx.hash, ?status, "removed");
                    inner.notify(tx.hash, status);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
