//! A `--dev` node on its own: it produces and finalizes blocks, describes
//! itself through `system_*`, serves every advertised method, and its chain,
//! state and subscriptions agree with each other.

use anyhow::{ensure, Context, Result};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClient;
use mosaic_chain_spec::ChainSpec;
use mosaic_runtime::{BlockNumber, Hash, Header};
use parity_scale_codec::Encode;
use polkadot_sdk::frame_support::storage::storage_prefix;
use polkadot_sdk::sp_keyring::Sr25519Keyring;
use serde::Deserialize;
use serde_json::Value;

use crate::harness::Node;
use crate::rpc::{
    account_key, block_hash, block_number_key, decode, finalized_header, from_hex, header,
    next_matching, runtime_call, storage, subscribe_heads, to_hex, wait_for_block, Heads,
    BLOCK_WAIT,
};
use crate::tx::{address, next_nonce};

/// Every method the node must serve.
const METHODS: &[&str] = &[
    "system_name",
    "system_version",
    "system_chain",
    "system_chainType",
    "system_properties",
    "system_health",
    "system_peers",
    "system_accountNextIndex",
    "system_localPeerId",
    "system_localListenAddresses",
    "rpc_methods",
    "chain_getHeader",
    "chain_getBlock",
    "chain_getBlockHash",
    "chain_getFinalizedHead",
    "chain_subscribeNewHeads",
    "chain_unsubscribeNewHeads",
    "chain_subscribeFinalizedHeads",
    "chain_unsubscribeFinalizedHeads",
    "chain_subscribeAllHeads",
    "chain_unsubscribeAllHeads",
    "state_getStorage",
    "state_getKeysPaged",
    "state_getMetadata",
    "state_getRuntimeVersion",
    "state_call",
    "state_queryStorageAt",
    "state_subscribeStorage",
    "state_unsubscribeStorage",
    "state_subscribeRuntimeVersion",
    "author_submitExtrinsic",
    "author_submitAndWatchExtrinsic",
    "author_unwatchExtrinsic",
    "author_pendingExtrinsics",
    "payment_queryInfo",
    "payment_queryFeeDetails",
    "mosaic_quote",
    "mosaic_order",
    "mosaic_ordersOf",
    "mosaic_ordersByCid",
    "mosaic_piecesOf",
    "mosaic_provider",
    "mosaic_challenges",
    "mosaic_resolve",
    "mosaic_nameHistory",
    "mosaic_namesOf",
];

