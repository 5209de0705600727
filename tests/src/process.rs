//! Child processes with their logs.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// Takes the binaries from this directory instead of building them.
const BIN_DIR_VAR: &str = "MOSAIC_IT_BIN_DIR";
/// Log lines kept per process.
const LOG_LINES_KEPT: usize = 2000;
/// Lines shown in a failure report.
const LOG_LINES_SHOWN: usize = 60;
/// How long a process may take to exit after SIGTERM, or a command to run.
const EXIT_TIMEOUT: Duration = Duration::from_secs(300);

/// The path of a workspace binary (`mosaic-node`, `mosaic-worker`,
/// `mosaic`), built first if this process has not done so yet (or taken
/// from `$MOSAIC_IT_BIN_DIR`).
pub fn binary(name: &str) -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(|| {
            if let Ok(dir) = std::env::var(BIN_DIR_VAR) {
                return Ok(PathBuf::from(dir));
            }
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                // The same selection, profile and so features as `cargo test
                // --workspace`: a no-op after it, where building only the
                // three packages would unify features differently and
                // rebuild part of the tree.
                .args([
                    "build",
                    "--workspace",
                    "--profile",
                    "test",
                    "--bins",
                    "--tests",
                ])
                .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
                .status()
                .map_err(|e| format!("running cargo build: {e}"))?;
            if !status.success() {
                return Err(format!("cargo build of the binaries failed: {status}"));
            }
            // This test binary is `<target>/debug/deps/it-…`.
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            exe.parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .ok_or_else(|| "no target directory above the test binary".into())
        })
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = dir.join(name);
    ensure!(path.exists(), "{} was not built", path.display());
    Ok(path)
}

/// A free TCP port on loopback (for a listener that must be named up front).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs `binary` with `args` to completion; fails with its stderr if it
/// does not succeed.
pub async fn run(binary: &Path, args: &[&str]) -> Result<Output> {
    let output = run_unchecked(binary, args).await?;
    ensure!(
        output.status.success(),
        "{} {args:?} failed ({}):\n{}",
        binary.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(output)
}

/// Runs `binary` with `args` to completion, whatever its exit status.
pub async fn run_unchecked(binary: &Path, args: &[&str]) -> Result<Output> {
    let output = Command::new(binary)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(EXIT_TIMEOUT, output)
        .await
        .with_context(|| {
            format!(
                "{} {args:?} still running after {EXIT_TIMEOUT:?}",
                binary.display()
            )
        })?
        .with_context(|| format!("running {}", binary.display()))
}

#[derive(Default)]
struct Logs {
    lines: Mutex<VecDeque<String>>,
    /// Lines seen in all, so a waiter knows what is new.
    seen: Mutex<usize>,
    changed: Notify,
}

/// A running child process; dropping it kills it.
pub struct Process {
    child: Child,
    label: String,
    logs: Arc<Logs>,
}

impl Process {
    /// Starts `binary` with `args`, labelling its log lines with `label`.
    pub fn spawn(binary: &Path, args: &[&str], label: &str) -> Result<Process> {
        let mut child = Command::new(binary)
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("MOSAIC_IT_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let stderr = child
            .stderr
            .take()
            .context("stderr is piped")?
            .into_owned_fd()?;
        let logs = Arc::new(Logs::default());
        let forward = logs.clone();
        let name = label.to_string();
        std::thread::Builder::new()
            .name(format!("{label} stderr"))
            .spawn(move || {
                for line in BufReader::new(File::from(stderr)).lines() {
                    let Ok(line) = line else { break };
                    eprintln!("[{name}] {line}");
                    let mut lines = forward.lines.lock().expect("not poisoned");
                    if lines.len() == LOG_LINES_KEPT {
                        lines.pop_front();
                    }
                    lines.push_back(line);
                    *forward.seen.lock().expect("not poisoned") += 1;
                    drop(lines);
                    forward.changed.notify_waiters();
                }
                forward.changed.notify_waiters();
            })?;
        Ok(Process {
            child,
            label: label.into(),
            logs,
        })
    }

    /// Waits until a log line (already logged or new) contains `needle`;
    /// answers the line.
    pub async fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<String> {
        let wait = async {
            loop {
                let notified = self.logs.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(line) = self
                    .logs
                    .lines
                    .lock()
                    .expect("not poisoned")
                    .iter()
                    .find(|l| l.contains(needle))
                {
                    return Ok(line.clone());
                }
                if let Ok(Some(status)) = self.child.try_wait() {
                    bail!("{} exited ({status}) before logging {needle:?}", self.label);
                }
                notified.await;
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result.with_context(|| self.tail()),
            Err(_) => bail!(
                "{} logged no {needle:?} within {timeout:?}:\n{}",
                self.label,
                self.tail()
            ),
        }
    }

    /// Whether a line containing `needle` was logged.
    pub fn logged(&self, needle: &str) -> bool {
        self.logs
            .lines
            .lock()
            .expect("not poisoned")
            .iter()
            .any(|l| l.contains(needle))
    }

    /// The last lines logged.
    pub fn tail(&self) -> String {
        let lines = self.logs.lines.lock().expect("not poisoned");
        let skip = lines.len().saturating_sub(LOG_LINES_SHOWN);
        lines
            .iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Its peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    /// Sends a signal by name (`STOP`, `CONT`, `TERM`).
    pub async fn signal(&self, name: &str) -> Result<()> {
        let pid = self.child.id().context("already exited")?;
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .await?;
        ensure!(status.success(), "kill -{name} {pid} failed");
        Ok(())
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(&mut self) -> Result<()> {
        self.signal("TERM").await?;
        tokio::time::timeout(EXIT_TIMEOUT, self.child.wait())
            .await
            .with_context(|| format!("{} still running after SIGTERM", self.label))??;
        Ok(())
    }

    /// Kills with SIGKILL and reaps.
    pub async fn kill9(mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}
