//! The block and state database, in RocksDB.
//!
//! Column families: `headers`, `bodies` and `justifications` by block hash;
//! `canonical` maps a number to the hash of the best chain's block;
//! `children` lists the known children of a block; `meta` holds the genesis,
//! best and finalized hashes, the leaves and the pruning mode; `state` holds
//! the state trie nodes; `journal` records which nodes each block inserted and
//! deleted relative to its parent.
//!
//! Every change (an import, a finalization with its pruning) is one
//! [`rocksdb::WriteBatch`], so a crash leaves the database as it was before or
//! after the change, never between.
//!
//! Trie nodes are reference counted: a node's count is the number of imported
//! blocks (and genesis) that inserted it and have not given it up. A node
//! leaves the database when its count reaches zero, which happens two ways:
//! - a block that is not a descendant of a newly finalized block is
//!   discarded, and gives up the nodes it inserted;
//! - with `--state-pruning N`, the state of a canonical block more than `N`
//!   blocks below the finalized one is pruned: the nodes its child deleted
//!   are given up.
//!
//! Counting (rather than deleting outright) keeps a node that two branches
//! inserted, or that a later block inserted again, as long as anyone needs it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use mosaic_runtime::native::Hashing;
use mosaic_runtime::{Block, BlockNumber, Hash, Header, UncheckedExtrinsic};
use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::sp_core::storage::Storage;
use polkadot_sdk::sp_runtime::traits::Header as _;
use polkadot_sdk::sp_runtime::Justifications;
use polkadot_sdk::sp_state_machine::{
    BackendTransaction, InMemoryBackend, TrieBackend, TrieBackendBuilder, TrieBackendStorage,
};
use polkadot_sdk::sp_trie::cache::{CacheSize, LocalTrieCache, SharedTrieCache};
use rocksdb::{ColumnFamilyDescriptor, Options, WriteBatch, DB};

const META: &str = "meta";
const HEADERS: &str = "headers";
const BODIES: &str = "bodies";
const JUSTIFICATIONS: &str = "justifications";
const CANONICAL: &str = "canonical";
const CHILDREN: &str = "children";
const JOURNAL: &str = "journal";
const STATE: &str = "state";
const COLUMNS: [&str; 8] = [
    META,
    HEADERS,
    BODIES,
    JUSTIFICATIONS,
    CANONICAL,
    CHILDREN,
    JOURNAL,
    STATE,
];

const META_GENESIS: &[u8] = b"genesis";
const META_BEST: &[u8] = b"best";
const META_FINALIZED: &[u8] = b"finalized";
const META_LEAVES: &[u8] = b"leaves";
const META_PRUNING: &[u8] = b"pruning";
/// The lowest canonical block number whose state is still kept.
const META_KEPT_FROM: &[u8] = b"kept-from";

/// How much old state the database keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum StatePruning {
    /// Every block's state.
    Archive,
    /// The states of the last this-many finalized blocks, and of every block
    /// above the finalized one.
    Keep(u32),
}

impl std::str::FromStr for StatePruning {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "archive" | "archive-canonical" => Ok(StatePruning::Archive),
            n => n
                .parse()
                .map(StatePruning::Keep)
                .map_err(|_| format!("expected `archive` or a number of blocks, got `{n}`")),
        }
    }
}

impl std::fmt::Display for StatePruning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatePruning::Archive => f.write_str("archive"),
            StatePruning::Keep(n) => write!(f, "{n}"),
        }
    }
}