/// A `state_storage` notification.
#[derive(Debug, Deserialize)]
struct StorageChangeSet {
    block: Hash,
    changes: Vec<(String, Option<String>)>,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dev_node_produces_finalizes_and_describes_its_chain() -> Result<()> {
    let node = Node::dev().await?;
    let client = node.ws_client().await?;

    describes_itself(&client).await?;
    advertises_every_method(&client).await?;
    serves_the_dev_genesis_and_runtime(&client).await?;

    let mut finalized = subscribe_heads(&client, Heads::Finalized).await?;
    let mut all = subscribe_heads(&client, Heads::All).await?;
    let second = wait_for_block(&client, 2, BLOCK_WAIT).await?;
    chain_is_linked(&client, &second).await?;
    let imported = next_matching(&mut all, BLOCK_WAIT, |_| true).await?;
    ensure!(imported.number >= 1, "allHeads announced {imported:?}");

    // The only authority finalizes its own blocks.
    let final_head = next_matching(&mut finalized, BLOCK_WAIT, |h| h.number >= 1).await?;
    ensure!(
        block_hash(&client, final_head.number).await? == Some(final_head.hash()),
        "finalized block {} is not on the best chain",
        final_head.number
    );
    ensure!(finalized_header(&client).await?.number >= final_head.number);

    storage_is_consistent_with_headers(&client).await
}

async fn describes_itself(client: &WsClient) -> Result<()> {
    let chain: String = client.request("system_chain", rpc_params![]).await?;
    assert_eq!(chain, "Development");
    let chain_type: Value = client.request("system_chainType", rpc_params![]).await?;
    assert_eq!(chain_type, "Development");
    let properties: Value = client.request("system_properties", rpc_params![]).await?;
    assert_eq!(properties["tokenDecimals"], 12, "{properties}");
    assert_eq!(properties["ss58Format"], 42, "{properties}");
    assert!(
        properties["tokenSymbol"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{properties}"
    );
    for method in ["system_name", "system_version", "system_localPeerId"] {
        let text: String = client.request(method, rpc_params![]).await?;
        assert!(!text.is_empty(), "{method} is empty");
    }
    let health: Value = client.request("system_health", rpc_params![]).await?;
    assert_eq!(health["peers"], 0, "{health}");
    assert_eq!(health["isSyncing"], false, "{health}");
    let peers: Vec<Value> = client.request("system_peers", rpc_params![]).await?;
    assert!(peers.is_empty(), "a lone dev node has peers: {peers:?}");
    let _: Vec<String> = client
        .request("system_localListenAddresses", rpc_params![])
        .await?;
    Ok(())
}

async fn advertises_every_method(client: &WsClient) -> Result<()> {
    let methods: Value = client.request("rpc_methods", rpc_params![]).await?;
    let listed: Vec<&str> = methods["methods"]
        .as_array()
        .with_context(|| format!("rpc_methods without a methods list: {methods}"))?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let missing: Vec<_> = METHODS.iter().filter(|m| !listed.contains(m)).collect();
    ensure!(missing.is_empty(), "rpc_methods lacks {missing:?}");
    Ok(())
}

async fn serves_the_dev_genesis_and_runtime(client: &WsClient) -> Result<()> {
    let genesis = ChainSpec::dev().genesis_header()?.hash();
    assert_eq!(block_hash(client, 0).await?, Some(genesis));
    assert_eq!(header(client, genesis).await?.number, 0);

    let version: Value = client
        .request("state_getRuntimeVersion", rpc_params![])
        .await?;
    assert_eq!(version["specName"], "mosaic", "{version}");
    assert_eq!(
        version["specVersion"],
        mosaic_runtime::VERSION.spec_version,
        "{version}"
    );
    let metadata: String = client.request("state_getMetadata", rpc_params![]).await?;
    assert!(
        from_hex(&metadata)?.starts_with(b"meta"),
        "metadata lacks its magic number"
    );

    // Nothing was submitted: Alice's next nonce is 0, in every view of it.
    let alice = Sr25519Keyring::Alice;
    assert_eq!(next_nonce(client, alice).await?, 0);
    let nonce: u32 = runtime_call(
        client,
        "AccountNonceApi_account_nonce",
        &alice.to_account_id().encode(),
        Some(genesis),
    )
    .await?;
    assert_eq!(nonce, 0);
    let index: u32 = client
        .request("system_accountNextIndex", rpc_params![address(alice)])
        .await?;
    assert_eq!(index, 0);

    // The twelve endowed development accounts are under System::Account.
    let prefix = storage_prefix(b"System", b"Account");
    let keys: Vec<String> = client
        .request(
            "state_getKeysPaged",
            rpc_params![to_hex(prefix), 100, Option::<String>::None, genesis],
        )
        .await?;
    assert!(keys.len() >= 12, "{} accounts at genesis", keys.len());
    assert!(keys.contains(&to_hex(account_key(&alice.to_account_id()))));
    Ok(())
}

/// Block `head` and its ancestors are linked by parent hash, and each is the
/// best chain's block at its number.
async fn chain_is_linked(client: &WsClient, head: &Header) -> Result<()> {
    let mut block = head.clone();
    while block.number > 0 {
        assert_eq!(
            block_hash(client, block.number).await?,
            Some(block.hash()),
            "block {} is not the canonical one",
            block.number
        );
        let parent = header(client, block.parent_hash).await?;
        assert_eq!(parent.number + 1, block.number);
        block = parent;
    }
    let body: Value = client
        .request("chain_getBlock", rpc_params![head.hash()])
        .await?;
    let extrinsics = body["block"]["extrinsics"]
        .as_array()
        .with_context(|| format!("chain_getBlock shape: {body}"))?;
    // At least the timestamp inherent.
    ensure!(
        !extrinsics.is_empty(),
        "block {} has no extrinsics",
        head.number
    );
    let fetched: Header = serde_json::from_value(body["block"]["header"].clone())?;
    assert_eq!(fetched.hash(), head.hash());
    Ok(())
}

/// `System::Number` in each block's state is that block's number, read
/// through a storage subscription, `state_getStorage` and
/// `state_queryStorageAt`.
async fn storage_is_consistent_with_headers(client: &WsClient) -> Result<()> {
    let key = to_hex(block_number_key());
    let mut changes = client
        .subscribe::<StorageChangeSet, _>(
            "state_subscribeStorage",
            rpc_params![vec![key.clone()]],
            "state_unsubscribeStorage",
        )
        .await?;
    // The first notification may be the current value; the next is a change.
    for _ in 0..2 {
        let set = next_matching(&mut changes, BLOCK_WAIT, |_| true).await?;
        let value = set
            .changes
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.as_deref())
            .with_context(|| format!("no System::Number in {set:?}"))?;
        let number: BlockNumber = decode(&from_hex(value)?)?;
        assert_eq!(header(client, set.block).await?.number, number);
        let stored: Option<BlockNumber> =
            storage(client, &block_number_key(), Some(set.block)).await?;
        assert_eq!(stored, Some(number));

        let queried: Vec<StorageChangeSet> = client
            .request(
                "state_queryStorageAt",
                rpc_params![vec![key.clone()], set.block],
            )
            .await?;
        let value = queried
            .iter()
            .flat_map(|q| &q.changes)
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.clone());
        assert_eq!(
            value.as_deref().map(from_hex).transpose()?,
            Some(number.encode())
        );
    }
    Ok(())
}

