//! A connection to a node over JSON-RPC (WebSocket), as any Substrate client
//! makes one: account state, signing with the chain's current parameters,
//! submitting a transaction and following it to its events, and the
//! market's, providers' and names' records through `mosaic_*`.

use std::time::Duration;

use jsonrpsee::core::client::Subscription;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use mosaic_runtime::signing::{sign_extrinsic, SigningParams};
use mosaic_runtime::{
    AccountId, Balance, BlockNumber, Hash, Header, Nonce, Runtime, RuntimeCall, RuntimeError,
    RuntimeEvent, UncheckedExtrinsic,
};
use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::frame_system::{self, EventRecord, Phase};
use polkadot_sdk::pallet_balances;
use polkadot_sdk::sp_core::crypto::Ss58Codec;
use polkadot_sdk::sp_core::{sr25519, Bytes};
use polkadot_sdk::sp_crypto_hashing::twox_128;
use polkadot_sdk::sp_runtime::generic::Era;
use polkadot_sdk::sp_runtime::traits::{BlakeTwo256, Hash as _};
use polkadot_sdk::sp_runtime::{DispatchError, MultiAddress};

use crate::rpc::{
    AuthorRpcClient, ChainRpcClient, ListOrValue, MosaicRpcClient, StateRpcClient, SystemRpcClient,
};
use crate::TxStatus;

pub use pallet_mosaic_audit::{Challenge, Tally};
pub use pallet_mosaic_market::{Access, CodingParams, OrderId, OrderState, Quote, MAX_PAGE};

/// An order as the chain records it.
pub type Order = pallet_mosaic_market::OrderOf<Runtime>;
/// A provider as the chain records it.
pub type Provider = pallet_mosaic_providers::ProviderOf<Runtime>;
/// What a name resolves to.
pub type NameResolution = pallet_mosaic_names::Resolution<AccountId, BlockNumber>;
/// A kept version of a name.
pub type NameVersion = pallet_mosaic_names::Entry<BlockNumber>;

/// Blocks a signed transaction stays valid for.
const MORTALITY: u64 = 64;
/// How long to wait for a transaction to be included.
const INCLUSION_TIMEOUT: Duration = Duration::from_secs(60);