/// What went wrong in the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("database: {0}")]
    Db(#[from] rocksdb::Error),
    /// A record did not decode: the database is damaged.
    #[error("database record {0} does not decode")]
    Corrupt(&'static str),
    /// The database belongs to another chain.
    #[error("the database holds the chain with genesis {found:?}, not {expected:?}; use another --base-path or purge-chain")]
    WrongGenesis {
        /// This chain spec's genesis.
        expected: Hash,
        /// The database's.
        found: Hash,
    },
    /// The database was created with another pruning mode.
    #[error("the database was created with --state-pruning {found}, not {requested}")]
    WrongPruning {
        /// Asked for.
        requested: StatePruning,
        /// Recorded.
        found: StatePruning,
    },
    /// No block with this hash.
    #[error("unknown block {0:?}")]
    UnknownBlock(Hash),
    /// The block's state was pruned.
    #[error("the state of block {0:?} was pruned")]
    StatePruned(Hash),
    /// Finalizing a block that does not descend from the finalized one.
    #[error("block {0:?} does not descend from the last finalized block")]
    NotDescendant(Hash),
    /// The genesis storage does not give the genesis header's state root.
    #[error("genesis storage does not match the genesis header")]
    GenesisMismatch,
}

/// The heads of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ChainInfo {
    /// Block 0.
    pub genesis_hash: Hash,
    /// The head of the best chain.
    pub best_hash: Hash,
    /// Its number.
    pub best_number: BlockNumber,
    /// The last finalized block.
    pub finalized_hash: Hash,
    /// Its number.
    pub finalized_number: BlockNumber,
}

/// What an import changed in the best chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BestChange {
    /// The block became the best block.
    pub is_new_best: bool,
    /// Blocks that left the best chain (a reorg), highest first.
    pub retracted: Vec<Hash>,
}

/// What a finalization changed.
#[derive(Clone, Debug, Default)]
pub struct Finalized {
    /// The newly finalized blocks, lowest first.
    pub route: Vec<Header>,
    /// The new best block, if finality moved it off a discarded branch, with
    /// the blocks that left the best chain, highest first.
    pub best_change: Option<(Header, Vec<Hash>)>,
    /// The signed transactions of those blocks, read before their bodies
    /// went with the discarded branch.
    pub retracted_transactions: Vec<UncheckedExtrinsic>,
}

/// Trie nodes added and removed by a block relative to its parent, with
/// their reference-count changes.
#[derive(Default, Encode, Decode)]
struct Journal {
    inserted: Vec<(Vec<u8>, u32)>,
    deleted: Vec<(Vec<u8>, u32)>,
}

/// The state trie nodes, read by [`TrieBackend`].
#[derive(Clone)]
pub struct StateNodes {
    db: Arc<DB>,
}

impl TrieBackendStorage<Hashing> for StateNodes {
    fn get(&self, key: &Hash, prefix: (&[u8], Option<u8>)) -> Result<Option<Vec<u8>>, String> {
        let cf = self
            .db
            .cf_handle(STATE)
            .expect("opened with every column; qed");
        let stored = self
            .db
            .get_cf(
                cf,
                polkadot_sdk::sp_trie::prefixed_key::<Hashing>(key, prefix),
            )
            .map_err(|e| e.to_string())?;
        stored
            .map(|node| split_count(node).map(|(value, _)| value))
            .transpose()
            .map_err(|e| e.to_string())
    }
}

/// The state of one block.
pub type State = TrieBackend<StateNodes, Hashing>;

fn split_count(mut stored: Vec<u8>) -> Result<(Vec<u8>, u32), StoreError> {
    let at = stored
        .len()
        .checked_sub(4)
        .ok_or(StoreError::Corrupt("state node"))?;
    let count = u32::from_le_bytes(stored[at..].try_into().expect("four bytes; qed"));
    stored.truncate(at);
    Ok((stored, count))
}

/// The block and state database.
pub struct Store {
    db: Arc<DB>,
    pruning: StatePruning,
    info: RwLock<ChainInfo>,
    /// Serializes writers: node counts are read, changed and written.
    write: Mutex<()>,
    /// The lowest block whose state is kept (`META_KEPT_FROM`), read on
    /// every state opened: held in memory, written with each prune.
    kept_from: AtomicU32,
    /// Trie nodes and values read or written lately, shared by every state:
    /// pool validation, authoring and import read the same nodes over and
    /// over (content-addressed, so never stale).
    cache: SharedTrieCache<Hashing>,
}

