//! `mosaic encode` and `mosaic decode` of a large file, as a user runs them,
//! against the OpenSSL reference in the same run: a benchmark binary, not a
//! test.
//!
//! ```sh
//! cargo build --release -p mosaic-client
//! MOSAIC_IT_BIN_DIR=target/release cargo run --release -p mosaic-tests --example encode_throughput -- [MiB] [DIR]
//! ```
//!
//! The reference is `openssl enc -chacha20` over the file plus `openssl dgst
//! -sha256` over 1.5 times its size (the input and a half-size file), each
//! pinned to core 0 with `taskset`, as `mosaic encode --threads 1` is. Then
//! each cipher suite: encode pinned to one core, encode on every core, decode
//! pinned to one core, decode on every core, each timed as a whole process
//! (start, read, code, write and fsync every shard file, exit), beside
//! what the disk alone takes to write the shards' bytes (`dd`). Encrypted,
//! default coding (4 + 2, 8 MiB segments); the input is in the page cache,
//! the shards go to DIR (default: the system's temporary directory).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use mosaic_tests::{binary, write_sample};

/// Runs `program args`, pinned to core 0 when `pinned`; answers the seconds
/// it took, start to exit.
fn timed(pinned: bool, program: &Path, args: &[&str]) -> Result<f64> {
    let mut command = if pinned {
        let mut taskset = Command::new("taskset");
        taskset.args(["-c", "0"]).arg(program);
        taskset
    } else {
        Command::new(program)
    };
    let started = Instant::now();
    let output = command
        .args(args)
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        output.status.success(),
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(seconds)
}

fn report(name: &str, bytes: u64, seconds: f64) -> f64 {
    let rate = bytes as f64 / 1e6 / seconds;
    println!("{name:<52} {seconds:>7.2} s {rate:>8.0} MB/s");
    rate
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args.next().map_or(Ok(1024), |a| a.parse())?;
    let dir = args.next().map_or_else(std::env::temp_dir, PathBuf::from);
    let work = tempfile::tempdir_in(&dir)?;
    let bytes = mib << 20;
    let input = work.path().join("input.bin");
    let half = work.path().join("half.bin");
    write_sample(&input, bytes as usize, 7)?;
    write_sample(&half, bytes as usize / 2, 8)?;
    let (input_s, half_s) = (
        input.to_str().context("UTF-8")?,
        half.to_str().context("UTF-8")?,
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "input: {mib} MiB in the page cache; shards to {}; {cores} cores",
        dir.display()
    );
    // Warm the page cache so that every run reads from memory.
    for path in [&input, &half] {
        std::io::copy(&mut std::fs::File::open(path)?, &mut std::io::sink())?;
    }

    let openssl = PathBuf::from("openssl");
    let (key, iv) = ("00".repeat(32), "00".repeat(16));
    let enc = timed(
        true,
        &openssl,
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
    )?;
    let dgst = timed(true, &openssl, &["dgst", "-sha256", input_s, half_s])?;
    let reference = report(
        "reference: openssl chacha20 (1x) + sha256 (1.5x), core 0",
        bytes,
        enc + dgst,
    );

    // What the disk alone gives: the shards' 1.5 times the input written
    // `O_DIRECT` and synced, as encode writes them. When an encode takes
    // about this long, it waits on the disk, not on its own work.
    let disk_file = work.path().join("disk.bin");
    let stages = (bytes * 3 / 2).div_ceil(8 << 20).to_string();
    let disk = timed(
        false,
        Path::new("dd"),
        &[
            "if=/dev/zero",
            &format!("of={}", disk_file.display()),
            "bs=8M",
            &format!("count={stages}"),
            "oflag=direct",
            "conv=fsync",
            "status=none",
        ],
    )?;
    std::fs::remove_file(&disk_file)?;
    report("disk alone: dd 1.5x O_DIRECT + fsync", bytes, disk);

    let mosaic = binary("mosaic")?;
    let key_file = work.path().join("owner.key");
    let key_file = key_file.to_str().context("UTF-8")?;
    timed(false, &mosaic, &["key", "generate", "--out", key_file])?;
    let shards = work.path().join("shards");
    let shards_s = shards.to_str().context("UTF-8")?;
    let output = work.path().join("output.bin");
    let output_s = output.to_str().context("UTF-8")?;

    let mut summary = Vec::new();
    for suite in ["aes-256-gcm", "chacha20-poly1305"] {
        let mut rates = [[0.0; 2]; 2];
        for (column, pinned) in [(0, true), (1, false)] {
            let threads = if pinned { 1 } else { cores }.to_string();
            let label = if pinned {
                "core 0".to_string()
            } else {
                format!("{cores} cores")
            };
            let encode = timed(
                pinned,
                &mosaic,
                &[
                    "encode",
                    input_s,
                    "--to",
                    shards_s,
                    "--key",
                    key_file,
                    "--cipher",
                    suite,
                    "--threads",
                    &threads,
                    "--json",
                ],
            )?;
            rates[0][column] = report(&format!("mosaic encode, {suite}, {label}"), bytes, encode);
            let decode = timed(
                pinned,
                &mosaic,
                &[
                    "decode",
                    shards_s,
                    "--to",
                    output_s,
                    "--key",
                    key_file,
                    "--threads",
                    &threads,
                ],
            )?;
            rates[1][column] = report(&format!("mosaic decode, {suite}, {label}"), bytes, decode);
            ensure!(
                std::fs::read(&output)? == std::fs::read(&input)?,
                "decode gave other bytes"
            );
            std::fs::remove_dir_all(&shards)?;
            std::fs::remove_file(&output)?;
        }
        summary.push((suite, rates));
    }

    println!();
    for (suite, [encode, decode]) in summary {
        println!("{suite}:");
        println!(
            "  encode, core 0 / reference:        {:.2}",
            encode[0] / reference
        );
        println!(
            "  encode, {cores} cores / core 0:         {:.2}",
            encode[1] / encode[0]
        );
        println!(
            "  decode / encode, core 0:           {:.2}",
            decode[0] / encode[0]
        );
        println!(
            "  decode / encode, {cores} cores:          {:.2}",
            decode[1] / encode[1]
        );
    }
    Ok(())
}
