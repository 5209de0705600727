//! Content routing: the IPFS Kademlia DHT (`/ipfs/kad/1.0.0`) in server
//! mode, answering GET_PROVIDERS for the public CIDs this host serves.
//!
//! libp2p-kad answers provider queries from its record store. This host's
//! store is [`ProvidedKeys`]: its own provider records only, one per key (a
//! CID's multihash bytes, as IPFS keys them), with no addresses (kad fills
//! in the listen addresses when it answers); records other peers send are
//! not stored. What is provided:
//!
//! * the root of every live public order, from [`follow_orders`], which
//!   walks the chain's orders (ids from 0 up to the first missing one, then
//!   the new ones at every new head);
//! * every block (dag-pb nodes and raw leaves) of such an object once the
//!   object is opened, by HTTP or Bitswap ([`PublicBlocks::opened`]), or
//!   when its root becomes live while it is open.
//!
//! A root's records, its blocks' with it, are withdrawn when no live order
//! stores it any more (a block also in another live object stays). An
//! object evicted from the open ones keeps its records: a block asked for
//! opens it again ([`PublicBlocks::holder`]). At most [`MAX_PROVIDED_KEYS`]
//! keys: past it new keys are not provided (logged at debug level; the
//! blocks are still served, only not found through the DHT) until records
//! are withdrawn.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use cid::Cid;
use libp2p::kad::store::{self, RecordStore};
use libp2p::kad::{self, Mode, ProviderRecord, Record, RecordKey, StoreInserts};
use libp2p::PeerId;
use mosaic_api::chain::{Access, OrderId, OrderState};
use tokio::sync::mpsc;

use crate::public_blocks::PublicBlocks;

/// Keys this host provides at most: 262 144, the blocks of 64 GiB of files
/// in 256 KiB leaves (a 1 GiB file has about 4 100: 4 096 leaves and their
/// dag-pb nodes), about 200 bytes a key (50 MB) when full.
pub const MAX_PROVIDED_KEYS: usize = 1 << 18;
/// Public orders not yet live that are checked again at every head.
const MAX_PENDING_ORDERS: usize = 4096;
/// Every this many heads, the orders provided are checked to be still live.
const RECHECK_EVERY: u32 = 50;

/// The Kademlia behaviour: server mode, nothing stored for others, no
/// republishing or bootstrap queries (this host is found, it does not
/// search).
pub fn kademlia(local: PeerId) -> kad::Behaviour<ProvidedKeys> {
    let store = ProvidedKeys::new(local, MAX_PROVIDED_KEYS);
    let mut config = kad::Config::new(kad::PROTOCOL_NAME);
    config
        .set_record_filtering(StoreInserts::FilterBoth)
        .set_provider_publication_interval(None)
        .set_publication_interval(None)
        .set_replication_interval(None)
        .set_periodic_bootstrap_interval(None);
    let mut behaviour = kad::Behaviour::with_config(local, store, config);
    behaviour.set_mode(Some(Mode::Server));
    behaviour
}

/// The DHT key IPFS gives a CID: its multihash.
pub fn key(cid: &Cid) -> RecordKey {
    RecordKey::new(&cid.hash().to_bytes())
}

/// The provider records of this host, as kad's record store: the roots of
/// live public orders and the blocks of their objects opened, each key
/// once however many roots provide it.
///
/// libp2p's `MemoryStore` keeps room for 20 providers in every key (some
/// 3 KB a key): too much for the blocks of many files, and this host
/// provides only itself.
pub struct ProvidedKeys {
    local: PeerId,
    max_keys: usize,
    /// Live roots, each with the keys of its object's blocks provided for
    /// it (none until the object is opened).
    roots: HashMap<Cid, RootKeys>,
    /// Every key provided, with how many live roots provide it (a root
    /// for itself, and each live root whose object holds the block).
    keys: HashMap<RecordKey, u32>,
}

