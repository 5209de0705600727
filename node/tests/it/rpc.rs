//! Typed helpers over the node's JSON-RPC: headers and subscriptions to them,
//! storage reads decoded with the runtime's types, runtime calls, and checks
//! of error answers.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use futures::FutureExt;
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::core::ClientError;
use jsonrpsee::rpc_params;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::ws_client::WsClient;
use mosaic_runtime::{AccountId, Balance, BlockNumber, Hash, Header, Nonce, Runtime};
use parity_scale_codec::{Decode, DecodeAll};
use polkadot_sdk::frame_support::storage::storage_prefix;
use polkadot_sdk::{frame_system, pallet_balances};
use serde::de::DeserializeOwned;

/// Generous bound on waiting for a block or two (slots are 3 s).
pub const BLOCK_WAIT: Duration = Duration::from_secs(60);

/// JSON-RPC error codes the node answers with.
pub use mosaic_api::codes as code;

/// `0x`-prefixed lowercase hex.
pub fn to_hex(bytes: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// The bytes of `0x`-prefixed hex.
pub fn from_hex(text: &str) -> Result<Vec<u8>> {
    let digits = text
        .strip_prefix("0x")
        .with_context(|| format!("{text:?} lacks the 0x prefix"))?;
    Ok(hex::decode(digits)?)
}

/// Decodes `bytes` as exactly one `T`.
pub fn decode<T: Decode>(bytes: &[u8]) -> Result<T> {
    T::decode_all(&mut &bytes[..]).map_err(|e| anyhow!("not a {}: {e}", std::any::type_name::<T>()))
}

/// The head subscriptions.
#[derive(Clone, Copy, Debug)]
pub enum Heads {
    /// New best blocks.
    New,
    /// Newly finalized blocks.
    Finalized,
    /// Every imported block.
    All,
}

impl Heads {
    fn methods(self) -> (&'static str, &'static str) {
        match self {
            Heads::New => ("chain_subscribeNewHeads", "chain_unsubscribeNewHeads"),
            Heads::Finalized => (
                "chain_subscribeFinalizedHeads",
                "chain_unsubscribeFinalizedHeads",
            ),
            Heads::All => ("chain_subscribeAllHeads", "chain_unsubscribeAllHeads"),
        }
    }
}

/// Subscribes to `heads`.
pub async fn subscribe_heads(client: &WsClient, heads: Heads) -> Result<Subscription<Header>> {
    let (subscribe, unsubscribe) = heads.methods();
    Ok(client
        .subscribe(subscribe, rpc_params![], unsubscribe)
        .await?)
}

/// The first notification `accept` takes, within `within`.
pub async fn next_matching<T: DeserializeOwned>(
    subscription: &mut Subscription<T>,
    within: Duration,
    mut accept: impl FnMut(&T) -> bool,
) -> Result<T> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let item = tokio::time::timeout_at(deadline, subscription.next())
            .await
            .map_err(|_| anyhow!("no matching notification within {within:?}"))?
            .context("the subscription ended")??;
        if accept(&item) {
            return Ok(item);
        }
    }
}

/// The notifications already received, without waiting for more.
pub fn received<T: DeserializeOwned>(subscription: &mut Subscription<T>) -> Result<Vec<T>> {
    let mut items = Vec::new();
    while let Some(Some(item)) = subscription.next().now_or_never() {
        items.push(item?);
    }
    Ok(items)
}

/// The best header once it is at `number` or above.
pub async fn wait_for_block(
    client: &WsClient,
    number: BlockNumber,
    within: Duration,
) -> Result<Header> {
    wait_for(client, Heads::New, number, within).await
}

/// The finalized header once it is at `number` or above.
pub async fn wait_for_finalized(
    client: &WsClient,
    number: BlockNumber,
    within: Duration,
) -> Result<Header> {
    wait_for(client, Heads::Finalized, number, within).await
}

/// The best (`Heads::New`) or finalized header once it is at `number` or
/// above.
async fn wait_for(
    client: &WsClient,
    heads: Heads,
    number: BlockNumber,
    within: Duration,
) -> Result<Header> {
    let finalized = matches!(heads, Heads::Finalized);
    // Subscribe first, so that no block slips between the check and the wait.
    let mut subscription = subscribe_heads(client, heads).await?;
    let now = match finalized {
        true => finalized_header(client).await?,
        false => best_header(client).await?,
    };
    if now.number >= number {
        return Ok(now);
    }
    next_matching(&mut subscription, within, |head: &Header| {
        head.number >= number
    })
    .await
    .with_context(|| format!("waiting for block {number} (finalized: {finalized})"))
}

