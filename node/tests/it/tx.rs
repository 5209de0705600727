//! Signed extrinsics built the way any Substrate client builds them, from what
//! the node's RPC says (genesis hash, runtime version, next nonce), with the
//! client library's signing; their submission and watching.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::core::ClientError;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClient;
use mosaic_runtime::signing::{sign_extrinsic, SigningParams};
use mosaic_runtime::{Balance, Hash, Nonce, RuntimeCall, UncheckedExtrinsic};
use parity_scale_codec::Encode;
use polkadot_sdk::pallet_balances;
use polkadot_sdk::sp_core::crypto::Ss58Codec;
use polkadot_sdk::sp_keyring::Sr25519Keyring;
use polkadot_sdk::sp_runtime::generic::{Era, Preamble};
use polkadot_sdk::sp_runtime::MultiAddress;

use crate::rpc::{block_hash, to_hex};

pub use mosaic_api::TxStatus;

/// Signs for the chain a node runs.
pub struct Signer {
    genesis: Hash,
    spec_version: u32,
    transaction_version: u32,
}

impl Signer {
    /// What signing needs, from the node's RPC.
    pub async fn from_node(client: &WsClient) -> Result<Signer> {
        let genesis = block_hash(client, 0).await?.context("no genesis block")?;
        let version: serde_json::Value = client
            .request("state_getRuntimeVersion", rpc_params![])
            .await?;
        let field = |name: &str| -> Result<u32> {
            let value = version[name]
                .as_u64()
                .with_context(|| format!("runtime version without {name}: {version}"))?;
            Ok(u32::try_from(value)?)
        };
        Ok(Signer {
            genesis,
            spec_version: field("specVersion")?,
            transaction_version: field("transactionVersion")?,
        })
    }

    /// `call` from `from` with `nonce`, immortal, without tip.
    pub fn sign(
        &self,
        from: Sr25519Keyring,
        call: RuntimeCall,
        nonce: Nonce,
    ) -> UncheckedExtrinsic {
        let params = SigningParams {
            genesis: self.genesis,
            spec_version: self.spec_version,
            transaction_version: self.transaction_version,
            nonce,
            era: Era::Immortal,
            era_birth: self.genesis,
        };
        sign_extrinsic(&from.pair(), call, &params)
    }

    /// `call` signed with `key`'s key but claiming to come from `sender`: a
    /// forgery.
    pub fn forge(
        &self,
        key: Sr25519Keyring,
        sender: Sr25519Keyring,
        call: RuntimeCall,
        nonce: Nonce,
    ) -> UncheckedExtrinsic {
        let mut extrinsic = self.sign(key, call, nonce);
        if let Preamble::Signed(address, _, _) = &mut extrinsic.preamble {
            *address = MultiAddress::Id(sender.to_account_id());
        }
        extrinsic
    }
}

/// A transfer of `amount` to `to`, keeping the sender alive.
pub fn transfer(to: Sr25519Keyring, amount: Balance) -> RuntimeCall {
    RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
        dest: MultiAddress::Id(to.to_account_id()),
        value: amount,
    })
}

/// The hex of an extrinsic, as the author RPC takes it.
pub fn extrinsic_hex(extrinsic: &UncheckedExtrinsic) -> String {
    to_hex(extrinsic.encode())
}

/// `who`'s SS58 address.
pub fn address(who: Sr25519Keyring) -> String {
    who.to_account_id().to_ss58check()
}

/// `who`'s next nonce, counting its transactions in the pool.
pub async fn next_nonce(client: &WsClient, who: Sr25519Keyring) -> Result<Nonce> {
    Ok(client
        .request("system_accountNextIndex", rpc_params![address(who)])
        .await?)
}

/// `author_submitExtrinsic` of hex (well-formed or not).
pub async fn submit_hex(client: &WsClient, hex: &str) -> Result<Hash, ClientError> {
    client
        .request("author_submitExtrinsic", rpc_params![hex])
        .await
}

/// `author_submitAndWatchExtrinsic`.
pub async fn submit_and_watch(
    client: &WsClient,
    extrinsic: &UncheckedExtrinsic,
) -> Result<Subscription<TxStatus>> {
    Ok(client
        .subscribe(
            "author_submitAndWatchExtrinsic",
            rpc_params![extrinsic_hex(extrinsic)],
            "author_unwatchExtrinsic",
        )
        .await?)
}

/// Every status of a watched transaction up to the final one.
pub async fn statuses_to_end(
    watch: &mut Subscription<TxStatus>,
    within: Duration,
) -> Result<Vec<TxStatus>> {
    let deadline = tokio::time::Instant::now() + within;
    let mut statuses = Vec::new();
    while statuses.last().is_none_or(|s: &TxStatus| !s.is_final()) {
        let status = tokio::time::timeout_at(deadline, watch.next())
            .await
            .with_context(|| format!("no final status within {within:?}: {statuses:?}"))?
            .with_context(|| format!("the watch ended after {statuses:?}"))??;
        statuses.push(status);
    }
    Ok(statuses)
}

/// Waits until a watched transaction is in a block; returns the block.
pub async fn in_block(watch: &mut Subscription<TxStatus>, within: Duration) -> Result<Hash> {
    let status = crate::rpc::next_matching(watch, within, |status| {
        !matches!(
            status,
            TxStatus::Future | TxStatus::Ready | TxStatus::Broadcast(_)
        )
    })
    .await?;
    match status {
        TxStatus::InBlock(block) | TxStatus::Finalized(block) => Ok(block),
        other => bail!("the transaction ended {other:?} instead of entering a block"),
    }
}

/// Submits `extrinsic` and waits until it is in a block; returns the block.
pub async fn submit_until_in_block(
    client: &WsClient,
    extrinsic: &UncheckedExtrinsic,
    within: Duration,
) -> Result<Hash> {
    let mut watch = submit_and_watch(client, extrinsic).await?;
    in_block(&mut watch, within).await
}