/// The Prometheus endpoint serves the chain's height and counts RPC calls
/// by method.
#[tokio::test(flavor = "multi_thread")]
async fn prometheus_metrics_follow_the_chain_and_count_rpc_calls() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let node = Node::dev().await?;
    let client = node.ws_client().await?;
    // The metrics follow the chain's events as the subscriptions do, but on
    // their own task: at block 3, block 2 is surely counted.
    wait_for_block(&client, 3, BLOCK_WAIT).await?;
    let _: String = client.request("system_name", rpc_params![]).await?;
    let unknown: Result<Value, _> = client.request("mosaic_noSuchMethod", rpc_params![]).await;
    ensure!(unknown.is_err(), "an unknown method answered: {unknown:?}");
    let logs = node.recent_logs();
    let addr = logs
        .lines()
        .find_map(|line| line.split("Prometheus listening on ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .context("no Prometheus line in the logs")?;
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    ensure!(response.starts_with("HTTP/1.1 200"), "{response}");
    let value = |name: &str| -> Option<f64> {
        response
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let best = value("mosaic_block_height{status=\"best\"}").context("best height")?;
    ensure!(best >= 2.0, "best height {best}");
    ensure!(value("mosaic_block_height{status=\"finalized\"}").is_some());
    // Set with the heights, but not atomically with them: only bounds.
    let lag = value("mosaic_finality_lag_blocks").context("finality lag")?;
    ensure!(
        (0.0..=best).contains(&lag),
        "finality lag {lag} at best {best}"
    );
    let calls = value("mosaic_rpc_calls_total{method=\"system_name\"}").context("rpc calls")?;
    ensure!(calls >= 1.0, "system_name calls {calls}");
    // Only methods the node has are counted: callers cannot grow the
    // metrics without bound.
    ensure!(
        !response.contains("noSuchMethod"),
        "an unknown method was counted"
    );
    ensure!(value("mosaic_txpool_size").is_some());
    Ok(())
}