/// Why talking to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// No node answers at the address.
    #[error(
        "cannot reach a node at {url}: is one running there? start one with `mosaic-node --dev`"
    )]
    Connect {
        /// The address.
        url: String,
        /// The cause.
        #[source]
        source: jsonrpsee::core::ClientError,
    },
    /// A call failed; the message says which.
    #[error("node: {0}")]
    Rpc(#[from] jsonrpsee::core::ClientError),
    /// The node answered something that does not decode.
    #[error("the node's {0} does not decode; is it a Mosaic node of this version?")]
    Decode(&'static str),
    /// The node reported the transaction invalid or dropped it.
    #[error("the transaction was {0:?}")]
    Rejected(TxStatus),
    /// The transaction was not included in time.
    #[error("the transaction was not included within {0:?}")]
    Timeout(Duration),
    /// The transaction was included but its call failed.
    #[error("the transaction failed: {0}")]
    Failed(String),
    /// The address is not SS58.
    #[error("`{0}` is not an SS58 address")]
    Address(String),
    /// A query the runtime refused (the quote's error).
    #[error("the chain refused: {0}")]
    Refused(String),
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

/// A transaction in a block, with what it did.
#[derive(Clone, Debug)]
pub struct Included {
    /// The block.
    pub block: Hash,
    /// The events it emitted, in order.
    pub events: Vec<RuntimeEvent>,
}

/// Parses an SS58 address.
pub fn parse_address(address: &str) -> Result<AccountId, ChainError> {
    AccountId::from_ss58check(address).map_err(|_| ChainError::Address(address.into()))
}

/// Names a dispatch error as the runtime declares it (`Market(NotOwner)`).
pub fn describe(error: DispatchError) -> String {
    match RuntimeError::from_dispatch_error(error) {
        Some(error) => format!("{error:?}"),
        None => format!("{error:?}"),
    }
}

/// A connection to a node.
pub struct ChainClient {
    ws: WsClient,
    /// The chain's genesis hash, which every signature commits to.
    genesis: Hash,
}

impl ChainClient {
    /// Connects to `url` (`ws://127.0.0.1:9944`).
    pub async fn connect(url: &str) -> Result<Self, ChainError> {
        let ws = WsClientBuilder::default()
            .max_response_size(64 << 20)
            .build(url)
            .await
            .map_err(|source| ChainError::Connect {
                url: url.into(),
                source,
            })?;
        let genesis = block_hash(&ws, 0)
            .await?
            .ok_or(ChainError::Decode("genesis hash"))?;
        Ok(ChainClient { ws, genesis })
    }

    /// The raw jsonrpsee client, for the typed traits of [`crate::rpc`].
    pub fn rpc(&self) -> &WsClient {
        &self.ws
    }

    /// An account's state at the best block.
    pub async fn account(&self, who: &AccountId) -> Result<Account, ChainError> {
        self.account_at(who, None).await
    }

    /// An account's state at block `at` (the best block if `None`).
    pub async fn account_at(
        &self,
        who: &AccountId,
        at: Option<Hash>,
    ) -> Result<Account, ChainError> {
        let key = frame_system::Account::<Runtime>::hashed_key_for(who);
        let info = match self.ws.storage(Bytes(key), at).await? {
            None => Default::default(),
            Some(raw) => {
                frame_system::AccountInfo::<Nonce, pallet_balances::AccountData<Balance>>::decode(
                    &mut &raw[..],
                )
                .map_err(|_| ChainError::Decode("account record"))?
            }
        };
        Ok(Account {
            nonce: info.nonce,
            free: info.data.free,
            reserved: info.data.reserved,
        })
    }

    /// What `who` was paid so far as a provider, out of its orders'
    /// escrow for proven pieces (the market's `Earned`; nothing is minted).
    pub async fn earned(&self, who: &AccountId) -> Result<Balance, ChainError> {
        let key = pallet_mosaic_market::Earned::<Runtime>::hashed_key_for(who);
        match self.ws.storage(Bytes(key), None).await? {
            None => Ok(0),
            Some(raw) => Balance::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("a tally")),
        }
    }

    /// What the audit recorded about provider `who`: challenges proven
    /// and failed, stake slashed (the audit's `Tallies`).
    pub async fn audit_tally(&self, who: &AccountId) -> Result<Tally<Balance>, ChainError> {
        let key = pallet_mosaic_audit::Tallies::<Runtime>::hashed_key_for(who);
        match self.ws.storage(Bytes(key), None).await? {
            None => Ok(Tally::default()),
            Some(raw) => Decode::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("a tally")),
        }
    }

    /// Signs `call` as `signer` with the chain's current parameters and the
    /// sender's next nonce (pool included), mortal for 64 blocks.
    pub async fn sign(
        &self,
        signer: &sr25519::Pair,
        call: RuntimeCall,
    ) -> Result<UncheckedExtrinsic, ChainError> {
        let who = AccountId::from(polkadot_sdk::sp_core::Pair::public(signer));
        let nonce = self.next_nonce(&who).await?;
        self.sign_with_nonce(signer, call, nonce).await
    }

    /// Signs `call` as `signer` with `nonce`.
    pub async fn sign_with_nonce(
        &self,
        signer: &sr25519::Pair,
        call: RuntimeCall,
        nonce: Nonce,
    ) -> Result<UncheckedExtrinsic, ChainError> {
        let version = self.ws.runtime_version(None).await?;
        let best = self.best_header().await?;
        let era = Era::mortal(MORTALITY, u64::from(best.number));
        let birth = block_hash(&self.ws, era.birth(u64::from(best.number)) as BlockNumber)
            .await?
            .ok_or(ChainError::Decode("era birth hash"))?;
        Ok(sign_extrinsic(
            signer,
            call,
            &SigningParams {
                genesis: self.genesis,
                spec_version: version.spec_version,
                transaction_version: version.transaction_version,
                nonce,
                era,
                era_birth: birth,
            },
        ))
    }

    /// The best block's header.
    pub async fn best_header(&self) -> Result<Header, ChainError> {
        self.ws
            .header(None)
            .await?
            .ok_or(ChainError::Decode("best header"))
    }

    /// The next nonce of `who`, transactions in the pool included.
    pub async fn next_nonce(&self, who: &AccountId) -> Result<Nonce, ChainError> {
        Ok(self.ws.account_next_index(who.to_ss58check()).await?)
    }

    /// Submits `extrinsic` and answers its status stream; the pool refusing
    /// it is an error here.
    pub async fn watch(
        &self,
        extrinsic: &UncheckedExtrinsic,
    ) -> Result<Subscription<TxStatus>, ChainError> {
        Ok(self
            .ws
            .submit_and_watch_extrinsic(Bytes(extrinsic.encode()))
            .await?)
    }

    /// Follows a watched `extrinsic` until a block includes it and answers
    /// the block and the transaction's events; an included transaction whose
    /// call failed is [`ChainError::Failed`], named as the runtime names it.
    pub async fn follow(
        &self,
        extrinsic: &UncheckedExtrinsic,
        mut statuses: Subscription<TxStatus>,
    ) -> Result<Included, ChainError> {
        let wait = async {
            while let Some(status) = statuses.next().await {
                match status.map_err(|_| ChainError::Decode("transaction status"))? {
                    TxStatus::InBlock(block) | TxStatus::Finalized(block) => return Ok(block),
                    status if status.is_final() => return Err(ChainError::Rejected(status)),
                    _ => {}
                }
            }
            Err(ChainError::Rejected(TxStatus::Dropped))
        };
        let block = tokio::time::timeout(INCLUSION_TIMEOUT, wait)
            .await
            .map_err(|_| ChainError::Timeout(INCLUSION_TIMEOUT))??;
        let events = self
            .extrinsic_events(block, BlakeTwo256::hash(&extrinsic.encode()))
            .await?;
        for event in &events {
            if let RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
                dispatch_error,
                ..
            }) = event
            {
                return Err(ChainError::Failed(describe(*dispatch_error)));
            }
        }
        Ok(Included { block, events })
    }

    /// Submits `extrinsic` and follows it into a block ([`Self::follow`]).
    pub async fn submit(&self, extrinsic: &UncheckedExtrinsic) -> Result<Included, ChainError> {
        let statuses = self.watch(extrinsic).await?;
        self.follow(extrinsic, statuses).await
    }

    /// Every event of `block`, with the phase it was emitted in.
    pub async fn block_events(
        &self,
        block: Hash,
    ) -> Result<Vec<(Phase, RuntimeEvent)>, ChainError> {
        // `System::Events` is private to its pallet; its key is public knowledge.
        let key = [twox_128(b"System"), twox_128(b"Events")].concat();
        let raw = self.ws.storage(Bytes(key), Some(block)).await?;
        let records: Vec<EventRecord<RuntimeEvent, Hash>> = match raw {
            None => Vec::new(),
            Some(raw) => Decode::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("events"))?,
        };
        Ok(records.into_iter().map(|r| (r.phase, r.event)).collect())
    }

    /// A block's header.
    pub async fn header(&self, hash: Hash) -> Result<Option<Header>, ChainError> {
        Ok(self.ws.header(Some(hash)).await?)
    }

    /// The events of the extrinsic with hash `hash` in `block`.
    async fn extrinsic_events(
        &self,
        block: Hash,
        hash: Hash,
    ) -> Result<Vec<RuntimeEvent>, ChainError> {
        let body = self
            .ws
            .block(Some(block))
            .await?
            .ok_or(ChainError::Decode("block body"))?;
        let index = body
            .block
            .extrinsics
            .iter()
            .position(|xt| BlakeTwo256::hash(xt) == hash)
            .ok_or(ChainError::Decode(
                "block body (the transaction is not in it)",
            ))?;
        Ok(self
            .block_events(block)
            .await?
            .into_iter()
            .filter(|(phase, _)| *phase == Phase::ApplyExtrinsic(index as u32))
            .map(|(_, event)| event)
            .collect())
    }

    /// Signs `call`, submits it and waits for its inclusion.
    pub async fn sign_and_submit(
        &self,
        signer: &sr25519::Pair,
        call: RuntimeCall,
    ) -> Result<Included, ChainError> {
        let extrinsic = self.sign(signer, call).await?;
        self.submit(&extrinsic).await
    }

    /// Transfers `amount` from `signer` to `to`, keeping the sender alive.
    pub async fn transfer(
        &self,
        signer: &sr25519::Pair,
        to: AccountId,
        amount: Balance,
    ) -> Result<Included, ChainError> {
        let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
            dest: MultiAddress::Id(to),
            value: amount,
        });
        self.sign_and_submit(signer, call).await
    }

    /// What storing `size` bytes would cost and where it would go.
    pub async fn quote(
        &self,
        size: u64,
        coding: CodingParams,
        recipients: u32,
        periods: u32,
        max_price: Balance,
    ) -> Result<Quote<AccountId, Balance>, ChainError> {
        let raw = self
            .ws
            .quote(
                size,
                coding.data_shards,
                coding.parity_shards,
                coding.segment_size,
                recipients,
                periods,
                max_price.to_string(),
                None,
            )
            .await?;
        Quote::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("quote"))
    }

    /// An order, at `at` or the best block.
    pub async fn order(&self, id: OrderId, at: Option<Hash>) -> Result<Option<Order>, ChainError> {
        let raw = self.ws.order(id, at).await?;
        Decode::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("order"))
    }

    /// A provider's record, at `at` or the best block.
    pub async fn provider(
        &self,
        who: &AccountId,
        at: Option<Hash>,
    ) -> Result<Option<Provider>, ChainError> {
        let raw = self.ws.provider(who.to_ss58check(), at).await?;
        Decode::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("provider"))
    }

    /// The challenges open for provider `who` at `at` (the best block if
    /// none), one per challenged piece.
    pub async fn challenges(
        &self,
        who: &AccountId,
        at: Option<Hash>,
    ) -> Result<Vec<Challenge>, ChainError> {
        let raw = self.ws.challenges(who.to_ss58check(), at).await?;
        Decode::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("challenges"))
    }

    /// Every registered provider, in key order (the map's keys end with the
    /// account), at the best block.
    pub async fn providers(&self) -> Result<Vec<(AccountId, Provider)>, ChainError> {
        // The registry's `Providers` map: a Blake2-128-concat key under the
        // pallet's and the item's name.
        let prefix = [twox_128(b"Providers"), twox_128(b"Providers")].concat();
        let mut all = Vec::new();
        let mut start: Option<Bytes> = None;
        loop {
            let keys = self
                .ws
                .keys_paged(Some(Bytes(prefix.clone())), 1000, start.clone(), None)
                .await?;
            for key in &keys {
                let Some(account) = key.0.len().checked_sub(32).map(|at| &key.0[at..]) else {
                    continue;
                };
                let account = AccountId::decode(&mut &account[..])
                    .map_err(|_| ChainError::Decode("provider key"))?;
                if let Some(raw) = self.ws.storage(key.clone(), None).await? {
                    let record = Provider::decode(&mut &raw[..])
                        .map_err(|_| ChainError::Decode("provider"))?;
                    all.push((account, record));
                }
            }
            if keys.len() < 1000 {
                return Ok(all);
            }
            start = keys.last().cloned();
        }
    }

    /// Every `(order, piece)` a provider holds or is assigned, at `at`.
    pub async fn pieces_of(
        &self,
        provider: &AccountId,
        at: Option<Hash>,
    ) -> Result<Vec<(OrderId, u32)>, ChainError> {
        let mut all = Vec::new();
        loop {
            let raw = self
                .ws
                .pieces_of(provider.to_ss58check(), all.len() as u32, MAX_PAGE, at)
                .await?;
            let page: Vec<(OrderId, u32)> =
                Decode::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("piece list"))?;
            let last = page.len() < MAX_PAGE as usize;
            all.extend(page);
            if last {
                return Ok(all);
            }
        }
    }

    /// Every order of `owner`.
    pub async fn orders_of(&self, owner: &AccountId) -> Result<Vec<OrderId>, ChainError> {
        self.paged(|after| {
            self.ws
                .orders_of(owner.to_ss58check(), after, MAX_PAGE, None)
        })
        .await
    }

    /// Every order of a CID (binary).
    pub async fn orders_by_cid(&self, cid: &[u8]) -> Result<Vec<OrderId>, ChainError> {
        self.paged(|after| {
            self.ws
                .orders_by_cid(Bytes(cid.to_vec()), after, MAX_PAGE, None)
        })
        .await
    }

    /// What `name` resolves to at the best block: its latest version, or
    /// `version`; `None` if no such name is registered.
    pub async fn resolve(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<NameResolution>, ChainError> {
        let raw = self.ws.resolve(name.into(), version, None).await?;
        Decode::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("name resolution"))
    }

    /// Every kept version of `name` at the best block, newest first (none
    /// for an unknown name).
    pub async fn name_history(&self, name: &str) -> Result<Vec<NameVersion>, ChainError> {
        let limit = pallet_mosaic_names::MAX_PAGE;
        let mut all: Vec<NameVersion> = Vec::new();
        loop {
            let before = all.last().map(|entry| entry.version);
            let raw = self
                .ws
                .name_history(name.into(), before, limit, None)
                .await?;
            let page: Vec<NameVersion> =
                Decode::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("name history"))?;
            let last = page.len() < limit as usize;
            all.extend(page);
            if last {
                return Ok(all);
            }
        }
    }

    /// The names `owner` holds at the best block.
    pub async fn names_of(&self, owner: &AccountId) -> Result<Vec<String>, ChainError> {
        let raw = self.ws.names_of(owner.to_ss58check(), None).await?;
        let names: Vec<Vec<u8>> =
            Decode::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("name list"))?;
        Ok(names
            .into_iter()
            .map(|name| String::from_utf8_lossy(&name).into_owned())
            .collect())
    }

    async fn paged<F, Fut>(&self, page: F) -> Result<Vec<OrderId>, ChainError>
    where
        F: Fn(Option<OrderId>) -> Fut,
        Fut: std::future::Future<Output = Result<Bytes, jsonrpsee::core::ClientError>>,
    {
        let mut all: Vec<OrderId> = Vec::new();
        loop {
            let raw = page(all.last().copied()).await?;
            let ids: Vec<OrderId> =
                Decode::decode(&mut &raw[..]).map_err(|_| ChainError::Decode("order list"))?;
            let last = ids.len() < MAX_PAGE as usize;
            all.extend(ids);
            if last {
                return Ok(all);
            }
        }
    }

    /// New best heads.
    pub async fn new_heads(&self) -> Result<Subscription<Header>, ChainError> {
        Ok(self.ws.subscribe_new_heads().await?)
    }

    /// Newly finalized heads.
    pub async fn finalized_heads(&self) -> Result<Subscription<Header>, ChainError> {
        Ok(self.ws.subscribe_finalized_heads().await?)
    }

    /// The last finalized block.
    pub async fn finalized_head(&self) -> Result<Hash, ChainError> {
        Ok(self.ws.finalized_head().await?)
    }
}

/// The hash of the best chain's block `number`, if it has one.
async fn block_hash(ws: &WsClient, number: BlockNumber) -> Result<Option<Hash>, ChainError> {
    match ws
        .block_hash(Some(ListOrValue::Value(number.into())))
        .await?
    {
        ListOrValue::Value(hash) => Ok(hash),
        ListOrValue::List(_) => Err(ChainError::Decode("block hash")),
    }
}