/// The best block's header.
pub async fn best_header(client: &WsClient) -> Result<Header> {
    let header: Option<Header> = client.request("chain_getHeader", rpc_params![]).await?;
    header.context("the node has no best header")
}

/// The header of a known block.
pub async fn header(client: &WsClient, hash: Hash) -> Result<Header> {
    let header: Option<Header> = client.request("chain_getHeader", rpc_params![hash]).await?;
    header.with_context(|| format!("no header for {hash:?}"))
}

/// The hash of the best chain's block `number`, if there is one.
pub async fn block_hash(client: &WsClient, number: BlockNumber) -> Result<Option<Hash>> {
    Ok(client
        .request("chain_getBlockHash", rpc_params![number])
        .await?)
}

/// The last finalized block's header.
pub async fn finalized_header(client: &WsClient) -> Result<Header> {
    let hash: Hash = client
        .request("chain_getFinalizedHead", rpc_params![])
        .await?;
    header(client, hash).await
}

/// The raw value at `key`, at block `at` (the best block if `None`).
pub async fn storage_raw(
    client: &WsClient,
    key: &[u8],
    at: Option<Hash>,
) -> Result<Option<Vec<u8>>> {
    let mut params = rpc_params![to_hex(key)];
    if let Some(at) = at {
        params.insert(at)?;
    }
    let value: Option<String> = client.request("state_getStorage", params).await?;
    value.map(|value| from_hex(&value)).transpose()
}

/// The value at `key` decoded as `T`, at block `at` (the best if `None`).
pub async fn storage<T: Decode>(
    client: &WsClient,
    key: &[u8],
    at: Option<Hash>,
) -> Result<Option<T>> {
    storage_raw(client, key, at)
        .await?
        .map(|bytes| decode(&bytes))
        .transpose()
}

/// A runtime API call through `state_call`, its answer decoded as `T`.
pub async fn runtime_call<T: Decode>(
    client: &WsClient,
    method: &str,
    args: &[u8],
    at: Option<Hash>,
) -> Result<T> {
    let mut params = rpc_params![method, to_hex(args)];
    if let Some(at) = at {
        params.insert(at)?;
    }
    let answer: String = client.request("state_call", params).await?;
    decode(&from_hex(&answer)?).with_context(|| format!("answer of {method}"))
}

/// An account as `frame_system` stores it.
pub type AccountInfo = frame_system::AccountInfo<Nonce, pallet_balances::AccountData<Balance>>;

/// The storage key of `who`'s account.
pub fn account_key(who: &AccountId) -> Vec<u8> {
    frame_system::Account::<Runtime>::hashed_key_for(who)
}

/// The storage key of `System::Number`, the number of the block whose state
/// it is.
pub fn block_number_key() -> [u8; 32] {
    storage_prefix(b"System", b"Number")
}

/// `who`'s account at block `at` (the best if `None`); the default if absent.
pub async fn account(client: &WsClient, who: &AccountId, at: Option<Hash>) -> Result<AccountInfo> {
    Ok(storage(client, &account_key(who), at)
        .await?
        .unwrap_or_default())
}

/// The error object `result` was answered with; fails if the call succeeded
/// or failed without an answer (transport, parse).
pub fn call_error<T: Debug>(result: Result<T, ClientError>) -> Result<ErrorObjectOwned> {
    match result {
        Err(ClientError::Call(error)) => Ok(error),
        Err(other) => bail!("expected a JSON-RPC error answer, got {other}"),
        Ok(value) => bail!("expected an error, got {value:?}"),
    }
}

/// Checks that `what` was answered with an error whose code is one of
/// `codes`; returns the error.
pub fn expect_code<T: Debug>(
    what: &str,
    result: Result<T, ClientError>,
    codes: &[i32],
) -> Result<ErrorObjectOwned> {
    let error = call_error(result).with_context(|| what.to_owned())?;
    ensure!(
        codes.contains(&error.code()),
        "{what}: expected an error code in {codes:?}, got {error}"
    );
    Ok(error)
}

/// Checks that `what` was answered with an error, whatever its code.
pub fn expect_error<T: Debug>(what: &str, result: Result<T, ClientError>) -> Result<()> {
    call_error(result).with_context(|| what.to_owned())?;
    Ok(())
}

/// An error's message and data, lowercase, to look for the reason in.
pub fn error_text(error: &ErrorObjectOwned) -> String {
    let data = error.data().map(|d| d.get()).unwrap_or_default();
    format!("{} {data}", error.message()).to_lowercase()
}
