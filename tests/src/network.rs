//! A development network: one `--dev` validator and storage workers
//! registered with the dev accounts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use mosaic_api::chain::ChainClient;
use mosaic_api::keys::AccountKey;
use tempfile::TempDir;

use crate::process::{binary, free_port, run, Process};

/// The dev accounts that act as providers (endowed in the `dev` genesis).
pub const DEV_PROVIDERS: [&str; 8] = [
    "//Bob",
    "//Charlie",
    "//Dave",
    "//Eve",
    "//Ferdie",
    "//Bob//stash",
    "//Charlie//stash",
    "//Dave//stash",
];

/// How long a node or worker may take to come up.
const STARTUP: Duration = Duration::from_secs(180);

/// A worker of the network: its account, base path and port, and its
/// process while it runs.
pub struct WorkerSlot {
    /// The provider account's secret URI.
    pub suri: &'static str,
    /// Its base path (identity and pieces), kept across restarts.
    pub base_path: PathBuf,
    /// The port it listens on (registered on chain).
    pub port: u16,
    /// The running process, if any.
    pub process: Option<Process>,
    /// Its Prometheus endpoint while it runs.
    pub metrics: Option<std::net::SocketAddr>,
}

impl WorkerSlot {
    /// The provider's account key.
    pub fn key(&self) -> AccountKey {
        AccountKey::from_suri(self.suri).expect("dev URIs derive hard; qed")
    }

    /// Its Prometheus metrics, as text.
    pub async fn metrics_text(&self) -> Result<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.metrics.context("the worker is not running")?;
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut text = String::new();
        tokio::time::timeout(STARTUP, stream.read_to_string(&mut text)).await??;
        Ok(text)
    }

    /// Where its held pieces' data files are.
    pub fn pieces_dir(&self) -> PathBuf {
        self.base_path.join("store").join("pieces")
    }
}

/// A running development network.
pub struct Network {
    /// The validator.
    pub node: Process,
    /// Its JSON-RPC address, `ws://…`.
    pub rpc: String,
    rpc_port: u16,
    /// The workers, by index.
    pub workers: Vec<WorkerSlot>,
    /// The chain spec the node runs, when not the embedded `dev` one.
    spec: Option<PathBuf>,
    /// Seconds between the starts of the workers' scrub passes.
    scrub_interval_secs: String,
    /// Scratch space for the test (files, keys).
    pub dir: TempDir,
}

impl Network {
    /// Starts a validator and `workers` workers, each registered with
    /// `capacity` and running.
    pub async fn start(workers: usize, capacity: &str) -> Result<Network> {
        Self::start_with(&vec![capacity; workers], &[], 3600).await
    }

