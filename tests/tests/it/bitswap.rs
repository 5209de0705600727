//! The gateway's libp2p host seen by an independent IPFS implementation
//! (issue 14): Helia (tests/js/bitswap.mjs, with only TCP, noise, yamux,
//! Identify, Ping, a kad-dht client and Bitswap) dials the host, finds it
//! through the DHT as a provider of a public directory's root CID, reads a
//! file of it over Bitswap, fetches an inner dag-pb block raw, and finds
//! the host again as the provider of blocks of the directory it never
//! fetched (every block of an opened object is provided). The bytes match
//! what was stored.

use std::ffi::OsStr;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use cid::Cid;
use mosaic_client::ipfs_p2p;
use mosaic_client::public_blocks::{PublicBlocks, PublicConfig};
use mosaic_tests::{run_js, write_sample, Network};

/// How long Helia may take for all of it.
const HELIA_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread")]
async fn helia_finds_the_host_through_kad_and_fetches_over_bitswap() -> Result<()> {
    let net = Network::start(3, "1GiB").await?;
    let owner = net.funded_account("owner", "1000").await?;
    let owner = owner.to_str().context("UTF-8")?;
    let tree = net.path("tree");
    std::fs::create_dir_all(tree.join("data"))?;
    // Six 256 KiB leaves under one dag-pb node, and a file of one leaf.
    write_sample(&tree.join("data/big.bin"), 1_400_000, 5)?;
    write_sample(&tree.join("note.txt"), 2_000, 6)?;
    let tree_text = tree.to_str().context("UTF-8")?;
    let big = tree.join("data/big.bin");
    let root = net.mosaic(&["cid", tree_text]).await?.trim().to_string();
    let inner = net
        .mosaic(&["cid", big.to_str().context("UTF-8")?])
        .await?
        .trim()
        .to_string();
    net.put_public(tree_text, owner).await?;

    let blocks = PublicBlocks::new(net.chain().await?, PublicConfig::default()).await?;
    let host = ipfs_p2p::start(
        mosaic_shard_net::Keypair::generate_ed25519(),
        vec!["/ip4/127.0.0.1/tcp/0".parse()?],
        blocks.clone(),
    )
    .await?;
    let addrs = host.listen_addrs();
    let addr = addrs
        .first()
        .context("the host listens nowhere")?
        .to_string();
    ensure!(
        addr.ends_with(&format!("/p2p/{}", host.peer_id())),
        "{addr} does not name the host"
    );

    let file_out = net.path("helia-big.bin");
    let block_out = net.path("helia-inner.block");
    let args = [addr.as_str(), &root, "data/big.bin", &inner]
        .map(OsStr::new)
        .into_iter()
        .chain([file_out.as_os_str(), block_out.as_os_str()]);
    let stdout = run_js("bitswap.mjs", args, HELIA_TIMEOUT).await?;
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().context("Helia printed nothing")?)
            .with_context(|| format!("Helia printed {stdout}"))?;

    // Found through the DHT, with the address it was dialled at.
    ensure!(
        summary["provider"] == host.peer_id().to_string(),
        "{summary}"
    );
    let provider_addrs = summary["providerAddrs"].as_array().context("addresses")?;
    ensure!(
        provider_addrs
            .iter()
            .any(|a| addr.starts_with(a.as_str().unwrap_or("-"))),
        "the provider record names {provider_addrs:?}, not {addr}"
    );
    // The file, read block by block over Bitswap from no one else.
    ensure!(
        std::fs::read(&file_out)? == std::fs::read(&big)?,
        "the file Helia read differs"
    );
    ensure!(
        summary["connections"] == serde_json::json!([host.peer_id().to_string()]),
        "{summary}"
    );
    // The inner node, raw, as the host serves it and hashing to its CID.
    let inner_cid: Cid = inner.parse()?;
    let served = blocks
        .block(&inner_cid)
        .await?
        .context("the host does not have the inner block")?;
    ensure!(
        std::fs::read(&block_out)? == served,
        "the raw block differs"
    );
    ensure!(summary["blockMatchesCid"] == true, "{summary}");
    host.stop().await;
    Ok(())
}
