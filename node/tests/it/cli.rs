//! The subcommands: `build-spec` prints the chain specs the node runs, and
//! `purge-chain` removes a base path's database.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use mosaic_chain_spec::{ChainSpec, Genesis, RuntimeGenesis};
use polkadot_sdk::sp_keyring::Sr25519Keyring::Alice;
use serde_json::Value;

use crate::harness::{run_subcommand, Node};
use crate::rpc::{account_key, block_hash, to_hex, wait_for_block, BLOCK_WAIT};

#[tokio::test(flavor = "multi_thread")]
async fn build_spec_prints_the_raw_dev_spec_and_the_local_spec() -> Result<()> {
    let raw = run_subcommand(&["build-spec", "--chain", "dev", "--raw"]).await?;
    let json: Value = serde_json::from_slice(&raw).context("build-spec --raw output")?;
    assert_eq!(json["name"], "Development");
    assert_eq!(json["chainType"], "Development");
    let top = json["genesis"]["raw"]["top"]
        .as_object()
        .context("no genesis.raw.top")?;
    // The runtime is compiled in: no wasm code in genesis.
    assert!(!top.contains_key(&to_hex(b":code")), "genesis holds :code");
    assert!(
        top.contains_key(&to_hex(account_key(&Alice.to_account_id()))),
        "Alice is not endowed"
    );
    let spec = ChainSpec::from_json(&raw)?;
    assert_eq!(
        spec.genesis_header()?.hash(),
        ChainSpec::dev().genesis_header()?.hash(),
        "the printed dev genesis differs from the node's"
    );

    let local = ChainSpec::from_json(&run_subcommand(&["build-spec", "--chain", "local"]).await?)?;
    assert!(
        matches!(
            local.genesis,
            Genesis::RuntimeGenesis(RuntimeGenesis::Patch(_))
        ),
        "build-spec without --raw prints a raw genesis"
    );
    assert_eq!(
        local.genesis_header()?.hash(),
        ChainSpec::local().genesis_header()?.hash()
    );
    Ok(())
}

/// Directories under `root` holding a RocksDB database (its `CURRENT` file).
fn databases(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else if entry.file_name() == "CURRENT" {
                found.push(dir.clone());
            }
        }
    }
    Ok(found)
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_chain_removes_the_database() -> Result<()> {
    let base_path = tempfile::tempdir()?;
    let base = base_path
        .path()
        .to_str()
        .context("base path is not UTF-8")?;
    let node = Node::dev_at(base_path.path()).await?;
    let client = node.ws_client().await?;
    wait_for_block(&client, 1, BLOCK_WAIT).await?;
    let first = block_hash(&client, 1).await?.context("no block 1")?;
    drop(client);
    let status = node.terminate().await?;
    ensure!(status.success(), "SIGTERM exit: {status}");
    ensure!(
        !databases(base_path.path())?.is_empty(),
        "no database under {base}"
    );

    run_subcommand(&["purge-chain", "--chain", "dev", "--base-path", base, "-y"]).await?;
    let left = databases(base_path.path())?;
    ensure!(left.is_empty(), "purge-chain left {left:?}");

    // The chain starts again from genesis: block 1 is a new block.
    let node = Node::dev_at(base_path.path()).await?;
    let client = node.ws_client().await?;
    wait_for_block(&client, 1, BLOCK_WAIT).await?;
    let again = block_hash(&client, 1).await?.context("no block 1")?;
    ensure!(again != first, "block 1 survived purge-chain");
    Ok(())
}
