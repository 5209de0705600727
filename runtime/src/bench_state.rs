//! A state backend for running `frame-benchmarking` benchmarks natively
//! (`Benchmark_dispatch_benchmark` through [`native::call`]).
//!
//! Benchmarks need what a block's state does not give: `commit` (write the
//! changes so far, as a block would, so that the timed part starts from a
//! stored state), `wipe` (back to genesis between runs), and counts of the
//! storage keys read and written, distinct and repeated, leaving out the
//! whitelisted ones (the block number, say, which every block reads anyway).
//! Those counts become the reads and writes of a call's weight.
//!
//! The state is an in-memory trie (the benchmarks measure execution; the
//! database's cost per read and write is priced separately by the runtime's
//! `DbWeight`).
//!
//! [`native::call`]: crate::native::call

use std::cell::RefCell;
use std::collections::HashMap;

use polkadot_sdk::sp_core::storage::{ChildInfo, StateVersion, Storage, TrackedStorageKey};
use polkadot_sdk::sp_state_machine::{
    Backend, BackendTransaction, ChildStorageCollection, InMemoryBackend, IterArgs,
    StorageCollection, StorageIterator, StorageKey, StorageValue, UsageInfo,
};
use polkadot_sdk::sp_trie::MerkleValue;

use crate::native::Hashing;
use crate::Hash;

type Inner = InMemoryBackend<Hashing>;

/// How often one key was read and written since the last reset.
#[derive(Clone, Copy, Debug, Default)]
struct Access {
    reads: u32,
    writes: u32,
}

/// The benchmarking state: genesis, the state now, and the key counts.
pub struct BenchState {
    genesis: Inner,
    state: RefCell<Inner>,
    accesses: RefCell<HashMap<Vec<u8>, Access>>,
    whitelist: RefCell<Vec<TrackedStorageKey>>,
}

impl std::fmt::Debug for BenchState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchState")
            .field("keys accessed", &self.accesses.borrow().len())
            .finish()
    }
}

impl BenchState {
    /// A state at `genesis`.
    pub fn new(genesis: Storage) -> Self {
        let genesis = Inner::from((genesis, StateVersion::V1));
        BenchState {
            state: RefCell::new(genesis.clone()),
            genesis,
            accesses: RefCell::default(),
            whitelist: RefCell::default(),
        }
    }

    /// The state root now.
    pub fn root(&self) -> Hash {
        *self.state.borrow().root()
    }

    /// Runs the benchmark `config` selects through the runtime's
    /// `Benchmark` API, on this state.
    #[cfg(feature = "runtime-benchmarks")]
    pub fn dispatch(
        &self,
        config: &polkadot_sdk::frame_benchmarking::BenchmarkConfig,
    ) -> Result<Vec<polkadot_sdk::frame_benchmarking::BenchmarkBatch>, String> {
        use parity_scale_codec::Encode;
        let method = "Benchmark_dispatch_benchmark";
        // No signature cache: weights are measured with every verification.
        let signatures = Default::default();
        crate::native::call_decoded(
            self,
            &mut Default::default(),
            &signatures,
            method,
            &config.encode(),
        )
        .map_err(|e| e.to_string())?
    }

    fn whitelisted(&self, key: &[u8]) -> bool {
        self.whitelist.borrow().iter().any(|k| k.key == key)
    }

    /// Counts an access to `key` unless it is whitelisted.
    fn count(&self, key: &[u8], count: impl FnOnce(&mut Access)) {
        if !self.whitelisted(key) {
            count(self.accesses.borrow_mut().entry(key.to_vec()).or_default());
        }
    }

    fn read(&self, key: &[u8]) {
        self.count(key, |a| a.reads += 1);
    }

    fn written(&self, key: &[u8]) {
        self.count(key, |a| a.writes += 1);
    }
}

/// Iterates the state now.
pub struct RawIter(<Inner as Backend<Hashing>>::RawIter);

impl StorageIterator<Hashing> for RawIter {
    type Backend = BenchState;
    type Error = String;

    fn next_key(&mut self, backend: &BenchState) -> Option<Result<StorageKey, String>> {
        self.0.next_key(&backend.state.borrow())
    }

    fn next_pair(
        &mut self,
        backend: &BenchState,
    ) -> Option<Result<(StorageKey, StorageValue), String>> {
        self.0.next_pair(&backend.state.borrow())
    }

    fn was_complete(&self) -> bool {
        self.0.was_complete()
    }
}

impl Backend<Hashing> for BenchState {
    type Error = String;
    type TrieBackendStorage = <Inner as Backend<Hashing>>::TrieBackendStorage;
    type RawIter = RawIter;

