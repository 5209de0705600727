//! Put and get throughput on a large file, against an OpenSSL reference run
//! on the same file in the same run.
//!
//! ```sh
//! cargo run --release -p mosaic-primitives --example throughput -- [SIZE_MIB] [DIR]
//! ```
//!
//! The reference is `openssl enc -chacha20` over the file plus `openssl dgst
//! -sha256` over 1.5 times its size: less work than a put, which also
//! erasure-codes, hashes shards into Merkle trees and the stream into its CID.
//! Default coding (4 + 2, 8 MiB segments), encrypted, with each cipher suite.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mosaic_primitives::encryption::{CipherSuite, SecretKey};
use mosaic_primitives::memory::{DiscardShards, MemoryShards};
use mosaic_primitives::pipeline::{self, default_threads, PutOptions};

fn write_input(path: &Path, bytes: u64) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    file.flush()
}

fn time_command(program: &str, args: &[&str]) -> f64 {
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
    started.elapsed().as_secs_f64()
}

fn report(name: &str, bytes: u64, secs: f64) -> f64 {
    let rate = bytes as f64 / 1e6 / secs;
    println!("{name:<44} {secs:>7.2} s {rate:>8.0} MB/s");
    rate
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args
        .next()
        .map_or(1024, |s| s.parse().expect("SIZE_MIB is a number"));
    let dir = args.next().map_or_else(std::env::temp_dir, PathBuf::from);
    let size = mib << 20;
    let input = dir.join("mosaic-throughput.bin");
    let half = dir.join("mosaic-throughput-half.bin");
    write_input(&input, size).expect("write the input file");
    write_input(&half, size / 2).expect("write the half-size file");
    let (input_s, half_s) = (input.to_str().unwrap(), half.to_str().unwrap());
    println!("input: {mib} MiB, {} cores", default_threads());

    // Warm the page cache so that both sides read from memory.
    for path in [&input, &half] {
        std::io::copy(&mut File::open(path).unwrap(), &mut std::io::sink()).unwrap();
    }
    let key = "00".repeat(32);
    let iv = "00".repeat(16);
    let enc = time_command(
        "openssl",
        &[
            "enc",
            "-chacha20",
            "-K",
            &key,
            "-iv",
            &iv,
            "-in",
            input_s,
            "-out",
            "/dev/null",
        ],
    );
    let dgst = time_command("openssl", &["dgst", "-sha256", input_s, half_s]);
    let reference = report("openssl chacha20 (1x) + sha256 (1.5x)", size, enc + dgst);

    let owner = SecretKey::from_seed(&[1; 32]);
    let open = || BufReader::with_capacity(1 << 20, File::open(&input).unwrap());
    for suite in CipherSuite::ALL {
        let mut put_rates = Vec::new();
        for threads in [1, default_threads()] {
            let options = PutOptions {
                threads,
                suite,
                ..PutOptions::encrypted_to(owner.public())
            };
            let started = Instant::now();
            pipeline::put(open(), &options, &mut DiscardShards).unwrap();
            let name = format!("put, {suite}, {threads} thread(s)");
            put_rates.push(report(&name, size, started.elapsed().as_secs_f64()));
        }

        let mut store = MemoryShards::default();
        let options = PutOptions {
            suite,
            ..PutOptions::encrypted_to(owner.public())
        };
        let manifest = pipeline::put(open(), &options, &mut store).unwrap();
        let mut get_rates = Vec::new();
        for threads in [1, default_threads()] {
            let started = Instant::now();
            pipeline::get(&manifest, Some(&owner), &store, std::io::sink(), threads).unwrap();
            let name = format!("get, {suite}, {threads} thread(s)");
            get_rates.push(report(&name, size, started.elapsed().as_secs_f64()));
        }

        println!(
            "  put 1 thread / openssl reference:  {:.2}",
            put_rates[0] / reference
        );
        println!(
            "  put all cores / put 1 thread:      {:.2}",
            put_rates[1] / put_rates[0]
        );
        println!(
            "  get / put, 1 thread:               {:.2}",
            get_rates[0] / put_rates[0]
        );
        println!(
            "  get / put, all cores:              {:.2}",
            get_rates[1] / put_rates[1]
        );
    }
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&half);
}
