//! Network figures (a benchmark binary, not a test): how long a block takes
//! to be finalized by four validators at the default slot duration, and how
//! fast a new node syncs a chain from a peer.
//!
//! `cargo run --release -p mosaic-node --example network -- [blocks to sync] [blocks to finalize]`
//!
//! Every node is a full `mosaic-node` service (RocksDB, libp2p on loopback,
//! GRANDPA) in this one process.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use mosaic_chain_spec::ChainSpec;
use mosaic_node::author::build_block;
use mosaic_node::chain::{now_ms, ChainEvent};
use mosaic_node::keystore::Keystore;
use mosaic_node::network::{Multiaddr, NetworkConfig};
use mosaic_node::pool::PoolConfig;
use mosaic_node::service::{self, open_store, Config, Node};
use mosaic_node::store::StatePruning;
use mosaic_runtime::SLOT_DURATION_MS;
use polkadot_sdk::sp_runtime::traits::Header as _;

fn config(spec: ChainSpec, dir: &Path, seed: Option<&str>, bootnodes: Vec<Multiaddr>) -> Config {
    Config {
        chain_spec: spec,
        chain_dir: dir.to_owned(),
        name: "bench".into(),
        validator: seed
            .is_some()
            .then_some(mosaic_node::author::Authoring::Honest),
        dev_seed: seed.map(str::to_owned),
        state_pruning: StatePruning::Keep(256),
        rpc: None,
        prometheus: None,
        node_key: None,
        network: NetworkConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            public: Vec::new(),
            bootnodes,
            reserved: Vec::new(),
            max_peers: 50,
            reserved_only: false,
        },
        pool: PoolConfig::default(),
    }
}

fn address(node: &Node) -> Multiaddr {
    node.network.listen_addresses().remove(0)
}

/// Sync: a dev chain of `blocks` blocks written straight into a database,
/// served by one node, fetched by a fresh one.
async fn sync(blocks: u32) {
    let (source_dir, fresh_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let source_config = config(ChainSpec::dev(), source_dir.path(), None, Vec::new());
    {
        let chain = mosaic_node::chain::Chain::new(open_store(&source_config).unwrap(), None);
        let keystore = Keystore::in_memory();
        keystore.insert_dev("//Alice").unwrap();
        let first = now_ms() / SLOT_DURATION_MS - u64::from(blocks) - 1;
        for slot in first..first + u64::from(blocks) {
            let parent = chain.info().best_hash;
            let (block, changes) = build_block(&chain, &keystore, parent, slot, None)
                .unwrap()
                .unwrap();
            chain.import_built(block, changes).unwrap();
        }
        chain.store().flush().unwrap();
    }
    let source = service::start(source_config).await.unwrap();
    let started = Instant::now();
    let fresh = service::start(config(
        ChainSpec::dev(),
        fresh_dir.path(),
        None,
        vec![address(&source)],
    ))
    .await
    .unwrap();
    let mut events = fresh.chain.subscribe();
    while fresh.chain.info().best_number < blocks {
        let _ = tokio::time::timeout(Duration::from_secs(1), events.recv()).await;
    }
    let elapsed = started.elapsed();
    println!(
        "sync: {blocks} blocks in {:.2} s: {:.0} blocks/s (empty dev blocks, seals and state roots checked)",
        elapsed.as_secs_f64(),
        f64::from(blocks) / elapsed.as_secs_f64()
    );
    fresh.stop().await;
    source.stop().await;
}

/// Finality: four `local` validators; for `blocks` blocks, the time from a
/// block's import at each validator to its finalization there.
async fn finality(blocks: usize) {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let seeds = ["//Alice", "//Bob", "//Charlie", "//Dave"];
    let first = service::start(config(
        ChainSpec::local(),
        dirs[0].path(),
        Some(seeds[0]),
        Vec::new(),
    ))
    .await
    .unwrap();
    let bootnode = address(&first);
    let mut nodes = vec![first];
    for (dir, seed) in dirs[1..].iter().zip(&seeds[1..]) {
        let config = config(
            ChainSpec::local(),
            dir.path(),
            Some(seed),
            vec![bootnode.clone()],
        );
        nodes.push(service::start(config).await.unwrap());
    }
    let lags: Vec<_> = nodes
        .iter()
        .map(|node| tokio::spawn(lags(node.chain.subscribe(), blocks)))
        .collect();
    for (seed, lags) in seeds.iter().zip(lags) {
        let lags = lags.await.unwrap();
        let mean = lags.iter().sum::<Duration>() / lags.len() as u32;
        println!(
            "finality at {seed}: {} blocks, 4 validators, {SLOT_DURATION_MS} ms slots: import to finality mean {:.2} s, median {:.2} s, max {:.2} s",
            lags.len(),
            mean.as_secs_f64(),
            lags[lags.len() / 2].as_secs_f64(),
            lags[lags.len() - 1].as_secs_f64(),
        );
    }
    for node in nodes {
        node.stop().await;
    }
}

/// Times from import to finalization of `blocks` blocks, sorted.
async fn lags(
    mut events: tokio::sync::broadcast::Receiver<ChainEvent>,
    blocks: usize,
) -> Vec<Duration> {
    let mut imported = HashMap::new();
    let mut lags = Vec::new();
    // The first few blocks include connecting; skip them.
    let skip = 3;
    while lags.len() < blocks {
        match events.recv().await {
            Ok(ChainEvent::Imported { header, .. }) if *header.number() > skip => {
                imported.insert(header.hash(), Instant::now());
            }
            Ok(ChainEvent::Finalized(headers)) => {
                for header in headers {
                    if let Some(at) = imported.remove(&header.hash()) {
                        lags.push(at.elapsed());
                    }
                }
            }
            _ => {}
        }
    }
    lags.sort();
    lags
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let sync_blocks = args
        .next()
        .map_or(2000, |n| n.parse().expect("blocks to sync"));
    let finality_blocks = args
        .next()
        .map_or(20, |n| n.parse().expect("blocks to finalize"));
    sync(sync_blocks).await;
    finality(finality_blocks).await;
}