    /// Starts a validator and one worker per entry of `capacities`, each
    /// registered with that capacity and running, scrubbing its store
    /// every `scrub_interval_secs`. The chain is the `dev` one with
    /// `parameters` (chain parameters by their JSON name, e.g.
    /// `("confirmWindow", 10)`) set.
    pub async fn start_with(
        capacities: &[&str],
        parameters: &[(&str, u32)],
        scrub_interval_secs: u32,
    ) -> Result<Network> {
        let dir = tempfile::tempdir()?;
        let spec = match parameters {
            [] => None,
            parameters => Some(dev_spec_with(dir.path(), parameters).await?),
        };
        // A fixed RPC port, so that the workers find a restarted node.
        let rpc_port = free_port()?;
        let rpc = format!("ws://127.0.0.1:{rpc_port}");
        let node = start_node(dir.path(), rpc_port, spec.as_deref()).await?;
        let mut network = Network {
            node,
            rpc,
            rpc_port,
            workers: Vec::new(),
            spec,
            scrub_interval_secs: scrub_interval_secs.to_string(),
            dir,
        };
        let worker = binary("mosaic-worker")?;
        let mut registrations = Vec::new();
        for (suri, capacity) in DEV_PROVIDERS.iter().zip(capacities) {
            let slot = WorkerSlot {
                suri,
                base_path: network
                    .dir
                    .path()
                    .join(format!("worker-{}", suri.replace('/', ""))),
                port: free_port()?,
                process: None,
                metrics: None,
            };
            let listen = slot.listen();
            let args = [
                "register".to_string(),
                "--rpc".into(),
                network.rpc.clone(),
                "--suri".into(),
                suri.to_string(),
                "--base-path".into(),
                slot.base_path.display().to_string(),
                "--listen".into(),
                listen,
                "--capacity".into(),
                capacity.to_string(),
            ];
            let worker = worker.clone();
            registrations.push(tokio::spawn(async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run(&worker, &args).await
            }));
            network.workers.push(slot);
        }
        for registration in registrations {
            registration.await??;
        }
        for index in 0..network.workers.len() {
            network.start_worker(index).await?;
        }
        Ok(network)
    }

    /// Stops the validator (SIGTERM) and starts it again on the same
    /// database and RPC port.
    pub async fn restart_node(&mut self) -> Result<()> {
        self.node.terminate().await?;
        self.node = start_node(self.dir.path(), self.rpc_port, self.spec.as_deref()).await?;
        Ok(())
    }

    /// Starts (or restarts) worker `index` and waits until it serves.
    pub async fn start_worker(&mut self, index: usize) -> Result<()> {
        let slot = &mut self.workers[index];
        let base = slot.base_path.display().to_string();
        let listen = slot.listen();
        let mut process = Process::spawn(
            &binary("mosaic-worker")?,
            &[
                "run",
                "--rpc",
                &self.rpc,
                "--suri",
                slot.suri,
                "--base-path",
                &base,
                "--listen",
                &listen,
                "--prometheus-port",
                "0",
                "--scrub-interval-secs",
                &self.scrub_interval_secs,
            ],
            &format!("worker{index}"),
        )?;
        let line = process
            .wait_for_log("Prometheus listening on ", STARTUP)
            .await?;
        slot.metrics = line
            .split("Prometheus listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok());
        process.wait_for_log("serving on", STARTUP).await?;
        slot.process = Some(process);
        Ok(())
    }

    /// Freezes (`STOP`) or thaws (`CONT`) worker `index`'s process.
    pub async fn signal_worker(&self, index: usize, signal: &str) -> Result<()> {
        self.workers[index]
            .process
            .as_ref()
            .context("the worker is not running")?
            .signal(signal)
            .await
    }

    /// Stops worker `index` (SIGTERM).
    pub async fn stop_worker(&mut self, index: usize) -> Result<()> {
        self.workers[index].metrics = None;
        if let Some(mut process) = self.workers[index].process.take() {
            process.terminate().await?;
        }
        Ok(())
    }

    /// A connection to the node.
    pub async fn chain(&self) -> Result<ChainClient> {
        Ok(ChainClient::connect(&self.rpc).await?)
    }

    /// `args` with the node's address, for the commands that talk to it.
    fn with_rpc<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = args.to_vec();
        if !matches!(args.first(), Some(&("key" | "cid" | "encode" | "decode"))) {
            all.extend(["--rpc", &self.rpc]);
        }
        all
    }

    /// Runs the `mosaic` CLI against the node; answers stdout.
    pub async fn mosaic(&self, args: &[&str]) -> Result<String> {
        let output = run(&binary("mosaic")?, &self.with_rpc(args)).await?;
        Ok(String::from_utf8(output.stdout)?)
    }

    /// Runs the `mosaic` CLI against the node, whatever its exit status;
    /// answers (success, stdout, stderr).
    pub async fn mosaic_unchecked(&self, args: &[&str]) -> Result<(bool, String, String)> {
        let output =
            crate::process::run_unchecked(&binary("mosaic")?, &self.with_rpc(args)).await?;
        Ok((
            output.status.success(),
            String::from_utf8(output.stdout)?,
            String::from_utf8(output.stderr)?,
        ))
    }

    /// Stores `path` (a file or directory) public as 2 + 1 pieces, signed
    /// with the key file `owner`; `mosaic put --json`'s answer.
    pub async fn put_public(&self, path: &str, owner: &str) -> Result<serde_json::Value> {
        self.mosaic_json(&put_public_args(path, owner)).await
    }

    /// The last line of `mosaic … --json` output, parsed.
    pub async fn mosaic_json(&self, args: &[&str]) -> Result<serde_json::Value> {
        let mut all = args.to_vec();
        all.push("--json");
        let stdout = self.mosaic(&all).await?;
        let last = stdout.lines().last().context("no output")?;
        serde_json::from_str(last).with_context(|| format!("not JSON: {last}"))
    }

    /// `mosaic-worker status --json` of worker `index`'s provider, with
    /// what the worker found (`--base-path`), parsed.
    pub async fn worker_status(&self, index: usize) -> Result<serde_json::Value> {
        let address = self.workers[index].key().address();
        let base = self.workers[index].base_path.display().to_string();
        let args = [
            "status",
            "--account-address",
            &address,
            "--rpc",
            &self.rpc,
            "--base-path",
            &base,
            "--json",
        ];
        let output = run(&binary("mosaic-worker")?, &args).await?;
        let stdout = String::from_utf8(output.stdout)?;
        let last = stdout.lines().last().context("no output")?;
        serde_json::from_str(last).with_context(|| format!("not JSON: {last}"))
    }

    /// A new key file `<name>.key` in the scratch directory whose account
    /// //Alice sent `tokens`; answers its path.
    pub async fn funded_account(&self, name: &str, tokens: &str) -> Result<PathBuf> {
        let path = self.path(&format!("{name}.key"));
        let text = path.to_str().context("UTF-8 path")?;
        self.mosaic(&["key", "generate", "--out", text]).await?;
        let address = AccountKey::load(&path)?.address();
        self.mosaic(&[
            "transfer", "--suri", "//Alice", "--to", &address, "--amount", tokens,
        ])
        .await?;
        Ok(path)
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The index of the worker of `account` (SS58).
    pub fn worker_of(&self, account: &str) -> Option<usize> {
        self.workers
            .iter()
            .position(|w| w.key().address() == account)
    }
}

