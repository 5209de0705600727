//! Restarts on the same base path: after SIGTERM the node resumes from the
//! block it stopped at, with the same state; after SIGKILL at any moment of
//! authoring the database is consistent and holds every finalized block.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use jsonrpsee::ws_client::WsClient;
use mosaic_runtime::{BlockNumber, Header};
use polkadot_sdk::frame_support::storage::storage_prefix;
use polkadot_sdk::sp_keyring::Sr25519Keyring::Alice;

use crate::harness::Node;
use crate::rpc::{
    account_key, best_header, block_hash, block_number_key, finalized_header, next_matching,
    received, storage, storage_raw, subscribe_heads, wait_for_block, Heads, BLOCK_WAIT,
};

/// How many times the node is killed in the middle of its work.
const KILLS: usize = 2;
/// How long a subscription may linger once its node has exited.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// The values of [`sample_keys`] in one block's state.
type StateSample = Vec<Option<Vec<u8>>>;

/// Keys whose values differ from block to block or are written at genesis.
fn sample_keys() -> Vec<Vec<u8>> {
    vec![
        block_number_key().to_vec(),
        storage_prefix(b"Timestamp", b"Now").to_vec(),
        account_key(&Alice.to_account_id()),
    ]
}

/// The node resumed from `tip`, the last block known before it stopped: `tip`
/// is still on the best chain, the state of block `sampled` reads as `state`
/// did, and production goes on from there.
async fn resumed_from(
    client: &WsClient,
    tip: &Header,
    sampled: &Header,
    state: &[Option<Vec<u8>>],
) -> Result<()> {
    let best = best_header(client).await?;
    ensure!(
        best.number >= tip.number,
        "restarted at block {} below block {}",
        best.number,
        tip.number
    );
    for block in [tip, sampled] {
        ensure!(
            block_hash(client, block.number).await? == Some(block.hash()),
            "block {} is no longer on the best chain",
            block.number
        );
    }
    assert_eq!(
        sample_state(client, sampled).await?,
        state,
        "the state of block {} changed",
        sampled.number
    );
    let next = wait_for_block(client, best.number + 1, BLOCK_WAIT).await?;
    ensure!(
        block_hash(client, tip.number).await? == Some(tip.hash()),
        "block {} was replaced once production resumed",
        tip.number
    );
    if next.number == tip.number + 1 {
        assert_eq!(next.parent_hash, tip.hash());
    }
    Ok(())
}

/// The values of [`sample_keys`] in the state of `head`.
async fn sample_state(client: &WsClient, head: &Header) -> Result<StateSample> {
    let mut values = Vec::new();
    for key in sample_keys() {
        values.push(storage_raw(client, &key, Some(head.hash())).await?);
    }
    ensure!(
        values.iter().all(Option::is_some),
        "sample keys unset at block {}: {values:?}",
        head.number
    );
    Ok(values)
}

#[tokio::test(flavor = "multi_thread")]
async fn after_sigterm_the_node_resumes_with_the_same_best_block_and_state() -> Result<()> {
    let base_path = tempfile::tempdir()?;
    let node = Node::dev_at(base_path.path()).await?;
    let client = node.ws_client().await?;
    let mut heads = subscribe_heads(&client, Heads::New).await?;
    let head = next_matching(&mut heads, BLOCK_WAIT, |h| h.number >= 2).await?;
    let state = sample_state(&client, &head).await?;

    let status = node.terminate().await?;
    ensure!(status.success(), "SIGTERM exit: {status}");
    // A block announced before the connection closed is the best one.
    let mut tip = head.clone();
    while let Ok(Some(Ok(announced))) = tokio::time::timeout(CLOSE_WAIT, heads.next()).await {
        tip = announced;
    }
    drop(client);

    let node = Node::dev_at(base_path.path()).await?;
    let client = node.ws_client().await?;
    let best = best_header(&client).await?;
    // Production may already have moved on, but only from `tip`.
    ensure!(
        best.hash() == tip.hash() || best.number > tip.number,
        "restarted at {:?} (#{}) instead of {:?} (#{})",
        best.hash(),
        best.number,
        tip.hash(),
        tip.number
    );
    resumed_from(&client, &tip, &head, &state).await
}

#[tokio::test(flavor = "multi_thread")]
async fn after_sigkill_while_authoring_the_database_is_consistent() -> Result<()> {
    let base_path = tempfile::tempdir()?;
    let mut node = Node::dev_at(base_path.path()).await?;
    // The last block seen finalized before a kill, a finalized block whose
    // state was sampled, and that state.
    let mut before_kill: Option<(Header, Header, StateSample)> = None;
    for kill in 0..=KILLS {
        let client = node.ws_client().await?;
        if let Some((finalized, sampled, state)) = &before_kill {
            resumed_from(&client, finalized, sampled, state)
                .await
                .with_context(|| format!("after kill {kill}"))?;
            let best = best_header(&client).await?;
            let number: Option<BlockNumber> =
                storage(&client, &block_number_key(), Some(best.hash())).await?;
            assert_eq!(number, Some(best.number), "the best block's state is off");
            ensure!(finalized_header(&client).await?.number >= finalized.number);
        }
        if kill == KILLS {
            break;
        }
        // A new finalized block, then SIGKILL as soon as the next one is
        // announced: the node is finalizing it, and the pool catching up.
        let mut finalized = subscribe_heads(&client, Heads::Finalized).await?;
        let mut heads = subscribe_heads(&client, Heads::New).await?;
        let floor = best_header(&client).await?.number;
        let sampled = next_matching(&mut finalized, BLOCK_WAIT, |h| h.number > floor).await?;
        let state = sample_state(&client, &sampled).await?;
        next_matching(&mut heads, BLOCK_WAIT, |h| h.number > sampled.number).await?;
        node.kill9().await?;
        let last_finalized = received(&mut finalized)?
            .pop()
            .unwrap_or_else(|| sampled.clone());
        before_kill = Some((last_finalized, sampled, state));
        node = Node::dev_at(base_path.path()).await?;
    }
    Ok(())
}
