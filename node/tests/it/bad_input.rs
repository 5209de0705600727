//! Bad JSON-RPC input is answered with errors, and the node goes on: malformed
//! hex and SCALE, forged and stale transactions, duplicates, random bytes,
//! unknown blocks, impossible block numbers and an oversized request.

use anyhow::{ensure, Context, Result};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClient;
use mosaic_runtime::{Hash, UNIT};
use polkadot_sdk::sp_keyring::Sr25519Keyring::{Alice, Bob, Charlie};
use proptest::collection::vec;
use proptest::prelude::any;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::Value;

use crate::harness::Node;
use crate::rpc::{
    best_header, block_number_key, call_error, code, error_text, expect_code, next_matching,
    subscribe_heads, to_hex, wait_for_block, Heads, BLOCK_WAIT,
};
use crate::tx::{extrinsic_hex, next_nonce, submit_hex, submit_until_in_block, transfer, Signer};

/// Random byte strings submitted as extrinsics.
const RANDOM_BLOBS: usize = 48;
/// Above the server's request limit (Substrate's default is 15 MiB).
const OVERSIZED: usize = 20 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn bad_rpc_input_is_refused_and_the_node_keeps_producing() -> Result<()> {
    let node = Node::dev().await?;
    let client = node.ws_client().await?;
    let signer = Signer::from_node(&client).await?;

    malformed_parameters(&client).await?;
    unknown_blocks_and_numbers(&client).await?;
    invalid_transactions(&client, &signer).await?;
    random_bytes(&client).await?;
    oversized_request(&node).await?;

    let best = best_header(&client).await?;
    wait_for_block(&client, best.number + 2, BLOCK_WAIT)
        .await
        .with_context(|| format!("no blocks after bad input:\n{}", node.recent_logs()))?;
    let health: Value = client.request("system_health", rpc_params![]).await?;
    ensure!(
        health.is_object(),
        "system_health after bad input: {health}"
    );
    Ok(())
}

async fn malformed_parameters(client: &WsClient) -> Result<()> {
    // Not hex at all.
    for text in ["0xzz", "0x0g", "hello"] {
        let result = submit_hex(client, text).await;
        expect_code(&format!("submit {text:?}"), result, &[code::INVALID_PARAMS])?;
        let result: Result<Value, _> = client.request("payment_queryInfo", rpc_params![text]).await;
        expect_code(&format!("fee of {text:?}"), result, &[code::INVALID_PARAMS])?;
    }
    // Hex that some parsers take (odd length, no prefix, empty) or bytes
    // that are no extrinsic: a truncated length prefix, a wrong version,
    // trailing garbage.
    for text in [
        "0x123",
        "deadbeef",
        "",
        "0x",
        "0x00",
        "0x0102ff",
        "0xfcffffff00",
    ] {
        let result = submit_hex(client, text).await;
        expect_code(
            &format!("submit {text:?}"),
            result,
            &[code::BAD_FORMAT, code::INVALID_PARAMS],
        )?;
        let result: Result<Value, _> = client.request("payment_queryInfo", rpc_params![text]).await;
        expect_code(
            &format!("fee of {text:?}"),
            result,
            &[code::BAD_FORMAT, code::INVALID_PARAMS],
        )?;
    }
    let result: Result<Option<String>, _> = client
        .request("state_getStorage", rpc_params!["0xzz"])
        .await;
    expect_code("storage at key 0xzz", result, &[code::INVALID_PARAMS])?;
    let result: Result<Value, _> = client
        .request("state_getKeysPaged", rpc_params!["0x", -1])
        .await;
    expect_code("a negative page size", result, &[code::INVALID_PARAMS])?;
    let result: Result<Value, _> = client
        .request("chain_getHeader", rpc_params!["0x1234"])
        .await;
    expect_code("a short block hash", result, &[code::INVALID_PARAMS])?;
    // The runtime cannot decode these arguments (it would panic); the node
    // must answer, not die.
    let result: Result<String, _> = client
        .request(
            "state_call",
            rpc_params!["AccountNonceApi_account_nonce", "0x01"],
        )
        .await;
    expect_code("state_call with bad SCALE", result, &[code::STATE])?;
    let result: Result<String, _> = client
        .request("state_call", rpc_params!["NoSuchApi_method", "0x"])
        .await;
    expect_code("state_call of an unknown method", result, &[code::STATE])?;
    Ok(())
}

async fn unknown_blocks_and_numbers(client: &WsClient) -> Result<()> {
    let unknown = Hash::repeat_byte(0xab);
    let result: Result<Value, _> = client
        .request("chain_getHeader", rpc_params![unknown])
        .await;
    expect_code("header of an unknown block", result, &[code::CHAIN])?;
    let result: Result<Value, _> = client
        .request(
            "state_getStorage",
            rpc_params![to_hex(block_number_key()), unknown],
        )
        .await;
    expect_code("storage at an unknown block", result, &[code::STATE])?;

    let result: Result<Value, _> = client.request("chain_getBlockHash", rpc_params![-1]).await;
    expect_code("block -1", result, &[code::INVALID_PARAMS])?;
    let result: Result<Value, _> = client
        .request("chain_getBlockHash", rpc_params![u64::from(u32::MAX) + 1])
        .await;
    expect_code("block 2^32", result, &[code::INVALID_PARAMS])?;
    let result: Result<Value, _> = client
        .request("chain_getBlockHash", rpc_params!["0x10000000000000000"])
        .await;
    expect_code("block 2^64", result, &[code::INVALID_PARAMS])?;
    // A valid number not reached yet is simply not there.
    let future: Option<Hash> = client
        .request("chain_getBlockHash", rpc_params![u32::MAX])
        .await?;
    ensure!(future.is_none(), "block {} exists: {future:?}", u32::MAX);
    Ok(())
}

