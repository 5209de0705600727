//! Content routing: the IPFS Kademlia DHT (`/ipfs/kad/1.0.0`) in server
//! mode, answering GET_PROVIDERS for the public CIDs this host serves.
//!
//! libp2p-kad answers provider queries from its record store. This host
//! keeps its own provider records there, one per key (a CID's multihash
//! bytes, as IPFS keys them), with no addresses: kad fills in the listen
//! addresses when it answers. The keys come from [`follow_orders`], which
//! walks the chain's orders (ids from 0 up to the first missing one, then
//! the new ones at every new head) and provides the root of every live
//! public order, and from blocks served over Bitswap. Records other peers
//! send are not stored, and the store holds at most
//! [`MAX_PROVIDED_KEYS`] keys.

use std::collections::{BTreeSet, HashMap};

use cid::Cid;
use libp2p::kad::store::{MemoryStore, MemoryStoreConfig, RecordStore};
use libp2p::kad::{self, Mode, ProviderRecord, RecordKey, StoreInserts};
use libp2p::PeerId;
use mosaic_api::chain::{Access, OrderId, OrderState};
use tokio::sync::mpsc;

use crate::public_blocks::PublicBlocks;

/// Keys this host provides at most.
pub const MAX_PROVIDED_KEYS: usize = 65_536;
/// Public orders not yet live that are checked again at every head.
const MAX_PENDING_ORDERS: usize = 4096;
/// Every this many heads, the orders provided are checked to be still live.
const RECHECK_EVERY: u32 = 50;

/// The Kademlia behaviour: server mode, nothing stored for others, no
/// republishing or bootstrap queries (this host is found, it does not
/// search).
pub fn kademlia(local: PeerId) -> kad::Behaviour<MemoryStore> {
    let store = MemoryStore::with_config(
        local,
        MemoryStoreConfig {
            max_provided_keys: MAX_PROVIDED_KEYS,
            max_records: 0,
            ..MemoryStoreConfig::default()
        },
    );
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

/// Records this host as a provider of `cid`; false once the store is full.
pub fn provide(kad: &mut kad::Behaviour<MemoryStore>, local: PeerId, cid: &Cid) -> bool {
    let record = ProviderRecord::new(key(cid), local, Vec::new());
    match kad.store_mut().add_provider(record) {
        Ok(()) => true,
        Err(error) => {
            tracing::debug!(target: "mosaic::routing", "{cid} not provided: {error}");
            false
        }
    }
}

/// Withdraws this host's provider record of `cid`.
pub fn withdraw(kad: &mut kad::Behaviour<MemoryStore>, local: PeerId, cid: &Cid) {
    kad.store_mut().remove_provider(&key(cid), &local);
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