impl WorkerSlot {
    fn listen(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}", self.port)
    }
}

/// Writes `len` pseudo-random bytes from `seed` to `path`.
pub fn write_sample(path: &Path, len: usize, seed: u64) -> Result<()> {
    let mut state = seed | 1;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(path, bytes)?;
    Ok(())
}

/// Writes the `dev` chain spec with `parameters` set under `dir`; answers
/// its path.
async fn dev_spec_with(dir: &Path, parameters: &[(&str, u32)]) -> Result<PathBuf> {
    let output = run(&binary("mosaic-node")?, &["build-spec", "--dev"]).await?;
    let mut spec: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let genesis = spec
        .pointer_mut("/genesis/runtimeGenesis/patch/parameters/parameters")
        .context("the dev spec names its chain parameters")?;
    for (name, value) in parameters {
        anyhow::ensure!(genesis.get(name).is_some(), "no chain parameter {name}");
        genesis[name] = (*value).into();
    }
    let path = dir.join("spec.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    Ok(path)
}

/// Starts a `--dev` validator (of `spec`, else the embedded `dev` chain)
/// with its database under `dir` and JSON-RPC on `rpc_port`, and waits
/// until it serves.
async fn start_node(dir: &Path, rpc_port: u16, spec: Option<&Path>) -> Result<Process> {
    let base = dir.join("node");
    let base = base.to_str().context("UTF-8 path")?;
    let rpc_port = rpc_port.to_string();
    let mut args = vec![
        "--dev",
        "--base-path",
        base,
        "--rpc-port",
        &rpc_port,
        "--port",
        "0",
        "--prometheus-port",
        "0",
    ];
    if let Some(spec) = spec {
        args.extend(["--chain", spec.to_str().context("UTF-8 path")?]);
    }
    let mut node = Process::spawn(&binary("mosaic-node")?, &args, "node")?;
    node.wait_for_log("JSON-RPC listening on ", STARTUP).await?;
    Ok(node)
}

/// The `mosaic put` arguments of [`Network::put_public`].
pub fn put_public_args<'a>(path: &'a str, owner: &'a str) -> [&'a str; 9] {
    [
        "put",
        path,
        "--key",
        owner,
        "--public",
        "--data-shards",
        "2",
        "--parity-shards",
        "1",
    ]
}
