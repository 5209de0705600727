//! The storage market through JSON-RPC: providers register, a client asks
//! for a quote and stores an object, and the order is on chain as quoted,
//! with its pieces, how it is read and the indexes that find it.

use std::collections::BTreeSet;

use anyhow::{anyhow, Context, Result};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClient;
use mosaic_primitives::encryption::{FileKey, SecretKey};
use mosaic_primitives::manifest::roots_cid;
use mosaic_primitives::piece::Layout;
use mosaic_runtime::parameters::ChainParameters;
use mosaic_runtime::{AccountId, Balance, BlockNumber, Hash, Runtime, RuntimeCall};
use pallet_mosaic_market::{
    Access, CipherSuite, CodingParams, NextOrderId, OrderId, OrderOf, OrderState, Orders,
    PieceRoot, Quote,
};
use pallet_mosaic_providers::{ProviderOf, ProviderStatus, Providers, GIB};
use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::sp_keyring::Sr25519Keyring::{self, Alice, Bob, Charlie, Dave, Eve, Ferdie};
use polkadot_sdk::sp_runtime::traits::Get;
use polkadot_sdk::sp_runtime::{BoundedVec, DispatchError};
use serde_json::Value;

use crate::harness::Node;
use crate::rpc::{
    account, best_header, decode, expect_error, from_hex, header, runtime_call, storage, BLOCK_WAIT,
};
use crate::tx::{address, in_block, next_nonce, submit_and_watch, submit_until_in_block, Signer};

/// More providers than an order's width, so that the market has to choose.
const PROVIDERS: [Sr25519Keyring; 4] = [Bob, Charlie, Dave, Eve];
const CLIENT: Sr25519Keyring = Alice;
const CAPACITY: u64 = GIB;
/// Per byte per block, for every provider; also the client's highest price.
const PRICE: Balance = 1;
/// One segment of 2 data + 1 parity shards: three pieces.
const SIZE: u64 = 10_000;
const PERIODS: u32 = 2;
/// `/ip4/127.0.0.1/tcp/4001`, binary.
const MULTIADDR: [u8; 8] = [0x04, 127, 0, 0, 1, 0x06, 0x0f, 0xa1];

fn coding() -> CodingParams {
    CodingParams::new(2, 1).expect("2 + 1 is within bounds")
}

fn stake() -> Balance {
    pallet_mosaic_providers::Pallet::<Runtime>::required_stake(CAPACITY)
}

fn bounded<T, S: Get<u32>>(items: Vec<T>) -> Result<BoundedVec<T, S>> {
    BoundedVec::try_from(items).map_err(|_| anyhow!("more than {} items", S::get()))
}

fn register(provider: Sr25519Keyring) -> Result<RuntimeCall> {
    Ok(RuntimeCall::Providers(
        pallet_mosaic_providers::Call::register {
            stake: stake(),
            capacity: CAPACITY,
            price: PRICE,
            peer_id: bounded(provider.to_account_id().encode())?,
            multiaddrs: bounded(vec![bounded(MULTIADDR.to_vec())?])?,
        },
    ))
}