    fn storage(&self, key: &[u8]) -> Result<Option<StorageValue>, String> {
        self.read(key);
        self.state.borrow().storage(key)
    }

    fn storage_hash(&self, key: &[u8]) -> Result<Option<Hash>, String> {
        self.read(key);
        self.state.borrow().storage_hash(key)
    }

    fn closest_merkle_value(&self, key: &[u8]) -> Result<Option<MerkleValue<Hash>>, String> {
        self.read(key);
        self.state.borrow().closest_merkle_value(key)
    }

    fn child_closest_merkle_value(
        &self,
        child_info: &ChildInfo,
        key: &[u8],
    ) -> Result<Option<MerkleValue<Hash>>, String> {
        self.read(key);
        self.state
            .borrow()
            .child_closest_merkle_value(child_info, key)
    }

    fn child_storage(
        &self,
        child_info: &ChildInfo,
        key: &[u8],
    ) -> Result<Option<StorageValue>, String> {
        self.read(key);
        self.state.borrow().child_storage(child_info, key)
    }

    fn child_storage_hash(
        &self,
        child_info: &ChildInfo,
        key: &[u8],
    ) -> Result<Option<Hash>, String> {
        self.read(key);
        self.state.borrow().child_storage_hash(child_info, key)
    }

    fn exists_storage(&self, key: &[u8]) -> Result<bool, String> {
        self.read(key);
        self.state.borrow().exists_storage(key)
    }

    fn next_storage_key(&self, key: &[u8]) -> Result<Option<StorageKey>, String> {
        self.state.borrow().next_storage_key(key)
    }

    fn next_child_storage_key(
        &self,
        child_info: &ChildInfo,
        key: &[u8],
    ) -> Result<Option<StorageKey>, String> {
        self.state.borrow().next_child_storage_key(child_info, key)
    }

    fn storage_root<'a>(
        &self,
        delta: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
        state_version: StateVersion,
    ) -> (Hash, BackendTransaction<Hashing>) {
        self.state.borrow().storage_root(delta, state_version)
    }

    fn child_storage_root<'a>(
        &self,
        child_info: &ChildInfo,
        delta: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
        state_version: StateVersion,
    ) -> (Hash, bool, BackendTransaction<Hashing>) {
        self.state
            .borrow()
            .child_storage_root(child_info, delta, state_version)
    }

    fn raw_iter(&self, args: IterArgs) -> Result<RawIter, String> {
        self.state.borrow().raw_iter(args).map(RawIter)
    }

    fn register_overlay_stats(&self, stats: &polkadot_sdk::sp_state_machine::StateMachineStats) {
        self.state.borrow().register_overlay_stats(stats)
    }

    fn usage_info(&self) -> UsageInfo {
        self.state.borrow().usage_info()
    }

    fn wipe(&self) -> Result<(), String> {
        *self.state.borrow_mut() = self.genesis.clone();
        self.accesses.borrow_mut().clear();
        Ok(())
    }

    fn commit(
        &self,
        storage_root: Hash,
        transaction: BackendTransaction<Hashing>,
        main_storage_changes: StorageCollection,
        child_storage_changes: ChildStorageCollection,
    ) -> Result<(), String> {
        self.state
            .borrow_mut()
            .apply_transaction(storage_root, transaction);
        for (key, _) in &main_storage_changes {
            self.written(key);
        }
        for (_, changes) in &child_storage_changes {
            for (key, _) in changes {
                self.written(key);
            }
        }
        Ok(())
    }

    /// (distinct keys read, repeated reads, distinct keys written, repeated
    /// writes) since the last reset.
    fn read_write_count(&self) -> (u32, u32, u32, u32) {
        let mut counts = (0, 0, 0, 0);
        for access in self.accesses.borrow().values() {
            if access.reads > 0 {
                counts.0 += 1;
                counts.1 += access.reads - 1;
            }
            if access.writes > 0 {
                counts.2 += 1;
                counts.3 += access.writes - 1;
            }
        }
        counts
    }

    fn reset_read_write_count(&self) {
        self.accesses.borrow_mut().clear();
    }

    fn get_whitelist(&self) -> Vec<TrackedStorageKey> {
        self.whitelist.borrow().clone()
    }

    fn set_whitelist(&self, whitelist: Vec<TrackedStorageKey>) {
        *self.whitelist.borrow_mut() = whitelist;
    }

    /// No proof is recorded: a solo chain ships no proofs of validity.
    fn proof_size(&self) -> Option<u32> {
        None
    }

    fn get_read_and_written_keys(&self) -> Vec<(Vec<u8>, u32, u32, bool)> {
        self.accesses
            .borrow()
            .iter()
            .map(|(key, a)| (key.clone(), a.reads, a.writes, false))
            .collect()
    }
}
