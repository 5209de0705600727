//! Resource figures of the node (a benchmark binary, not a test): how fast
//! it validates, authors and imports signed balance transfers, the time to
//! import a block, and resident memory.
//!
//! `cargo run --release -p mosaic-node --example chain_throughput -- [transfers]`
//!
//! Two RocksDB-backed chains from the dev spec: the author validates every
//! transfer into its pool and builds full blocks from it; the importer
//! checks and executes each block as it would one from the network.

use std::time::{Duration, Instant};

use mosaic_chain_spec::ChainSpec;
use mosaic_node::author::build_block;
use mosaic_node::chain::{now_ms, Chain, ChainEvent};
use mosaic_node::keystore::Keystore;
use mosaic_node::pool::{Pool, PoolConfig};
use mosaic_node::store::{StatePruning, Store};
use mosaic_runtime::signing::{sign_extrinsic, SigningParams};
use mosaic_runtime::{RuntimeCall, SLOT_DURATION_MS, VERSION};
use parity_scale_codec::Encode;
use polkadot_sdk::pallet_balances;
use polkadot_sdk::sp_keyring::Sr25519Keyring;
use polkadot_sdk::sp_runtime::generic::Era;
use polkadot_sdk::sp_runtime::MultiAddress;
use std::sync::Arc;

fn open(dir: &std::path::Path) -> Chain {
    let spec = ChainSpec::dev();
    let store = Store::open(
        dir,
        StatePruning::Keep(256),
        &spec.genesis_header().unwrap(),
        spec.genesis_storage().unwrap(),
    )
    .unwrap();
    Chain::new(store, None)
}

/// Resident memory now and at its peak, in MiB, from /proc.
fn memory_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let transfers: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("the number of transfers"))
        .unwrap_or(20_000);
    let (author_dir, import_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let author = Arc::new(open(author_dir.path()));
    let importer = open(import_dir.path());
    let keystore = Keystore::in_memory();
    keystore.insert_dev("//Alice").unwrap();
    let pool = Pool::new(
        author.clone(),
        PoolConfig {
            max_count: transfers + 1,
            max_bytes: usize::MAX,
            ..PoolConfig::default()
        },
    );
    let (idle_rss, _) = memory_mib();

    let genesis = author.info().genesis_hash;
    // Keys derived once (a dev key's derivation runs PBKDF2) and transfers
    // signed before the clock starts: only validation is timed.
    let senders: Vec<_> = Sr25519Keyring::well_known().map(|k| k.pair()).collect();
    let bob = Sr25519Keyring::Bob.to_account_id();
    let signed: Vec<Vec<u8>> = (0..transfers)
        .map(|i| {
            let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
                dest: MultiAddress::Id(bob.clone()),
                value: 1_000_000,
            });
            let params = SigningParams {
                genesis,
                spec_version: VERSION.spec_version,
                transaction_version: VERSION.transaction_version,
                nonce: (i / senders.len()) as u32,
                era: Era::Immortal,
                era_birth: genesis,
            };
            sign_extrinsic(&senders[i % senders.len()], call, &params).encode()
        })
        .collect();
    let started = Instant::now();
    for xt in &signed {
        pool.submit(xt).expect("valid transfer");
    }
    let validated = started.elapsed();

    let mut slot = now_ms() / SLOT_DURATION_MS - 100_000;
    let (mut authoring, mut importing) = (Duration::ZERO, Duration::ZERO);
    let (mut blocks, mut included, mut slowest_import) = (0, 0, Duration::ZERO);
    while !pool.is_empty() {
        slot += 1;
        let parent = author.info().best_hash;
        let started = Instant::now();
        let (block, changes) = build_block(&author, &keystore, parent, slot, Some(&pool))
            .unwrap()
            .unwrap();
        let header = block.header.clone();
        author.import_built(block.clone(), changes).unwrap();
        authoring += started.elapsed();
        pool.maintain(&ChainEvent::Imported {
            header: header.clone(),
            is_new_best: true,
            retracted: Vec::new(),
        });
        // The timestamp inherent is not a transfer.
        included += block.extrinsics.len() - 1;
        let started = Instant::now();
        importer
            .import(block, now_ms(), mosaic_node::chain::Source::Gossip)
            .unwrap();
        let took = started.elapsed();
        importing += took;
        slowest_import = slowest_import.max(took);
        blocks += 1;
        assert_eq!(importer.info().best_hash, header.hash());
    }
    let (rss, peak) = memory_mib();
    let rate = |d: Duration| included as f64 / d.as_secs_f64();
    println!("transfers:            {included} in {blocks} blocks");
    println!(
        "pool validation:      {:.0} transfers/s",
        transfers as f64 / validated.as_secs_f64()
    );
    println!(
        "authoring:            {:.0} transfers/s (build, seal, store)",
        rate(authoring)
    );
    println!(
        "import:               {:.0} transfers/s (check, execute, store)",
        rate(importing)
    );
    println!(
        "block import time:    mean {:.1} ms, slowest {:.1} ms ({} transfers per block)",
        importing.as_secs_f64() * 1e3 / blocks as f64,
        slowest_import.as_secs_f64() * 1e3,
        included / blocks
    );
    println!("resident memory:      {idle_rss} MiB idle, {rss} MiB after, {peak} MiB peak");
}