/// What one live root provides.
#[derive(Default)]
struct RootKeys {
    /// Whether its own key is provided (the store may have been full).
    own: bool,
    /// Its object's blocks provided.
    blocks: Vec<RecordKey>,
}

impl ProvidedKeys {
    /// No records; at most `max_keys` keys.
    pub fn new(local: PeerId, max_keys: usize) -> Self {
        ProvidedKeys {
            local,
            max_keys,
            roots: HashMap::new(),
            keys: HashMap::new(),
        }
    }

    /// A live public order stores `root`: provides it. False if the store
    /// is full.
    pub fn provide_root(&mut self, root: Cid) -> bool {
        if self.roots.get(&root).is_some_and(|keys| keys.own) {
            return true;
        }
        let own = self.add(&key(&root));
        if !own {
            tracing::debug!(target: "mosaic::routing", "{root} not provided: {} keys already are", self.max_keys);
        }
        self.roots.entry(root).or_default().own = own;
        own
    }

    /// The object `root`, holding `blocks`, was opened: provides them if
    /// `root` is live and its blocks are not provided yet. How many were
    /// provided now.
    pub fn provide_blocks<'a>(
        &mut self,
        root: &Cid,
        blocks: impl IntoIterator<Item = &'a Cid>,
    ) -> usize {
        let Some(mut provided) = self.roots.remove(root) else {
            // Not live (or not yet: its blocks come with its root).
            return 0;
        };
        let mut refused = 0;
        if provided.blocks.is_empty() {
            for cid in blocks {
                let key = key(cid);
                if self.add(&key) {
                    provided.blocks.push(key);
                } else {
                    refused += 1;
                }
            }
        }
        if refused > 0 {
            tracing::debug!(target: "mosaic::routing", "{refused} blocks of {root} not provided: {} keys already are", self.max_keys);
        }
        let count = provided.blocks.len();
        self.roots.insert(*root, provided);
        count
    }

    /// No live order stores `root` any more: withdraws it and its blocks
    /// (but those another live root provides too).
    pub fn withdraw_root(&mut self, root: &Cid) {
        let Some(provided) = self.roots.remove(root) else {
            return;
        };
        if provided.own {
            self.release(&key(root));
        }
        for key in &provided.blocks {
            self.release(key);
        }
    }

    /// One more root provides `key`; false if it is new and there is no
    /// room.
    fn add(&mut self, key: &RecordKey) -> bool {
        if let Some(count) = self.keys.get_mut(key) {
            *count += 1;
            return true;
        }
        if self.keys.len() >= self.max_keys {
            return false;
        }
        self.keys.insert(key.clone(), 1);
        true
    }

    /// One root fewer provides `key`.
    fn release(&mut self, key: &RecordKey) {
        if let Some(count) = self.keys.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                self.keys.remove(key);
            }
        }
    }

    fn record(&self, key: &RecordKey) -> ProviderRecord {
        ProviderRecord::new(key.clone(), self.local, Vec::new())
    }
}

/// kad's view: the keys provided, each a record of this host without
/// addresses; no value records.
impl RecordStore for ProvidedKeys {
    type RecordsIter<'a> = std::iter::Empty<Cow<'a, Record>>;
    type ProvidedIter<'a> = Box<dyn Iterator<Item = Cow<'a, ProviderRecord>> + 'a>;

    fn get(&self, _: &RecordKey) -> Option<Cow<'_, Record>> {
        None
    }

    fn put(&mut self, _: Record) -> store::Result<()> {
        Err(store::Error::MaxRecords)
    }

    fn remove(&mut self, _: &RecordKey) {}

    fn records(&self) -> Self::RecordsIter<'_> {
        std::iter::empty()
    }

    /// Refused: records are added through [`provide_root`] and
    /// [`provide_blocks`] (kad calls this for `start_providing`, unused
    /// here, and for other peers' records, which are filtered).
    ///
    /// [`provide_root`]: ProvidedKeys::provide_root
    /// [`provide_blocks`]: ProvidedKeys::provide_blocks
    fn add_provider(&mut self, _: ProviderRecord) -> store::Result<()> {
        Err(store::Error::MaxProvidedKeys)
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        if self.keys.contains_key(key) {
            vec![self.record(key)]
        } else {
            Vec::new()
        }
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        Box::new(self.keys.keys().map(|key| Cow::Owned(self.record(key))))
    }

    fn remove_provider(&mut self, key: &RecordKey, provider: &PeerId) {
        if *provider == self.local {
            self.keys.remove(key);
        }
    }
}