/// The shared trie cache's size.
const TRIE_CACHE_BYTES: usize = 64 << 20;

impl Store {
    /// Opens (or creates, with `genesis`) the database at `path`.
    pub fn open(
        path: &Path,
        pruning: StatePruning,
        genesis: &Header,
        genesis_storage: Storage,
    ) -> Result<Store, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_compression_type(rocksdb::DBCompressionType::Lz4);
        options.set_max_open_files(512);
        let columns = COLUMNS.map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = Arc::new(DB::open_cf_descriptors(&options, path, columns)?);
        let genesis_hash = genesis.hash();
        let stored_genesis: Option<Hash> = read(&db, META, META_GENESIS, "genesis")?;
        match stored_genesis {
            Some(found) if found != genesis_hash => {
                return Err(StoreError::WrongGenesis {
                    expected: genesis_hash,
                    found,
                })
            }
            Some(_) => {
                let found: StatePruning = read(&db, META, META_PRUNING, "pruning")?
                    .ok_or(StoreError::Corrupt("pruning"))?;
                if found != pruning {
                    return Err(StoreError::WrongPruning {
                        requested: pruning,
                        found,
                    });
                }
            }
            None => write_genesis(&db, pruning, genesis, genesis_storage)?,
        }
        let info = read_info(&db)?;
        let kept_from: BlockNumber =
            read(&db, META, META_KEPT_FROM, "kept-from")?.unwrap_or_default();
        Ok(Store {
            db,
            pruning,
            info: RwLock::new(info),
            write: Mutex::new(()),
            kept_from: AtomicU32::new(kept_from),
            cache: SharedTrieCache::new(CacheSize::new(TRIE_CACHE_BYTES), None),
        })
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("opened with every column; qed")
    }

    /// The heads of the chain.
    pub fn info(&self) -> ChainInfo {
        *self
            .info
            .read()
            .expect("never poisoned: no panics under the lock; qed")
    }

    /// A block's header.
    pub fn header(&self, hash: Hash) -> Result<Option<Header>, StoreError> {
        read(&self.db, HEADERS, hash.as_bytes(), "header")
    }

    /// A block's header, or [`StoreError::UnknownBlock`].
    pub fn expect_header(&self, hash: Hash) -> Result<Header, StoreError> {
        self.header(hash)?.ok_or(StoreError::UnknownBlock(hash))
    }

    /// A block's extrinsics.
    pub fn body(&self, hash: Hash) -> Result<Option<Vec<UncheckedExtrinsic>>, StoreError> {
        read(&self.db, BODIES, hash.as_bytes(), "body")
    }

    /// A block's finality justifications.
    pub fn justifications(&self, hash: Hash) -> Result<Option<Justifications>, StoreError> {
        read(&self.db, JUSTIFICATIONS, hash.as_bytes(), "justifications")
    }

    /// The hash of the best chain's block at `number`.
    pub fn canonical_hash(&self, number: BlockNumber) -> Result<Option<Hash>, StoreError> {
        read(&self.db, CANONICAL, &number.to_be_bytes(), "canonical hash")
    }

    /// The known children of a block.
    pub fn children(&self, hash: Hash) -> Result<Vec<Hash>, StoreError> {
        Ok(read(&self.db, CHILDREN, hash.as_bytes(), "children")?.unwrap_or_default())
    }

    /// The blocks without children.
    pub fn leaves(&self) -> Result<Vec<Hash>, StoreError> {
        Ok(read(&self.db, META, META_LEAVES, "leaves")?.unwrap_or_default())
    }

    /// The state after block `hash`, for reads and runtime calls: what it
    /// adds to the shared cache is bounded.
    pub fn state(&self, hash: Hash) -> Result<State, StoreError> {
        self.state_with(hash, self.cache.local_cache_untrusted())
    }

    /// The state after block `hash`, to build or import a block on: all it
    /// reads and writes goes to the shared cache.
    pub fn state_for_block(&self, hash: Hash) -> Result<State, StoreError> {
        self.state_with(hash, self.cache.local_cache_trusted())
    }

    fn state_with(&self, hash: Hash, cache: LocalTrieCache<Hashing>) -> Result<State, StoreError> {
        let header = self.expect_header(hash)?;
        if *header.number() < self.kept_from.load(Ordering::Acquire) {
            return Err(StoreError::StatePruned(hash));
        }
        Ok(TrieBackendBuilder::new(
            StateNodes {
                db: self.db.clone(),
            },
            *header.state_root(),
        )
        .with_cache(cache)
        .build())
    }

    /// Stores an imported block and its state changes (the trie nodes its
    /// execution produced). The block becomes the best one when it makes the
    /// longest chain.
    pub fn commit(
        &self,
        block: &Block,
        mut changes: BackendTransaction<Hashing>,
    ) -> Result<BestChange, StoreError> {
        let _guard = self.write.lock().expect("never poisoned; qed");
        let header = &block.header;
        let hash = header.hash();
        let parent = *header.parent_hash();
        let mut batch = WriteBatch::default();
        let mut counts = NodeCounts::new(&self.db);
        let mut journal = Journal::default();
        for (key, (value, rc)) in changes.drain() {
            match rc {
                0 => {}
                rc if rc > 0 => {
                    counts.add(&key, &value, rc.unsigned_abs())?;
                    journal.inserted.push((key, rc.unsigned_abs()));
                }
                rc => journal.deleted.push((key, rc.unsigned_abs())),
            }
        }
        counts.write(&mut batch, self.cf(STATE));
        batch.put_cf(self.cf(HEADERS), hash, header.encode());
        batch.put_cf(self.cf(BODIES), hash, block.extrinsics.encode());
        batch.put_cf(self.cf(JOURNAL), hash, journal.encode());
        let mut siblings = self.children(parent)?;
        siblings.push(hash);
        batch.put_cf(self.cf(CHILDREN), parent, siblings.encode());
        let mut leaves = self.leaves()?;
        leaves.retain(|leaf| *leaf != parent);
        leaves.push(hash);
        batch.put_cf(self.cf(META), META_LEAVES, leaves.encode());

        let mut info = self.info();
        let mut change = BestChange::default();
        if *header.number() > info.best_number {
            change = self.set_best(&mut batch, header, &mut info)?;
        }
        self.db.write(batch)?;
        *self.info.write().expect("never poisoned; qed") = info;
        Ok(change)
    }

    /// Makes `header` the best block: rewrites the canonical index from where
    /// its branch meets the current best chain.
    fn set_best(
        &self,
        batch: &mut WriteBatch,
        header: &Header,
        info: &mut ChainInfo,
    ) -> Result<BestChange, StoreError> {
        let mut retracted = Vec::new();
        // Numbers above the new best leave the canonical chain.
        for number in (*header.number() + 1..=info.best_number).rev() {
            if let Some(old) = self.canonical_hash(number)? {
                retracted.push(old);
            }
            batch.delete_cf(self.cf(CANONICAL), number.to_be_bytes());
        }
        let mut cursor = header.clone();
        loop {
            let number = *cursor.number();
            let hash = cursor.hash();
            match self.canonical_hash(number)? {
                Some(current) if current == hash => break,
                Some(current) => retracted.push(current),
                None => {}
            }
            batch.put_cf(self.cf(CANONICAL), number.to_be_bytes(), hash);
            if number == 0 {
                break;
            }
            cursor = self.expect_header(*cursor.parent_hash())?;
        }
        info.best_hash = header.hash();
        info.best_number = *header.number();
        batch.put_cf(self.cf(META), META_BEST, info.best_hash);
        Ok(BestChange {
            is_new_best: true,
            retracted,
        })
    }

    /// Finalizes `hash` and its ancestors, storing `justification` with it.
    /// Blocks that do not descend from it are discarded; the best block
    /// becomes the longest chain through it; old state is pruned.
    pub fn finalize(
        &self,
        hash: Hash,
        justification: Option<Justifications>,
    ) -> Result<Finalized, StoreError> {
        let _guard = self.write.lock().expect("never poisoned; qed");
        let mut info = self.info();
        let header = self.expect_header(hash)?;
        if *header.number() <= info.finalized_number {
            return if self.canonical_hash(*header.number())? == Some(hash) {
                Ok(Finalized::default())
            } else {
                Err(StoreError::NotDescendant(hash))
            };
        }
        // The newly finalized route, lowest first.
        let mut route = vec![header.clone()];
        while *route[route.len() - 1].number() > info.finalized_number + 1 {
            let parent = *route[route.len() - 1].parent_hash();
            route.push(self.expect_header(parent)?);
        }
        route.reverse();
        if *route[0].parent_hash() != info.finalized_hash {
            return Err(StoreError::NotDescendant(hash));
        }

        let mut batch = WriteBatch::default();
        let mut counts = NodeCounts::new(&self.db);
        let mut leaves = self.leaves()?;
        for finalized in &route {
            let parent = *finalized.parent_hash();
            for sibling in self.children(parent)? {
                if sibling != finalized.hash() {
                    self.discard(sibling, &mut batch, &mut counts, &mut leaves)?;
                }
            }
            batch.put_cf(self.cf(CHILDREN), parent, vec![finalized.hash()].encode());
        }
        if let Some(justification) = justification {
            batch.put_cf(self.cf(JUSTIFICATIONS), hash, justification.encode());
        }
        // The best block is the highest leaf left, all of which descend from
        // the finalized block now.
        let best = self.highest(&leaves)?.unwrap_or_else(|| header.clone());
        let mut best_change = None;
        let mut retracted_transactions = Vec::new();
        if best.hash() != info.best_hash {
            let change = self.set_best(&mut batch, &best, &mut info)?;
            for block in &change.retracted {
                let body = self.body(*block)?.unwrap_or_default();
                retracted_transactions.extend(body.into_iter().filter(|xt| xt.is_signed()));
            }
            best_change = Some((best, change.retracted));
        }
        info.finalized_hash = hash;
        info.finalized_number = *header.number();
        batch.put_cf(self.cf(META), META_FINALIZED, hash);
        batch.put_cf(self.cf(META), META_LEAVES, leaves.encode());
        let kept_from = self.prune(&route, &info, &mut batch, &mut counts)?;
        counts.write(&mut batch, self.cf(STATE));
        self.db.write(batch)?;
        self.kept_from.store(kept_from, Ordering::Release);
        *self.info.write().expect("never poisoned; qed") = info;
        Ok(Finalized {
            route,
            best_change,
            retracted_transactions,
        })
    }

    fn highest(&self, leaves: &[Hash]) -> Result<Option<Header>, StoreError> {
        let mut best: Option<Header> = None;
        for leaf in leaves {
            let header = self.expect_header(*leaf)?;
            if best.as_ref().is_none_or(|b| header.number() > b.number()) {
                best = Some(header);
            }
        }
        Ok(best)
    }

    /// Removes `hash` and its descendants, giving up the nodes they inserted.
    fn discard(
        &self,
        hash: Hash,
        batch: &mut WriteBatch,
        counts: &mut NodeCounts,
        leaves: &mut Vec<Hash>,
    ) -> Result<(), StoreError> {
        let mut pending = vec![hash];
        while let Some(hash) = pending.pop() {
            pending.extend(self.children(hash)?);
            let journal: Journal =
                read(&self.db, JOURNAL, hash.as_bytes(), "journal")?.unwrap_or_default();
            for (key, n) in journal.inserted {
                counts.sub(&key, n)?;
            }
            leaves.retain(|leaf| *leaf != hash);
            for column in [HEADERS, BODIES, JUSTIFICATIONS, CHILDREN, JOURNAL] {
                batch.delete_cf(self.cf(column), hash);
            }
        }
        Ok(())
    }

    /// After finalizing `route`: in archive mode, drops the journals nobody
    /// will read again; otherwise prunes the states that fell out of the
    /// window below the finalized block. Returns the lowest block whose
    /// state is kept once `batch` is written.
    fn prune(
        &self,
        route: &[Header],
        info: &ChainInfo,
        batch: &mut WriteBatch,
        counts: &mut NodeCounts,
    ) -> Result<BlockNumber, StoreError> {
        let kept_from = self.kept_from.load(Ordering::Acquire);
        let keep = match self.pruning {
            StatePruning::Archive => {
                for header in route {
                    batch.delete_cf(self.cf(JOURNAL), header.hash());
                }
                return Ok(kept_from);
            }
            StatePruning::Keep(keep) => keep,
        };
        let new_kept_from = info.finalized_number.saturating_sub(keep).max(kept_from);
        for number in kept_from..new_kept_from {
            // Block `number`'s state goes: the nodes its child deleted are
            // no longer needed by it.
            let child = self
                .canonical_hash(number + 1)?
                .ok_or(StoreError::Corrupt("canonical index"))?;
            let journal: Journal =
                read(&self.db, JOURNAL, child.as_bytes(), "journal")?.unwrap_or_default();
            for (key, n) in journal.deleted {
                counts.sub(&key, n)?;
            }
            batch.delete_cf(self.cf(JOURNAL), child);
        }
        batch.put_cf(self.cf(META), META_KEPT_FROM, new_kept_from.encode());
        Ok(new_kept_from)
    }

    /// Number of trie nodes stored.
    #[cfg(test)]
    pub fn state_node_count(&self) -> usize {
        self.db
            .iterator_cf(self.cf(STATE), rocksdb::IteratorMode::Start)
            .count()
    }

    /// A value another component stored with [`Store::put_aux`].
    pub fn aux<T: Decode>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        read(&self.db, META, &aux_key(key), "auxiliary record")
    }

    /// Stores a value for another component (GRANDPA's round, for one),
    /// durably: it is written through the write-ahead log before this
    /// returns.
    pub fn put_aux(&self, key: &[u8], value: &impl Encode) -> Result<(), StoreError> {
        let mut options = rocksdb::WriteOptions::default();
        options.set_sync(true);
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(META), aux_key(key), value.encode());
        Ok(self.db.write_opt(batch, &options)?)
    }

    /// Flushes RocksDB's memtables to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        Ok(self.db.flush()?)
    }
}

