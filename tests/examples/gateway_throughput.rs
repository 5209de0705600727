//! A 1 GiB public file through `mosaic gateway`, beside `mosaic get` of the
//! same file in the same run: a benchmark binary, not a test (issue 14's
//! figures). Six workers, one validator, the gateway and the readers all on
//! this machine, over loopback. Prints, for each way in, the time to the
//! first byte of the file and the rate to its last byte:
//!
//! * `mosaic get CID` (the CLI, writing the file);
//! * the gateway, `GET /ipfs/CID` whole: first (the object is opened: its
//!   DAG index fetched and checked) and again (opened);
//! * the gateway by `Range`: 64 MiB from the middle, and 1 MiB at an odd
//!   offset;
//! * Helia (tests/js/bitswap-rate.mjs) reading the file over Bitswap from
//!   the gateway's libp2p host.
//!
//! Every byte read is compared with the file (Helia's by SHA-256).
//!
//! ```sh
//! scripts/setup.sh --test   # Node 22 and Helia in tests/js
//! cargo build --release -p mosaic-node -p mosaic-worker -p mosaic-client
//! MOSAIC_IT_BIN_DIR=target/release cargo run --release -p mosaic-tests --example gateway_throughput -- [MiB]
//! ```

use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use mosaic_primitives::unixfs::chunk_digest;
use mosaic_tests::bench::{gbps, timed_get};
use mosaic_tests::{js_script, write_sample, Network};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One way of reading (part of) the file: its first byte and last.
struct Read {
    first_byte: Duration,
    seconds: f64,
    bytes: u64,
}

impl Read {
    fn print(&self, what: &str) {
        println!(
            "{what:<44} first byte {:>7.1} ms   {:>7.2} s   {:>6.2} Gbps ({} MiB)",
            self.first_byte.as_secs_f64() * 1e3,
            self.seconds,
            gbps(self.bytes, self.seconds),
            self.bytes >> 20
        );
    }
}

/// `GET path` with `headers` on a new connection, streaming the body and
/// comparing it with `sample` from `offset`; `status` expected.
async fn http_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    status: u16,
    sample: &File,
    offset: u64,
) -> Result<Read> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await?;
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;

    let mut buf = vec![0u8; 1 << 20];
    let mut have = 0;
    let end = loop {
        let n = stream.read(&mut buf[have..]).await?;
        ensure!(n > 0, "{path}: the connection closed within the headers");
        have += n;
        if let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
    };
    let head = std::str::from_utf8(&buf[..end])?.to_ascii_lowercase();
    let got: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status")?;
    ensure!(got == status, "{path}: status {got}, not {status}:\n{head}");
    let length: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("{path}: no Content-Length:\n{head}"))?;

    let mut first_byte = None;
    let mut read = 0u64;
    let mut expected = vec![0u8; buf.len()];
    let mut pending = buf[end + 4..have].to_vec();
    loop {
        if !pending.is_empty() {
            first_byte.get_or_insert_with(|| started.elapsed());
            let want = &mut expected[..pending.len()];
            sample.read_exact_at(want, offset + read)?;
            ensure!(
                *want == pending[..],
                "{path}: other bytes at {}",
                offset + read
            );
            read += pending.len() as u64;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        pending.clear();
        pending.extend_from_slice(&buf[..n]);
    }
    ensure!(read == length, "{path}: {read} bytes of {length}");
    Ok(Read {
        first_byte: first_byte.context("no body")?,
        seconds: started.elapsed().as_secs_f64(),
        bytes: read,
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let mib: u64 = std::env::args().nth(1).map_or(Ok(1024), |a| a.parse())?;
    let bytes = mib << 20;
    let (node, bitswap_rate) = js_script("bitswap-rate.mjs")?;
    let net = Network::start(6, "8GiB").await?;
    let key = net.funded_account("owner", "100000").await?;
    let key = key.to_str().context("UTF-8")?.to_string();
    let sample_path = net.path("sample.bin");
    write_sample(&sample_path, bytes as usize, 7)?;
    let sample_text = sample_path.to_str().context("UTF-8")?;
    let sample = File::open(&sample_path)?;

    let started = Instant::now();
    let put = net
        .mosaic_json(&["put", sample_text, "--key", &key, "--public", "--quiet"])
        .await?;
    let put_seconds = started.elapsed().as_secs_f64();
    let cid = put["cid"].as_str().context("no CID")?.to_string();
    println!(
        "{mib} MiB public file {cid}, 4 + 2 pieces on 6 workers, 1 validator, all on this machine"
    );
    println!(
        "{:<44} {put_seconds:>7.2} s   {:>6.2} Gbps",
        "put --public",
        gbps(bytes, put_seconds)
    );

    let out = net.path("back.bin");
    let get = timed_get(&net, &cid, &out, &[]).await?;
    ensure!(
        std::fs::read(&out)? == std::fs::read(&sample_path)?,
        "mosaic get gave other bytes"
    );
    std::fs::remove_file(&out)?;
    Read {
        first_byte: get.first_byte.unwrap_or_default(),
        seconds: get.seconds,
        bytes,
    }
    .print("mosaic get CID (to a file)");

    let gateway = net.start_gateway(&[]).await?;
    let path = format!("/ipfs/{cid}");
    http_get(gateway.addr, &path, &[], 200, &sample, 0)
        .await?
        .print("gateway GET whole, first (opens the object)");
    http_get(gateway.addr, &path, &[], 200, &sample, 0)
        .await?
        .print("gateway GET whole, again");
    let middle = bytes / 2;
    let span = (64 << 20).min(bytes / 4);
    let range = format!("bytes={middle}-{}", middle + span - 1);
    http_get(
        gateway.addr,
        &path,
        &[("Range", &range)],
        206,
        &sample,
        middle,
    )
    .await?
    .print("gateway Range from the middle (64 MiB)");
    let odd = bytes / 3 + 12345;
    let range = format!("bytes={odd}-{}", odd + (1 << 20) - 1);
    http_get(gateway.addr, &path, &[("Range", &range)], 206, &sample, odd)
        .await?
        .print("gateway Range 1 MiB at an odd offset");

    let run = tokio::process::Command::new(&node)
        .arg(&bitswap_rate)
        .args([&gateway.p2p_addr, &cid])
        .current_dir(bitswap_rate.parent().context("tests/js")?)
        .kill_on_drop(true)
        .output()
        .await?;
    if !run.status.success() {
        bail!("Helia failed: {}", String::from_utf8_lossy(&run.stderr));
    }
    let stdout = String::from_utf8_lossy(&run.stdout);
    let helia: serde_json::Value =
        serde_json::from_str(stdout.lines().last().context("Helia printed nothing")?)?;
    ensure!(helia["bytes"] == bytes, "Helia read {helia}");
    let digest = hex::encode(chunk_digest(&std::fs::read(&sample_path)?));
    ensure!(helia["sha256"] == digest, "Helia read other bytes: {helia}");
    Read {
        first_byte: Duration::from_secs_f64(helia["firstByteMs"].as_f64().unwrap_or(0.0) / 1e3),
        seconds: helia["seconds"].as_f64().context("seconds")?,
        bytes,
    }
    .print("Helia over Bitswap (dial to last byte)");
    Ok(())
}