async fn invalid_transactions(client: &WsClient, signer: &Signer) -> Result<()> {
    let nonce = next_nonce(client, Alice).await?;
    let included = signer.sign(Alice, transfer(Bob, UNIT), nonce);
    submit_until_in_block(client, &included, BLOCK_WAIT).await?;

    let replay = submit_hex(client, &extrinsic_hex(&included)).await;
    let error = expect_code("a replayed transfer", replay, &[code::POOL_INVALID_TX])?;
    ensure!(
        error_text(&error).contains("outdated"),
        "replay refused for: {error}"
    );
    let stale = signer.sign(Alice, transfer(Charlie, 2 * UNIT), nonce);
    let error = expect_code(
        "a stale nonce",
        submit_hex(client, &extrinsic_hex(&stale)).await,
        &[code::POOL_INVALID_TX],
    )?;
    ensure!(
        error_text(&error).contains("outdated"),
        "stale nonce refused for: {error}"
    );

    // Bob signs a transfer claiming to be Alice's.
    let forged = signer.forge(Bob, Alice, transfer(Bob, UNIT), nonce + 1);
    let error = expect_code(
        "a forged signature",
        submit_hex(client, &extrinsic_hex(&forged)).await,
        &[code::POOL_INVALID_TX],
    )?;
    ensure!(
        error_text(&error).contains("signature"),
        "forgery refused for: {error}"
    );

    // Right after a block, the next one is a slot away: a transaction
    // submitted twice is still in the pool the second time.
    let mut heads = subscribe_heads(client, Heads::New).await?;
    let best = best_header(client).await?.number;
    next_matching(&mut heads, BLOCK_WAIT, |head| head.number > best).await?;
    let valid = extrinsic_hex(&signer.sign(Alice, transfer(Bob, 3 * UNIT), nonce + 1));
    submit_hex(client, &valid).await?;
    let again = submit_hex(client, &valid).await;
    expect_code("a duplicate", again, &[code::POOL_ALREADY_IMPORTED])?;
    // Another transfer with the same nonce and no higher tip does not
    // replace it.
    let rival = extrinsic_hex(&signer.sign(Alice, transfer(Charlie, 3 * UNIT), nonce + 1));
    let rival = submit_hex(client, &rival).await;
    expect_code("a same-nonce rival", rival, &[code::POOL_TOO_LOW_PRIORITY])?;
    let pending: Vec<String> = client
        .request("author_pendingExtrinsics", rpc_params![])
        .await?;
    ensure!(pending.contains(&valid), "the pool lost a valid transfer");
    Ok(())
}

/// Random bytes never pass for a transaction.
async fn random_bytes(client: &WsClient) -> Result<()> {
    let mut runner = TestRunner::deterministic();
    let blobs = vec(any::<u8>(), 0..600);
    for _ in 0..RANDOM_BLOBS {
        let blob = blobs
            .new_tree(&mut runner)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .current();
        let hex = to_hex(&blob);
        call_error(submit_hex(client, &hex).await)
            .map_err(|e| e.context(format!("submitting random bytes {hex}")))?;
    }
    Ok(())
}

/// A request over the server's size limit is refused, and the server goes
/// on answering.
async fn oversized_request(node: &Node) -> Result<()> {
    let http = node.http_client(2 * OVERSIZED as u32)?;
    // A read that would succeed (with null) if the server took it in.
    let huge_key = format!("0x{}", "ab".repeat(OVERSIZED / 2));
    let result: Result<Option<String>, _> = http
        .request("state_getStorage", rpc_params![huge_key])
        .await;
    ensure!(
        result.is_err(),
        "a {OVERSIZED}-byte request was served: {result:?}"
    );
    let chain: String = http.request("system_chain", rpc_params![]).await?;
    ensure!(
        chain == "Development",
        "after the oversized request: {chain}"
    );
    Ok(())
}

/// With `--rpc-methods safe`, key management is refused and not listed.
#[tokio::test(flavor = "multi_thread")]
async fn unsafe_methods_are_refused_when_disabled() -> Result<()> {
    let node = Node::start(&["--dev", "--rpc-methods", "safe"]).await?;
    let client = node.ws_client().await?;
    let alice_aura = "0x88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee";
    let has_key: Result<bool, _> = client
        .request("author_hasKey", rpc_params![alice_aura, "aura"])
        .await;
    expect_code("author_hasKey on a safe node", has_key, &[code::UNSAFE])?;
    let methods: Value = client.request("rpc_methods", rpc_params![]).await?;
    ensure!(
        !methods.to_string().contains("author_insertKey"),
        "unsafe methods listed: {methods}"
    );
    Ok(())
}
