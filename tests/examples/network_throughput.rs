//! Put and get of a large file over loopback with six workers: a benchmark
//! binary, not a test. Prints put and get throughput, get's time to first
//! byte, the offline pipeline's rate on the same file, and the peak
//! resident memory of the client and of the workers.
//!
//! ```sh
//! cargo build --release -p mosaic-node -p mosaic-worker -p mosaic-client
//! MOSAIC_IT_BIN_DIR=target/release cargo run --release -p mosaic-tests --example network_throughput -- [MiB]
//! ```

use std::time::Instant;

use anyhow::{Context, Result};
use mosaic_tests::bench::{gbps, peak_kib, timed_get};
use mosaic_tests::{binary, write_sample, Network};

#[tokio::main]
async fn main() -> Result<()> {
    let mib: u64 = std::env::args().nth(1).map_or(Ok(1024), |a| a.parse())?;
    let bytes = mib << 20;
    let net = Network::start(6, "8GiB").await?;
    let key = net.funded_account("owner", "100000").await?;
    let key = key.to_str().context("UTF-8")?.to_string();
    let sample = net.path("sample.bin");
    write_sample(&sample, bytes as usize, 3)?;
    let sample = sample.to_str().context("UTF-8")?.to_string();
    let mosaic = binary("mosaic")?.display().to_string();

    // The offline pipeline on the same file.
    let shards = net.path("shards");
    let started = Instant::now();
    net.mosaic(&[
        "encode",
        &sample,
        "--to",
        shards.to_str().unwrap(),
        "--key",
        &key,
    ])
    .await?;
    let encode = started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&shards)?;

    // put, under /usr/bin/time for the client's peak memory.
    let rpc = net.rpc.clone();
    let started = Instant::now();
    let put = tokio::process::Command::new("/usr/bin/time")
        .args([
            "-f", "%M", &mosaic, "put", &sample, "--key", &key, "--rpc", &rpc, "--json", "--quiet",
        ])
        .output()
        .await?;
    let put_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        put.status.success(),
        "{}",
        String::from_utf8_lossy(&put.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&put.stdout)
            .lines()
            .last()
            .context("output")?,
    )?;
    let order = report["order"].as_u64().context("order")?.to_string();
    let workers_peak: Vec<u64> = net
        .workers
        .iter()
        .filter_map(|w| w.process.as_ref()?.peak_rss_kib())
        .collect();

    // get, watching the output for its first byte.
    let out = net.path("back.bin");
    let get = timed_get(&net, &order, &out, &["--key", &key]).await?;
    anyhow::ensure!(
        std::fs::read(&out)? == std::fs::read(&sample)?,
        "get gave other bytes"
    );

    println!(
        "{mib} MiB over loopback, 4 + 2 pieces on 6 workers, 1 validator, all on this machine"
    );
    println!(
        "offline encode (mosaic encode): {encode:.2} s, {:.2} Gbps",
        gbps(bytes, encode)
    );
    println!(
        "put (quote, order, upload, confirmations): {put_seconds:.2} s, {:.2} Gbps; client peak RSS {} MiB",
        gbps(bytes, put_seconds),
        peak_kib(&put.stderr).unwrap_or(0) / 1024
    );
    println!(
        "worker peak RSS during the put: {} MiB (largest of {:?})",
        workers_peak.iter().max().copied().unwrap_or(0) / 1024,
        workers_peak.iter().map(|k| k / 1024).collect::<Vec<_>>()
    );
    println!(
        "get: {:.2} s, {:.2} Gbps; first byte after {:.0} ms; client peak RSS {} MiB",
        get.seconds,
        gbps(bytes, get.seconds),
        get.first_byte.unwrap_or_default().as_secs_f64() * 1e3,
        get.peak_kib.unwrap_or(0) / 1024
    );
    Ok(())
}
