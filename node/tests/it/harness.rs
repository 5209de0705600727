//! `mosaic-node` as a child process: started on a temporary base path with
//! ephemeral ports, its stderr forwarded (prefixed) to the test's stderr and
//! kept in a bounded buffer, its JSON-RPC address read from the log line that
//! announces it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use tempfile::TempDir;
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, Notify};

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_mosaic-node");

/// How long a node may take to open its JSON-RPC server (a cold start opens
/// RocksDB and builds the genesis state).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a node may take to exit after SIGTERM, or a subcommand to finish.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Log lines kept per node for failure reports.
const LOG_LINES_KEPT: usize = 400;
/// Lines shown from that buffer in a failure report.
const LOG_LINES_SHOWN: usize = 60;
/// What the node logs, followed by the address, once JSON-RPC is up.
const RPC_LISTENING: &str = "JSON-RPC listening on ";
/// Overrides the node's log filter (`RUST_LOG`) when set.
const LOG_FILTER_VAR: &str = "MOSAIC_IT_NODE_LOG";

/// A running node; dropping it kills the process.
pub struct Node {
    child: Child,
    rpc: SocketAddr,
    logs: Logs,
    // Declared last: removed only after the process is told to die.
    _base_path: Option<TempDir>,
}

impl Node {
    /// A `--dev` node on a fresh temporary base path.
    pub async fn dev() -> Result<Node> {
        Node::start(&["--dev"]).await
    }

    /// A `--dev` node on `base_path`, which outlives it (for restarts).
    pub async fn dev_at(base_path: &Path) -> Result<Node> {
        let base_path = base_path.to_str().context("base path is not UTF-8")?;
        Node::start(&["--dev", "--base-path", base_path]).await
    }

    /// Starts the binary with `args`, adding a temporary `--base-path` unless
    /// `args` name one (or `--tmp`), and port 0 for every server whose port
    /// `args` leave out; returns once JSON-RPC is up.
    pub async fn start(args: &[&str]) -> Result<Node> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let label = format!(
            "{}#{}",
            std::thread::current().name().unwrap_or("node"),
            STARTED.fetch_add(1, Ordering::Relaxed)
        );
        let mut command = Command::new(BINARY);
        command.args(args);
        let base_path = match args.iter().any(|a| *a == "--base-path" || *a == "--tmp") {
            true => None,
            false => Some(tempfile::tempdir()?),
        };
        if let Some(dir) = &base_path {
            command.arg("--base-path").arg(dir.path());
        }
        for flag in ["--rpc-port", "--prometheus-port", "--port"] {
            if !args.contains(&flag) {
                command.args([flag, "0"]);
            }
        }
        let log_filter = std::env::var(LOG_FILTER_VAR).unwrap_or_else(|_| "info".into());
        command
            .env("RUST_LOG", log_filter)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {BINARY}"))?;
        let stderr = child
            .stderr
            .take()
            .context("stderr is piped")?
            .into_owned_fd()?;

        let logs = Logs::default();
        let (rpc_sender, rpc_receiver) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("{label} stderr"))
            .spawn({
                let logs = logs.clone();
                move || forward_stderr(File::from(stderr), &label, &logs, rpc_sender)
            })?;

        let rpc = match tokio::time::timeout(STARTUP_TIMEOUT, rpc_receiver).await {
            Ok(Ok(rpc)) => rpc,
            Ok(Err(_)) => {
                // Stderr closed: the process is exiting.
                let status = tokio::time::timeout(EXIT_TIMEOUT, child.wait()).await;
                bail!(
                    "mosaic-node {args:?} exited ({status:?}) before JSON-RPC was up:\n{}",
                    logs.tail()
                )
            }
            Err(_) => bail!(
                "mosaic-node {args:?} announced no JSON-RPC address within {STARTUP_TIMEOUT:?}:\n{}",
                logs.tail()
            ),
        };
        Ok(Node {
            child,
            rpc,
            logs,
            _base_path: base_path,
        })
    }

    /// Its JSON-RPC server's address.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc
    }

    /// A WebSocket client of its JSON-RPC server.
    pub async fn ws_client(&self) -> Result<WsClient> {
        WsClientBuilder::default()
            .build(format!("ws://{}", self.rpc))
            .await
            .with_context(|| format!("connecting to ws://{}", self.rpc))
    }

    /// An HTTP JSON-RPC client that sends requests up to `max_request_size`
    /// bytes (its own default limit is below the server's).
    pub fn http_client(&self, max_request_size: u32) -> Result<HttpClient> {
        Ok(HttpClientBuilder::default()
            .max_request_size(max_request_size)
            .build(format!("http://{}", self.rpc))?)
    }

    /// The last lines the node logged.
    pub fn recent_logs(&self) -> String {
        self.logs.tail()
    }

    /// Waits up to `timeout` for the node to log a line containing
    /// `pattern`; returns the line.
    pub async fn log_line(&self, pattern: &str, timeout: Duration) -> Result<String> {
        tokio::time::timeout(timeout, self.logs.line_with(pattern))
            .await
            .with_context(|| {
                format!(
                    "no log line with {pattern:?} within {timeout:?}:\n{}",
                    self.logs.tail()
                )
            })
    }

    /// Kills the node with SIGKILL, whatever it is doing, and reaps it.
    pub async fn kill9(mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// Sends SIGTERM and waits for the node to exit.
    pub async fn terminate(mut self) -> Result<ExitStatus> {
        let pid = self.child.id().context("the node already exited")?;
        let kill = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        ensure!(kill.success(), "kill -TERM {pid} failed: {kill}");
        match tokio::time::timeout(EXIT_TIMEOUT, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => bail!(
                "still running {EXIT_TIMEOUT:?} after SIGTERM:\n{}",
                self.logs.tail()
            ),
        }
    }
}

