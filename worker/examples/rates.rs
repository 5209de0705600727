//! The worker's repair and scrub rates on one piece, each beside its
//! reference in the same run.
//!
//! ```sh
//! cargo run --release -p mosaic-worker --example rates -- [OBJECT_MIB] [DIR]
//! ```
//!
//! A public object of `OBJECT_MIB` (default 256) at default coding (4 + 2,
//! 8 MiB segments) is coded in memory; piece 5 (parity) is rebuilt from
//! the other pieces into a disk store under `DIR` (default: a temporary
//! directory), as the worker's repair does (verify each shard, decode,
//! code again, spool, check the piece root, store with fsync), then
//! scrubbed (read every shard back, hash it to its shard root).
//!
//! References: for repair, the erasure decode and encode of the same
//! segments alone (no verification, no disk) and writing the piece's bytes
//! once with fsync; for the scrub, `openssl dgst -sha256` of the piece's
//! data file (the same bytes through the same hash, one pass). The page
//! cache is warm for the scrub: on a real store the disk's read rate is the
//! bound, which `--scrub-rate` keeps the scrub well under.

use std::io::Write;
use std::process::Command;
use std::time::Instant;

use mosaic_primitives::erasure::{CodingParams, ErasureCoder};
use mosaic_primitives::manifest::ShardId;
use mosaic_primitives::memory::MemoryShards;
use mosaic_primitives::piece::Layout;
use mosaic_primitives::pipeline::{self, PutOptions, ShardSource};
use mosaic_shard_net::store::DiskStore;
use mosaic_shard_net::ShardStore;
use mosaic_worker::{repair, scrub};

fn report(name: &str, bytes: u64, secs: f64) {
    let rate = bytes as f64 / 1e6 / secs;
    println!("{name:<58} {secs:>7.3} s {rate:>8.0} MB/s");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args.next().map_or(256, |a| a.parse().expect("OBJECT_MIB"));
    let dir = match args.next() {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("a scratch directory");

    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..mib << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let coding = CodingParams::default();
    let mut shards = MemoryShards::default();
    let options = PutOptions {
        coding,
        threads: 1,
        ..PutOptions::public()
    };
    let manifest = pipeline::put(&data[..], &options, &mut shards).expect("the object codes");
    let layout = Layout::new(coding, manifest.stored_size()).expect("a valid layout");
    let number = 5u8;
    let root = manifest.piece_roots[usize::from(number)];
    let piece = layout.piece_size();
    println!(
        "object {mib} MiB, {} + {}, {} segments; piece {number}: {piece} bytes",
        coding.data_shards,
        coding.parity_shards,
        layout.segment_count()
    );

    // Repair, as the worker does it, one thread.
    let store = DiskStore::open(&dir.path().join("store")).expect("a store");
    let spool = dir.path().join("store/repair/spool");
    let started = Instant::now();
    let size = repair::rebuild_into(
        &shards,
        &layout,
        &manifest.piece_roots,
        number,
        &spool,
        &store,
    )
    .expect("the piece rebuilds");
    report(
        "repair: rebuild_into (verify, decode, code, spool, store)",
        size,
        started.elapsed().as_secs_f64(),
    );

    // Its references: decode and encode alone; the piece written once.
    let coder = ErasureCoder::new(coding).expect("a coder");
    let k = usize::from(coding.data_shards);
    let started = Instant::now();
    for segment in 0..layout.segment_count() {
        let mut present: Vec<Option<Vec<u8>>> = vec![None; coding.total_shards()];
        // The worker takes the first k verified pieces; piece 0 missing
        // makes the decode reconstruct, as the worker's usually must.
        for index in 1..=k as u8 {
            present[usize::from(index)] = shards.shard(ShardId { segment, index });
        }
        let len = coding.segment_len(layout.stored_size(), u64::from(segment));
        let mut buf = coder.decode(present, len).expect("k shards decode");
        coder.encode(&mut buf, len);
    }
    report(
        "  reference: decode + encode alone, in memory",
        piece,
        started.elapsed().as_secs_f64(),
    );
    let bytes = std::fs::read(
        std::fs::read_dir(dir.path().join("store/pieces"))
            .expect("the store")
            .map(|e| e.expect("an entry").path())
            .find(|p| p.extension().is_some_and(|e| e == "data"))
            .expect("the rebuilt piece's data"),
    )
    .expect("its bytes");
    let copy = dir.path().join("copy");
    let started = Instant::now();
    let mut file = std::fs::File::create(&copy).expect("a file");
    file.write_all(&bytes).expect("written");
    file.sync_all().expect("synced");
    report(
        "  reference: the piece's bytes written once, fsync",
        piece,
        started.elapsed().as_secs_f64(),
    );

    // Scrub, unpaced, and its reference.
    let started = Instant::now();
    let verified = scrub::verify(&store, &root, |_| ()).expect("the piece is sound");
    report(
        "scrub: verify (read every shard, hash to its root)",
        verified,
        started.elapsed().as_secs_f64(),
    );
    let started = Instant::now();
    let status = Command::new("openssl")
        .args(["dgst", "-sha256"])
        .arg(&copy)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success());
    report(
        "  reference: openssl dgst -sha256 of the piece",
        piece,
        started.elapsed().as_secs_f64(),
    );
    assert_eq!(store.pieces().expect("listed"), vec![root]);
}
