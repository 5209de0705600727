//! Signed balance transfers through the author RPC: consecutive nonces,
//! watched to finality, credited exactly once.

use anyhow::{ensure, Context, Result};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::rpc_params;
use mosaic_runtime::{Balance, UNIT};
use parity_scale_codec::Encode;
use polkadot_sdk::sp_keyring::Sr25519Keyring::{Alice, Bob};
use polkadot_sdk::sp_runtime::traits::{BlakeTwo256, Hash as _};
use serde_json::Value;

use crate::harness::Node;
use crate::rpc::{
    account, account_key, decode, finalized_header, from_hex, header, next_matching, to_hex,
    AccountInfo, BLOCK_WAIT,
};
use crate::tx::{
    extrinsic_hex, next_nonce, statuses_to_end, submit_and_watch, submit_hex, transfer, Signer,
    TxStatus,
};

/// Distinct amounts, so that a transfer counted twice or lost shows.
const AMOUNTS: [Balance; 4] = [UNIT + 1, 2 * UNIT + 20, 3 * UNIT + 300, 4 * UNIT + 4_000];

/// A fee as `payment_queryInfo` gives it: a number, or a decimal or
/// `0x`-prefixed hex string.
fn balance(value: &Value) -> Option<Balance> {
    match value {
        Value::String(text) => match text.strip_prefix("0x") {
            Some(digits) => Balance::from_str_radix(digits, 16).ok(),
            None => text.parse().ok(),
        },
        other => other.as_u64().map(Balance::from),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_transfers_are_included_finalized_and_credited_once() -> Result<()> {
    let node = Node::dev().await?;
    let client = node.ws_client().await?;
    let signer = Signer::from_node(&client).await?;
    let (alice, bob) = (Alice.to_account_id(), Bob.to_account_id());

    // Only these transfers touch Alice's and Bob's accounts, so their values
    // now are their values before the transfers.
    let alice_before = account(&client, &alice, None).await?;
    let bob_before = account(&client, &bob, None).await?;
    let first_nonce = next_nonce(&client, Alice).await?;
    assert_eq!(first_nonce, alice_before.nonce);
    let expected_free = bob_before.data.free + AMOUNTS.iter().sum::<Balance>();

    let bob_key = to_hex(account_key(&bob));
    let mut bob_changes = client
        .subscribe::<Value, _>(
            "state_subscribeStorage",
            rpc_params![vec![bob_key.clone()]],
            "state_unsubscribeStorage",
        )
        .await?;

    let transfers: Vec<_> = (0u32..)
        .zip(AMOUNTS)
        .map(|(i, amount)| signer.sign(Alice, transfer(Bob, amount), first_nonce + i))
        .collect();
    let (watched, submitted) = transfers.split_last().context("several transfers")?;

    let info: Value = client
        .request("payment_queryInfo", rpc_params![extrinsic_hex(watched)])
        .await?;
    let fee = balance(&info["partialFee"]).with_context(|| format!("fee in {info}"))?;
    ensure!(fee > 0, "a signed transfer costs nothing: {info}");

    for extrinsic in submitted {
        let hash = submit_hex(&client, &extrinsic_hex(extrinsic)).await?;
        assert_eq!(hash, BlakeTwo256::hash(&extrinsic.encode()));
    }
    // Consecutive nonces: Alice's next one counts the pooled transfers.
    assert_eq!(
        next_nonce(&client, Alice).await?,
        first_nonce + submitted.len() as u32
    );
    let mut watch = submit_and_watch(&client, watched).await?;
    let statuses = statuses_to_end(&mut watch, BLOCK_WAIT).await?;
    let block = match statuses.as_slice() {
        [TxStatus::Ready, TxStatus::InBlock(included), TxStatus::Finalized(finalized)]
            if included == finalized =>
        {
            *finalized
        }
        other => anyhow::bail!("expected ready, inBlock, finalized; got {other:?}"),
    };

    let body: Value = client.request("chain_getBlock", rpc_params![block]).await?;
    let included = body["block"]["extrinsics"]
        .as_array()
        .with_context(|| format!("chain_getBlock shape: {body}"))?;
    ensure!(
        included.contains(&Value::from(extrinsic_hex(watched))),
        "the watched transfer is not in its inBlock block"
    );
    ensure!(finalized_header(&client).await?.number >= header(&client, block).await?.number);

    // The watched transfer has the last nonce, so by its block all are in.
    let bob_after = account(&client, &bob, Some(block)).await?;
    assert_eq!(bob_after.data.free, expected_free);
    let alice_after = account(&client, &alice, Some(block)).await?;
    let count = AMOUNTS.len() as u32;
    assert_eq!(alice_after.nonce, first_nonce + count);
    assert_eq!(next_nonce(&client, Alice).await?, first_nonce + count);
    ensure!(
        alice_after.data.free < alice_before.data.free - AMOUNTS.iter().sum::<Balance>(),
        "Alice paid no fees"
    );

    // The storage subscription saw Bob's balance reach the total.
    next_matching(&mut bob_changes, BLOCK_WAIT, |set| {
        set["changes"].as_array().is_some_and(|changes| {
            changes.iter().any(|change| {
                change[0] == bob_key.as_str()
                    && change[1]
                        .as_str()
                        .and_then(|v| from_hex(v).ok())
                        .and_then(|v| decode::<AccountInfo>(&v).ok())
                        .is_some_and(|info| info.data.free == expected_free)
            })
        })
    })
    .await
    .context("no state_storage notification of Bob's final balance")?;
    Ok(())
}
