//! What the benchmark binaries (`tests/examples`) share: rates, peak
//! memory of a child run under `/usr/bin/time`, and a timed `mosaic get`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};

use crate::network::Network;
use crate::process::binary;

/// Gigabits per second.
pub fn gbps(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 * 8.0 / seconds / 1e9
}

/// The peak resident set in KiB that `/usr/bin/time -f %M` prints last.
pub fn peak_kib(stderr: &[u8]) -> Option<u64> {
    String::from_utf8_lossy(stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

/// A finished, timed `mosaic get`.
pub struct TimedGet {
    /// From the start to the exit.
    pub seconds: f64,
    /// Until the first byte reached the partial output, if seen.
    pub first_byte: Option<Duration>,
    /// The client's peak resident set, KiB.
    pub peak_kib: Option<u64>,
}

/// Runs `mosaic get TARGET --to OUT` (with `extra` arguments) under
/// `/usr/bin/time`, watching the partial output (`.NAME.part` beside
/// `out`) for its first byte.
pub async fn timed_get(
    net: &Network,
    target: &str,
    out: &Path,
    extra: &[&str],
) -> Result<TimedGet> {
    let mosaic = binary("mosaic")?.display().to_string();
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    let partial = out.with_file_name(format!(".{name}.part"));
    let out_text = out.display().to_string();
    let mut args = vec![
        "-f", "%M", &mosaic, "get", target, "--to", &out_text, "--rpc", &net.rpc, "--quiet",
    ];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let mut get = tokio::process::Command::new("/usr/bin/time")
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut first_byte = None;
    while first_byte.is_none() {
        if std::fs::metadata(&partial).is_ok_and(|m| m.len() > 0) || out.exists() {
            first_byte = Some(started.elapsed());
        }
        if get.try_wait()?.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let get = get.wait_with_output().await?;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        get.status.success(),
        "{}",
        String::from_utf8_lossy(&get.stderr)
    );
    Ok(TimedGet {
        seconds,
        first_byte,
        peak_kib: peak_kib(&get.stderr),
    })
}