/// Auxiliary records live in the meta column under their own prefix.
fn aux_key(key: &[u8]) -> Vec<u8> {
    [b"aux:".as_slice(), key].concat()
}

/// Reads and decodes one record.
fn read<T: Decode>(
    db: &DB,
    column: &str,
    key: &[u8],
    what: &'static str,
) -> Result<Option<T>, StoreError> {
    let cf = db.cf_handle(column).expect("opened with every column; qed");
    db.get_pinned_cf(cf, key)?
        .map(|bytes| T::decode(&mut &bytes[..]).map_err(|_| StoreError::Corrupt(what)))
        .transpose()
}

fn read_info(db: &DB) -> Result<ChainInfo, StoreError> {
    let hash = |key, what| -> Result<Hash, StoreError> {
        read(db, META, key, what)?.ok_or(StoreError::Corrupt(what))
    };
    let number = |hash: Hash| -> Result<BlockNumber, StoreError> {
        let header: Header =
            read(db, HEADERS, hash.as_bytes(), "header")?.ok_or(StoreError::Corrupt("header"))?;
        Ok(*header.number())
    };
    let best_hash = hash(META_BEST, "best")?;
    let finalized_hash = hash(META_FINALIZED, "finalized")?;
    Ok(ChainInfo {
        genesis_hash: hash(META_GENESIS, "genesis")?,
        best_hash,
        best_number: number(best_hash)?,
        finalized_hash,
        finalized_number: number(finalized_hash)?,
    })
}