async fn quote(
    client: &WsClient,
    max_price: Balance,
    at: Hash,
) -> Result<Result<Quote<AccountId, Balance>, DispatchError>> {
    let args = (SIZE, coding(), 1u32, PERIODS, max_price).encode();
    runtime_call(client, "MosaicApi_quote", &args, Some(at)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_stores_an_object_with_registered_providers() -> Result<()> {
    let node = Node::dev().await?;
    let client = node.ws_client().await?;
    let signer = Signer::from_node(&client).await?;

    // Each provider registers from its own account, all at once.
    let mut watches = Vec::new();
    for provider in PROVIDERS {
        let nonce = next_nonce(&client, provider).await?;
        let registration = signer.sign(provider, register(provider)?, nonce);
        watches.push(submit_and_watch(&client, &registration).await?);
    }
    for watch in &mut watches {
        in_block(watch, BLOCK_WAIT).await?;
    }
    // The best block descends from every registration's block.
    let at = best_header(&client).await?.hash();
    for provider in PROVIDERS {
        let key = Providers::<Runtime>::hashed_key_for(provider.to_account_id());
        let record: ProviderOf<Runtime> = storage(&client, &key, Some(at))
            .await?
            .with_context(|| format!("{provider:?} is not registered"))?;
        assert_eq!(
            (record.stake, record.capacity, record.used, record.price),
            (stake(), CAPACITY, 0, PRICE)
        );
        assert_eq!(record.status, ProviderStatus::Active);
    }
    let shown: Value = client
        .request("mosaic_provider", rpc_params![address(Bob), at])
        .await?;
    let bob_key = Providers::<Runtime>::hashed_key_for(Bob.to_account_id());
    let stored: Option<ProviderOf<Runtime>> = storage(&client, &bob_key, Some(at)).await?;
    assert_eq!(
        scale_option::<ProviderOf<Runtime>>(&shown)?.encode(),
        stored.encode(),
        "mosaic_provider disagrees with the state"
    );
    let unknown: Value = client
        .request("mosaic_provider", rpc_params![address(Ferdie)])
        .await?;
    assert!(scale_option::<ProviderOf<Runtime>>(&unknown)?.is_none());

    // The quote: one distinct registered provider per piece, at its price.
    let too_cheap = quote(&client, 0, at).await?;
    assert_eq!(
        too_cheap.err(),
        Some(pallet_mosaic_market::Error::<Runtime>::NoProviders.into())
    );
    let quote = quote(&client, PRICE, at)
        .await?
        .map_err(|e| anyhow!("no quote: {e:?}"))?;
    let width = coding().total_shards();
    let piece_size = Layout::new(coding(), SIZE)?.piece_size();
    let chosen: BTreeSet<AccountId> = quote.pieces.iter().map(|p| p.0.clone()).collect();
    let registered: BTreeSet<AccountId> = PROVIDERS.iter().map(|p| p.to_account_id()).collect();
    assert_eq!(quote.pieces.len(), width);
    assert_eq!(chosen.len(), width, "a provider got two pieces of an order");
    assert!(chosen.is_subset(&registered));
    assert!(quote.pieces.iter().all(|(_, price)| *price == PRICE));
    assert_eq!(quote.piece_size, piece_size);
    // The dev preset's period length, as the chain spec sets it.
    let period = ChainParameters::DEVELOPMENT.period_length;
    let escrow: Balance = quote
        .pieces
        .iter()
        .map(|(_, price)| {
            Balance::from(piece_size) * price * Balance::from(period) * Balance::from(PERIODS)
        })
        .sum();
    assert_eq!(quote.escrow, escrow);
    let params = coding();
    let quote_params = |max_price: Balance| {
        rpc_params![
            SIZE,
            params.data_shards,
            params.parity_shards,
            params.segment_size,
            1,
            PERIODS,
            max_price.to_string(),
            at
        ]
    };
    let rpc_quote: String = client.request("mosaic_quote", quote_params(PRICE)).await?;
    assert_eq!(
        decode::<Quote<AccountId, Balance>>(&from_hex(&rpc_quote)?)?,
        quote
    );
    let result: Result<Value, _> = client.request("mosaic_quote", quote_params(0)).await;
    expect_error("mosaic_quote below every price", result)?;

    // The client stores the object, encrypted to its own key.
    let roots: Vec<PieceRoot> = (1..=width as u8).map(|i| PieceRoot([i; 32])).collect();
    let cid = roots_cid(&roots).to_bytes();
    let reader = SecretKey::from_seed(&[7; 32]).public();
    let access = Access::Encrypted {
        suite: CipherSuite::ChaCha20Poly1305,
        keys: bounded(vec![FileKey::generate()?.wrap(&reader)])?,
    };
    let id: OrderId = storage(&client, &NextOrderId::<Runtime>::hashed_key(), Some(at))
        .await?
        .unwrap_or_default();
    let owner = CLIENT.to_account_id();
    let held_before = account(&client, &owner, Some(at)).await?.data.reserved;
    let store = RuntimeCall::Market(pallet_mosaic_market::Call::store {
        cid: bounded(cid.clone())?,
        size: SIZE,
        coding: coding(),
        roots: bounded(roots.clone())?,
        access: access.clone(),
        periods: PERIODS,
        max_price: PRICE,
    });
    let nonce = next_nonce(&client, CLIENT).await?;
    let block =
        submit_until_in_block(&client, &signer.sign(CLIENT, store, nonce), BLOCK_WAIT).await?;
    let number: BlockNumber = header(&client, block).await?.number;

    let order: OrderOf<Runtime> =
        storage(&client, &Orders::<Runtime>::hashed_key_for(id), Some(block))
            .await?
            .context("the order is not on chain")?;
    assert_eq!(order.owner, owner);
    assert_eq!(order.cid.to_vec(), cid);
    assert_eq!(
        (order.size, order.coding, order.periods),
        (SIZE, coding(), PERIODS)
    );
    assert_eq!((order.pieces.len(), order.confirmed), (width, 0));
    assert_eq!(order.piece_size, piece_size);
    assert_eq!(order.access, access, "what get needs is recorded");
    assert_eq!(
        (order.escrow, order.deposit, order.bond),
        (quote.escrow, quote.deposit, quote.bond)
    );
    let confirm_window: BlockNumber = ChainParameters::DEVELOPMENT.confirm_window;
    assert_eq!(
        order.state,
        OrderState::Pending {
            deadline: number + confirm_window
        }
    );
    let held_after = account(&client, &owner, Some(block)).await?.data.reserved;
    assert_eq!(
        held_after,
        held_before + quote.escrow + quote.deposit + quote.bond
    );

    // The runtime API and the RPC show the same order. Its pieces are
    // placed by the randomness of the block that included it, not the
    // quote's: the same terms, each on its own registered provider.
    let record: OrderOf<Runtime> =
        runtime_call::<Option<_>>(&client, "MosaicApi_order", &id.encode(), Some(block))
            .await?
            .context("MosaicApi_order knows no such order")?;
    assert_eq!(record.encode(), order.encode());
    let placed: Vec<_> = order
        .pieces
        .iter()
        .map(|p| (p.root, p.price, p.confirmed))
        .collect();
    let quoted: Vec<_> = roots.iter().map(|root| (*root, PRICE, false)).collect();
    assert_eq!(placed, quoted);
    let holders: BTreeSet<AccountId> = order.pieces.iter().map(|p| p.provider.clone()).collect();
    assert_eq!(holders.len(), width, "a provider got two pieces");
    assert!(holders.is_subset(&registered));
    let shown: Value = client.request("mosaic_order", rpc_params![id]).await?;
    assert_eq!(
        scale_option::<OrderOf<Runtime>>(&shown)?.encode(),
        Some(&order).encode(),
        "mosaic_order disagrees with the state"
    );
    let missing: Value = client
        .request("mosaic_order", rpc_params![id + 1_000])
        .await?;
    assert!(
        scale_option::<OrderOf<Runtime>>(&missing)?.is_none(),
        "mosaic_order invents order {}",
        id + 1_000
    );

    // The indexes find it: by owner, by CID, and by each provider.
    let page: String = client
        .request(
            "mosaic_ordersOf",
            rpc_params![address(CLIENT), Option::<u64>::None, 10, block],
        )
        .await?;
    assert_eq!(decode::<Vec<OrderId>>(&from_hex(&page)?)?, vec![id]);
    let page: String = client
        .request(
            "mosaic_ordersByCid",
            rpc_params![
                format!("0x{}", hex::encode(&cid)),
                Option::<u64>::None,
                10,
                block
            ],
        )
        .await?;
    assert_eq!(decode::<Vec<OrderId>>(&from_hex(&page)?)?, vec![id]);
    for (number, piece) in order.pieces.iter().enumerate() {
        let who = PROVIDERS
            .iter()
            .find(|p| p.to_account_id() == piece.provider)
            .context("a piece went to an unregistered provider")?;
        let page: String = client
            .request("mosaic_piecesOf", rpc_params![address(*who), 0, 10, block])
            .await?;
        assert_eq!(
            decode::<Vec<(OrderId, u32)>>(&from_hex(&page)?)?,
            vec![(id, number as u32)]
        );
    }
    Ok(())
}

/// A `mosaic_*` answer: the hex of a SCALE-encoded `Option<T>`, or JSON
/// `null` for `None`.
fn scale_option<T: Decode>(answer: &Value) -> Result<Option<T>> {
    match answer {
        Value::Null => Ok(None),
        Value::String(hex) => decode(&from_hex(hex)?),
        other => anyhow::bail!("neither null nor hex: {other}"),
    }
}
