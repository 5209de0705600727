//! Resource figures of the node (a benchmark binary, not a test): how fast
//! it validates, authors and imports signed balance transfers, the time to
//! import a block, and resident memory.
//!
//! `cargo run --release -p mosaic-node --example chain_throughput -- [transfers]`
//!
//! RocksDB-backed chains from the dev spec: the author validates every
//! transfer into its pool and builds full blocks from it; an importer checks
//! and executes each block as it would one from the network, and a second
//! importer does the same having validated the transfers into its own pool
//! first, as the nodes of a network do. All of it twice: with the nodes'
//! signature caches (`mosaic_runtime::verified`), and, as the reference,
//! without (every signature verified at every step).

use std::time::{Duration, Instant};

use mosaic_chain_spec::ChainSpec;
use mosaic_node::author::build_block;
use mosaic_node::chain::{now_ms, Chain, ChainEvent, Source};
use mosaic_node::keystore::Keystore;
use mosaic_node::pool::{Pool, PoolConfig};
use mosaic_node::store::{StatePruning, Store};
use mosaic_runtime::signing::{sign_extrinsic, SigningParams};
use mosaic_runtime::verified::SignatureCache;
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

/// What one configuration of the node achieved.
struct Figures {
    included: usize,
    blocks: usize,
    validation: f64,
    authoring: f64,
    import: f64,
    import_seen: f64,
    import_mean_ms: f64,
    import_slowest_ms: f64,
}

/// Validates `signed` into an author's pool, authors blocks from it and
/// imports them on two other nodes: one that never saw the transfers, one
/// that validated them into its own pool first (as a node on a network
/// does). `cache`: whether nodes remember the signatures they verified.
fn run(signed: &[Vec<u8>], cache: bool) -> Figures {
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let chain = |dir: &tempfile::TempDir| {
        let chain = open(dir.path());
        Arc::new(if cache {
            chain
        } else {
            chain.with_signature_cache(SignatureCache::default())
        })
    };
    let (author, importer, seen) = (chain(&dirs[0]), chain(&dirs[1]), chain(&dirs[2]));
    let keystore = Keystore::in_memory();
    keystore.insert_dev("//Alice").unwrap();
    let pool = |chain: &Arc<Chain>| {
        Pool::new(
            chain.clone(),
            PoolConfig {
                max_count: signed.len() + 1,
                max_bytes: usize::MAX,
                ..PoolConfig::default()
            },
        )
    };
    let (pool, seen_pool) = (pool(&author), pool(&seen));

    let started = Instant::now();
    for xt in signed {
        pool.submit(xt).expect("valid transfer");
    }
    let validated = started.elapsed();
    for xt in signed {
        seen_pool.submit(xt).expect("valid transfer");
    }

    let mut slot = now_ms() / SLOT_DURATION_MS - 100_000;
    let (mut authoring, mut importing, mut importing_seen) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
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
        let imported = ChainEvent::Imported {
            header: header.clone(),
            is_new_best: true,
            retracted: Vec::new(),
        };
        pool.maintain(&imported);
        // The timestamp inherent is not a transfer.
        included += block.extrinsics.len() - 1;
        let started = Instant::now();
        importer
            .import(block.clone(), now_ms(), Source::Gossip)
            .unwrap();
        let took = started.elapsed();
        importing += took;
        slowest_import = slowest_import.max(took);
        let started = Instant::now();
        seen.import(block, now_ms(), Source::Gossip).unwrap();
        importing_seen += started.elapsed();
        seen_pool.maintain(&imported);
        blocks += 1;
        assert_eq!(importer.info().best_hash, header.hash());
        assert_eq!(seen.info().best_hash, header.hash());
    }
    let rate = |d: Duration| included as f64 / d.as_secs_f64();
    Figures {
        included,
        blocks,
        validation: signed.len() as f64 / validated.as_secs_f64(),
        authoring: rate(authoring),
        import: rate(importing),
        import_seen: rate(importing_seen),
        import_mean_ms: importing.as_secs_f64() * 1e3 / blocks as f64,
        import_slowest_ms: slowest_import.as_secs_f64() * 1e3,
    }
}

fn main() {
    let transfers: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("the number of transfers"))
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    let genesis = first.info().genesis_hash;
    // One node open, nothing to do.
    let (idle_rss, _) = memory_mib();
    drop(first);
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

    let ours = run(&signed, true);
    let (rss, peak) = memory_mib();
    let reference = run(&signed, false);
    println!(
        "transfers: {} in {} blocks; transfers/s, with the signature cache | reference: without",
        ours.included, ours.blocks
    );
    let row = |name: &str, f: fn(&Figures) -> f64| {
        println!("{name:<52} {:>8.0} | {:>8.0}", f(&ours), f(&reference));
    };
    row("pool validation", |f| f.validation);
    row("authoring (build, seal, store)", |f| f.authoring);
    row(
        "import, transfers never seen (check, execute, store)",
        |f| f.import,
    );
    row("import, transfers validated into the pool first", |f| {
        f.import_seen
    });
    println!(
        "block import time, never seen: mean {:.1} | {:.1} ms, slowest {:.1} | {:.1} ms ({} transfers per block)",
        ours.import_mean_ms,
        reference.import_mean_ms,
        ours.import_slowest_ms,
        reference.import_slowest_ms,
        ours.included / ours.blocks
    );
    println!(
        "resident memory: {idle_rss} MiB, one node idle; {rss} MiB after, {peak} MiB peak, three nodes and two pools of the transfers in one process"
    );
}