fn write_genesis(
    db: &DB,
    pruning: StatePruning,
    genesis: &Header,
    storage: Storage,
) -> Result<(), StoreError> {
    let backend =
        InMemoryBackend::<Hashing>::from((storage, mosaic_runtime::VERSION.state_version()));
    if backend.root() != genesis.state_root() {
        return Err(StoreError::GenesisMismatch);
    }
    let cf = |name| db.cf_handle(name).expect("opened with every column; qed");
    let mut batch = WriteBatch::default();
    let mut counts = NodeCounts::new(db);
    for (key, (value, rc)) in backend.into_storage().drain() {
        if rc > 0 {
            counts.add(&key, &value, rc.unsigned_abs())?;
        }
    }
    counts.write(&mut batch, cf(STATE));
    let hash = genesis.hash();
    batch.put_cf(cf(HEADERS), hash, genesis.encode());
    batch.put_cf(cf(BODIES), hash, Vec::<UncheckedExtrinsic>::new().encode());
    batch.put_cf(cf(CANONICAL), 0u32.to_be_bytes(), hash);
    batch.put_cf(cf(META), META_GENESIS, hash);
    batch.put_cf(cf(META), META_BEST, hash);
    batch.put_cf(cf(META), META_FINALIZED, hash);
    batch.put_cf(cf(META), META_LEAVES, vec![hash].encode());
    batch.put_cf(cf(META), META_PRUNING, pruning.encode());
    batch.put_cf(cf(META), META_KEPT_FROM, 0u32.encode());
    Ok(db.write(batch)?)
}