/// A change to the CIDs provided.
#[derive(Debug)]
pub enum Update {
    /// A live public order stores this root.
    Provide(Cid),
    /// No live order stores it any more.
    Withdraw(Cid),
}

/// Walks the chain's orders (through `blocks`' node connection) and sends an [`Update`] for every public root
/// that becomes live or stops being live. Ends when `updates` closes or
/// the node's head subscription ends.
pub async fn follow_orders(blocks: PublicBlocks, updates: mpsc::Sender<Update>) {
    let chain = blocks.chain();
    let mut heads = match chain.new_heads().await {
        Ok(heads) => heads,
        Err(error) => {
            tracing::warn!(target: "mosaic::routing", "no new heads, public orders not followed: {error}");
            return;
        }
    };
    let mut next: OrderId = 0;
    let mut pending = BTreeSet::new();
    let mut live: HashMap<OrderId, Cid> = HashMap::new();
    let mut rounds = 0u32;
    loop {
        // Orders new since the last head, then the pending ones again.
        let mut check: Vec<OrderId> = pending.iter().copied().collect();
        loop {
            match chain.order(next, None).await {
                Ok(Some(_)) => {
                    check.push(next);
                    next += 1;
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(target: "mosaic::routing", "reading order {next}: {error}");
                    break;
                }
            }
        }
        rounds = rounds.wrapping_add(1);
        if rounds.is_multiple_of(RECHECK_EVERY) {
            check.extend(live.keys().copied());
        }
        for id in check {
            let order = match chain.order(id, None).await {
                Ok(order) => order,
                Err(error) => {
                    tracing::warn!(target: "mosaic::routing", "reading order {id}: {error}");
                    continue;
                }
            };
            let public = order
                .as_ref()
                .filter(|o| matches!(o.access, Access::Public { .. }))
                .and_then(|o| Some((Cid::try_from(o.cid.as_slice()).ok()?, &o.state)));
            let update = match public {
                Some((cid, OrderState::Live { .. })) => {
                    pending.remove(&id);
                    (live.len() < MAX_PROVIDED_KEYS && live.insert(id, cid).is_none())
                        .then_some(Update::Provide(cid))
                }
                Some((_, OrderState::Pending { .. })) => {
                    if pending.len() < MAX_PENDING_ORDERS {
                        pending.insert(id);
                    }
                    None
                }
                None => {
                    pending.remove(&id);
                    // Withdrawn unless another live order stores it too.
                    live.remove(&id)
                        .filter(|cid| !live.values().any(|other| other == cid))
                        .map(Update::Withdraw)
                }
            };
            if let Some(update) = update {
                if updates.send(update).await.is_err() {
                    return;
                }
            }
        }
        match heads.next().await {
            Some(Ok(_)) => {}
            Some(Err(error)) => {
                tracing::warn!(target: "mosaic::routing", "head subscription failed: {error}");
                return;
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use mosaic_primitives::unixfs::{chunk_digest, cid_v1, DAG_PB_CODEC, RAW_CODEC};

    use super::*;

    /// A CID of `codec` for `n`.
    fn cid(codec: u64, n: u32) -> Cid {
        cid_v1(codec, chunk_digest(&n.to_le_bytes()))
    }

    /// An object as a 1 GiB file in 256 KiB leaves: its root, its dag-pb
    /// nodes (the root among them) and its leaves.
    fn object(seed: u32) -> (Cid, Vec<Cid>) {
        let root = cid(DAG_PB_CODEC, seed);
        let mut blocks = vec![root];
        blocks.extend((1..25).map(|n| cid(DAG_PB_CODEC, seed + n)));
        blocks.extend((0..4096).map(|n| cid(RAW_CODEC, seed + 100 + n)));
        (root, blocks)
    }

    fn provided(store: &ProvidedKeys) -> HashSet<RecordKey> {
        store.provided().map(|record| record.key.clone()).collect()
    }

    #[test]
    fn every_block_of_an_opened_live_object_is_provided_until_withdrawn() {
        let local = PeerId::random();
        let mut kad = kademlia(local);
        let store = kad.store_mut();
        let (root, blocks) = object(0);

        // Opened before its order is seen live: nothing yet.
        assert_eq!(store.provide_blocks(&root, &blocks), 0);
        assert!(provided(store).is_empty());

        assert!(store.provide_root(root));
        assert_eq!(provided(store), HashSet::from([key(&root)]));
        assert_eq!(store.provide_blocks(&root, &blocks), blocks.len());
        let keys: HashSet<RecordKey> = blocks.iter().map(key).collect();
        assert_eq!(provided(store), keys, "the root, every node and every leaf");
        for cid in &blocks {
            let records = store.providers(&key(cid));
            assert_eq!(records.len(), 1, "{cid}");
            assert_eq!(records[0].provider, local);
            assert!(records[0].addresses.is_empty(), "kad adds its addresses");
        }
        // Opened again (after an eviction): nothing more.
        assert_eq!(store.provide_blocks(&root, &blocks), blocks.len());
        assert_eq!(provided(store).len(), blocks.len());

        store.withdraw_root(&root);
        assert!(provided(store).is_empty());
        assert!(store.providers(&key(&blocks[100])).is_empty());
        assert_eq!(store.provide_blocks(&root, &blocks), 0, "no longer live");
        assert!(provided(store).is_empty());
    }

    #[test]
    fn a_block_of_two_live_objects_stays_until_both_are_withdrawn() {
        let mut store = ProvidedKeys::new(PeerId::random(), MAX_PROVIDED_KEYS);
        let (a, a_blocks) = object(0);
        let (b, mut b_blocks) = object(10_000);
        // b holds a's whole file (a directory with it, say) and a's root
        // is a block of b.
        b_blocks.extend(a_blocks.iter().copied());
        for (root, blocks) in [(a, &a_blocks), (b, &b_blocks)] {
            assert!(store.provide_root(root));
            store.provide_blocks(&root, blocks);
        }
        assert_eq!(provided(&store).len(), b_blocks.len());

        store.withdraw_root(&b);
        let keys: HashSet<RecordKey> = a_blocks.iter().map(key).collect();
        assert_eq!(provided(&store), keys, "a's blocks stay, b's alone go");
        store.withdraw_root(&a);
        assert!(provided(&store).is_empty());
        assert!(store.keys.is_empty() && store.roots.is_empty());
    }

    #[test]
    fn past_the_bound_keys_are_not_provided() {
        let mut store = ProvidedKeys::new(PeerId::random(), 100);
        let (root, blocks) = object(0);
        assert!(store.provide_root(root));
        // The root's key again, and 99 new ones.
        assert_eq!(store.provide_blocks(&root, &blocks), 100);
        assert_eq!(provided(&store).len(), 100);
        let (other, _) = object(50_000);
        assert!(!store.provide_root(other), "full");
        assert!(store.providers(&key(&other)).is_empty());

        store.withdraw_root(&root);
        assert!(provided(&store).is_empty());
        assert!(store.provide_root(other), "room again");
    }

    #[test]
    fn the_bound_holds_the_blocks_of_sixty_one_gib_files() {
        let (_, blocks) = object(0);
        assert!(MAX_PROVIDED_KEYS >= 60 * blocks.len());
    }
}
