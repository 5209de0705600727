//! Talking to a Mosaic node over JSON-RPC (WebSocket), as any Substrate
//! client does: read the chain's genesis hash, runtime version and the
//! sender's next nonce, sign an extrinsic with the standard transaction
//! extensions (mortal for 64 blocks), submit it and follow its status.

use std::time::Duration;

use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use mosaic_runtime::{
    AccountId, Balance, Hash, Nonce, RuntimeCall, SignedPayload, TxExtension, UncheckedExtrinsic,
};
use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::sp_core::crypto::Ss58Codec;
use polkadot_sdk::sp_core::{sr25519, Bytes, Pair};
use polkadot_sdk::sp_runtime::generic::Era;
use polkadot_sdk::sp_runtime::{MultiAddress, MultiSignature};
use polkadot_sdk::{frame_system, pallet_balances, pallet_transaction_payment};
use serde::Deserialize;

/// Blocks a signed transaction stays valid for.
const MORTALITY: u64 = 64;
/// How long to wait for a transaction to be included.
const INCLUSION_TIMEOUT: Duration = Duration::from_secs(60);

/// Why talking to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainClientError {
    /// The connection or a call failed; the message says which.
    #[error("node: {0}")]
    Rpc(#[from] jsonrpsee::core::ClientError),
    /// The node answered something that does not decode.
    #[error("the node's {0} does not decode")]
    Decode(&'static str),
    /// The node reported the transaction invalid or dropped it.
    #[error("the transaction was {0}")]
    Rejected(String),
    /// The transaction was not included in time.
    #[error("the transaction was not included within {0:?}")]
    Timeout(Duration),
    /// The address is not SS58.
    #[error("`{0}` is not an SS58 address")]
    Address(String),
}

/// An account's balances and nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Account {
    /// Transactions sent.
    pub nonce: Nonce,
    /// Spendable and reserved-for-fees balance.
    pub free: Balance,
    /// Held (stakes, escrow, deposits).
    pub reserved: Balance,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuntimeVersionJson {
    spec_version: u32,
    transaction_version: u32,
}

#[derive(Deserialize)]
struct HeaderJson {
    number: String,
}

/// What a signature commits to besides the call.
#[derive(Clone, Copy, Debug)]
pub struct SigningParams {
    /// The chain's genesis hash.
    pub genesis: Hash,
    /// The runtime's `spec_version`.
    pub spec_version: u32,
    /// The runtime's `transaction_version`.
    pub transaction_version: u32,
    /// The sender's nonce.
    pub nonce: Nonce,
    /// How long the transaction stays valid.
    pub era: Era,
    /// The hash of the block the era starts at (the genesis hash for an
    /// immortal era).
    pub era_birth: Hash,
}

/// Signs `call` with the standard transaction extensions, as any Substrate
/// client does.
pub fn sign_extrinsic(
    signer: &sr25519::Pair,
    call: RuntimeCall,
    params: &SigningParams,
) -> UncheckedExtrinsic {
    let extension: TxExtension = (
        frame_system::AuthorizeCall::new(),
        frame_system::CheckNonZeroSender::new(),
        frame_system::CheckSpecVersion::new(),
        frame_system::CheckTxVersion::new(),
        frame_system::CheckGenesis::new(),
        frame_system::CheckEra::from(params.era),
        frame_system::CheckNonce::from(params.nonce),
        frame_system::CheckWeight::new(),
        pallet_transaction_payment::ChargeTransactionPayment::from(0),
        frame_system::WeightReclaim::new(),
    );
    let implicit = (
        (),
        (),
        params.spec_version,
        params.transaction_version,
        params.genesis,
        params.era_birth,
        (),
        (),
        (),
        (),
    );
    let payload = SignedPayload::from_raw(call.clone(), extension.clone(), implicit);
    let signature = payload.using_encoded(|bytes| signer.sign(bytes));
    UncheckedExtrinsic::new_signed(
        call,
        MultiAddress::Id(AccountId::from(signer.public())),
        MultiSignature::Sr25519(signature),
        extension,
    )
}

/// A connection to a node.
pub struct ChainClient {
    ws: WsClient,
}

/// Parses an SS58 address.
pub fn parse_address(address: &str) -> Result<AccountId, ChainClientError> {
    AccountId::from_ss58check(address).map_err(|_| ChainClientError::Address(address.into()))
}

impl ChainClient {
    /// Connects to `url` (`ws://127.0.0.1:9944`).
    pub async fn connect(url: &str) -> Result<Self, ChainClientError> {
        Ok(ChainClient {
            ws: WsClientBuilder::default().build(url).await?,
        })
    }

    /// An account's state at the best block.
    pub async fn account(&self, who: &AccountId) -> Result<Account, ChainClientError> {
        let key = frame_system::Account::<mosaic_runtime::Runtime>::hashed_key_for(who);
        let raw: Option<Bytes> = self
            .ws
            .request("state_getStorage", rpc_params![Bytes(key)])
            .await?;
        let info = match raw {
            None => Default::default(),
            Some(raw) => {
                frame_system::AccountInfo::<Nonce, pallet_balances::AccountData<Balance>>::decode(
                    &mut &raw[..],
                )
                .map_err(|_| ChainClientError::Decode("account record"))?
            }
        };
        Ok(Account {
            nonce: info.nonce,
            free: info.data.free,
            reserved: info.data.reserved,
        })
    }

    /// Signs `call` as `signer` with the chain's current parameters.
    pub async fn sign(
        &self,
        signer: &sr25519::Pair,
        call: RuntimeCall,
    ) -> Result<UncheckedExtrinsic, ChainClientError> {
        let who = AccountId::from(signer.public());
        let genesis: Hash = self
            .ws
            .request("chain_getBlockHash", rpc_params![0])
            .await?;
        let version: RuntimeVersionJson = self
            .ws
            .request("state_getRuntimeVersion", rpc_params![])
            .await?;
        let nonce: Nonce = self
            .ws
            .request("system_accountNextIndex", rpc_params![who.to_ss58check()])
            .await?;
        let best: HeaderJson = self.ws.request("chain_getHeader", rpc_params![]).await?;
        let best = u64::from_str_radix(best.number.trim_start_matches("0x"), 16)
            .map_err(|_| ChainClientError::Decode("header number"))?;
        let era = Era::mortal(MORTALITY, best);
        let birth: Hash = self
            .ws
            .request("chain_getBlockHash", rpc_params![era.birth(best)])
            .await?;
        Ok(sign_extrinsic(
            signer,
            call,
            &SigningParams {
                genesis,
                spec_version: version.spec_version,
                transaction_version: version.transaction_version,
                nonce,
                era,
                era_birth: birth,
            },
        ))
    }

    /// Submits `extrinsic` and waits until a block includes it; returns the
    /// block's hash.
    pub async fn submit_and_wait(
        &self,
        extrinsic: &UncheckedExtrinsic,
    ) -> Result<Hash, ChainClientError> {
        let mut statuses: Subscription<serde_json::Value> = self
            .ws
            .subscribe(
                "author_submitAndWatchExtrinsic",
                rpc_params![Bytes(extrinsic.encode())],
                "author_unwatchExtrinsic",
            )
            .await?;
        let wait = async {
            while let Some(status) = statuses.next().await {
                let status = status.map_err(|_| ChainClientError::Decode("transaction status"))?;
                if let Some(block) = status.get("inBlock").or_else(|| status.get("finalized")) {
                    return serde_json::from_value(block.clone())
                        .map_err(|_| ChainClientError::Decode("block hash"));
                }
                if let Some(word) = status
                    .as_str()
                    .filter(|s| *s == "invalid" || *s == "dropped")
                {
                    return Err(ChainClientError::Rejected(word.into()));
                }
            }
            Err(ChainClientError::Rejected("dropped by the node".into()))
        };
        tokio::time::timeout(INCLUSION_TIMEOUT, wait)
            .await
            .map_err(|_| ChainClientError::Timeout(INCLUSION_TIMEOUT))?
    }

    /// Transfers `amount` from `signer` to `to`, keeping the sender alive;
    /// returns the including block.
    pub async fn transfer(
        &self,
        signer: &sr25519::Pair,
        to: AccountId,
        amount: Balance,
    ) -> Result<Hash, ChainClientError> {
        let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
            dest: MultiAddress::Id(to),
            value: amount,
        });
        let extrinsic = self.sign(signer, call).await?;
        self.submit_and_wait(&extrinsic).await
    }
}