/// Runs a subcommand of the binary to completion; returns its stdout, or
/// fails with its stderr if it does not exit successfully.
pub async fn run_subcommand(args: &[&str]) -> Result<Vec<u8>> {
    let output = Command::new(BINARY)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(EXIT_TIMEOUT, output)
        .await
        .with_context(|| format!("mosaic-node {args:?} still running after {EXIT_TIMEOUT:?}"))??;
    ensure!(
        output.status.success(),
        "mosaic-node {args:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(output.stdout)
}

/// The node's recent log lines, bounded, and a signal for each new one.
#[derive(Clone, Default)]
struct Logs(Arc<(Mutex<VecDeque<String>>, Notify)>);

impl Logs {
    fn push(&self, line: String) {
        let mut lines = self.0 .0.lock().expect("no panics while the lock is held");
        if lines.len() == LOG_LINES_KEPT {
            lines.pop_front();
        }
        lines.push_back(line);
        drop(lines);
        self.0 .1.notify_waiters();
    }

    /// The first kept line containing `pattern`, once the node logs one.
    async fn line_with(&self, pattern: &str) -> String {
        loop {
            let logged = self.0 .1.notified();
            tokio::pin!(logged);
            logged.as_mut().enable();
            let found = {
                let lines = self.0 .0.lock().expect("no panics while the lock is held");
                lines.iter().find(|l| l.contains(pattern)).cloned()
            };
            match found {
                Some(line) => return line,
                None => logged.await,
            }
        }
    }

    fn tail(&self) -> String {
        let lines = self.0 .0.lock().expect("no panics while the lock is held");
        let skip = lines.len().saturating_sub(LOG_LINES_SHOWN);
        lines
            .iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Reads the node's stderr to its end: forwards each line to ours with
/// `label`, keeps it in `logs`, and sends the JSON-RPC address once seen.
fn forward_stderr(stderr: File, label: &str, logs: &Logs, rpc: oneshot::Sender<SocketAddr>) {
    let mut rpc = Some(rpc);
    for line in BufReader::new(stderr).split(b'\n') {
        let Ok(line) = line else { break };
        let line = strip_ansi(&String::from_utf8_lossy(&line));
        eprintln!("[{label}] {line}");
        if let Some(address) = rpc_address(&line) {
            if let Some(sender) = rpc.take() {
                // The receiver is gone only if the start already failed.
                let _ = sender.send(address);
            }
        }
        logs.push(line);
    }
}

/// The address in a `JSON-RPC listening on 127.0.0.1:PORT` line.
fn rpc_address(line: &str) -> Option<SocketAddr> {
    let start = line.find(RPC_LISTENING)? + RPC_LISTENING.len();
    line[start..]
        .split_whitespace()
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()
}

/// `line` without ANSI escape sequences, in case the node colours its logs.
fn strip_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC '[' parameters, ended by a byte in '@'..='~'.
            if chars.next() == Some('[') {
                for end in chars.by_ref() {
                    if ('@'..='~').contains(&end) {
                        break;
                    }
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn the_rpc_address_is_read_from_plain_and_coloured_log_lines() {
    let plain = "2025-01-01T00:00:00Z  INFO mosaic::rpc: JSON-RPC listening on 127.0.0.1:40123";
    assert_eq!(rpc_address(plain), Some("127.0.0.1:40123".parse().unwrap()));
    let coloured = strip_ansi(
        "\u{1b}[2m2025\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m JSON-RPC listening on 127.0.0.1:9944, ws and http",
    );
    assert_eq!(
        rpc_address(&coloured),
        Some("127.0.0.1:9944".parse().unwrap())
    );
    assert_eq!(rpc_address("Prometheus listening on 127.0.0.1:9615"), None);
}