/// Reference-count changes to trie nodes, gathered for one write batch.
struct NodeCounts<'a> {
    db: &'a DB,
    /// The node's value and new count; a count of zero deletes it.
    pending: HashMap<Vec<u8>, (Vec<u8>, u32)>,
}

impl<'a> NodeCounts<'a> {
    fn new(db: &'a DB) -> Self {
        NodeCounts {
            db,
            pending: HashMap::new(),
        }
    }

    fn current(&mut self, key: &[u8]) -> Result<Option<&mut (Vec<u8>, u32)>, StoreError> {
        if !self.pending.contains_key(key) {
            let cf = self
                .db
                .cf_handle(STATE)
                .expect("opened with every column; qed");
            let Some(stored) = self.db.get_cf(cf, key)? else {
                return Ok(None);
            };
            self.pending.insert(key.to_vec(), split_count(stored)?);
        }
        Ok(self.pending.get_mut(key))
    }

    fn add(&mut self, key: &[u8], value: &[u8], n: u32) -> Result<(), StoreError> {
        match self.current(key)? {
            Some((_, count)) => *count = count.saturating_add(n),
            None => {
                self.pending.insert(key.to_vec(), (value.to_vec(), n));
            }
        }
        Ok(())
    }

    fn sub(&mut self, key: &[u8], n: u32) -> Result<(), StoreError> {
        if let Some((_, count)) = self.current(key)? {
            *count = count.saturating_sub(n);
        } else {
            tracing::warn!(target: "mosaic::db", key = hex::encode(key), "releasing a trie node that is not stored");
        }
        Ok(())
    }

    fn write(self, batch: &mut WriteBatch, cf: &rocksdb::ColumnFamily) {
        for (key, (mut value, count)) in self.pending {
            if count == 0 {
                batch.delete_cf(cf, key);
            } else {
                value.extend_from_slice(&count.to_le_bytes());
                batch.put_cf(cf, key, value);
            }
        }
    }
}
