//! Names through JSON-RPC: an account registers a name and sets it twice,
//! and `mosaic_resolve`, `mosaic_nameHistory` and `mosaic_namesOf` answer
//! what the chain recorded; a transfer moves it to another account.

use anyhow::Result;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClient;
use mosaic_runtime::{AccountId, BlockNumber, Hash, RuntimeCall};
use pallet_mosaic_names::{Call, Entry, Name, Resolution};
use polkadot_sdk::sp_keyring::Sr25519Keyring::{Alice, Bob};
use polkadot_sdk::sp_runtime::{BoundedVec, MultiAddress};
use serde_json::Value;

use crate::harness::Node;
use crate::rpc::{decode, from_hex, header, BLOCK_WAIT};
use crate::tx::{address, in_block, next_nonce, submit_and_watch, submit_until_in_block, Signer};

const NAME: &str = "dataset";

fn cid(n: u8) -> Vec<u8> {
    mosaic_primitives::unixfs::file_cid(&[n]).to_bytes()
}

fn name() -> Name {
    Name::truncate_from(NAME.as_bytes().to_vec())
}

/// A `mosaic_*` answer's SCALE bytes, decoded.
fn scale<T: parity_scale_codec::Decode>(answer: &Value) -> Result<T> {
    decode(&from_hex(answer.as_str().unwrap_or_default())?)
}

async fn resolve(
    client: &WsClient,
    version: Option<u32>,
    at: Hash,
) -> Result<Option<Resolution<AccountId, BlockNumber>>> {
    let answer: Value = client
        .request("mosaic_resolve", rpc_params![NAME, version, at])
        .await?;
    scale(&answer)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_set_twice_resolves_and_pages_through_rpc() -> Result<()> {
    let node = Node::dev().await?;
    let client = node.ws_client().await?;
    let signer = Signer::from_node(&client).await?;

    // Register and set twice, all at once, nonces in order.
    let calls = [
        Call::register { name: name() },
        Call::set {
            name: name(),
            cid: BoundedVec::truncate_from(cid(1)),
        },
        Call::set {
            name: name(),
            cid: BoundedVec::truncate_from(cid(2)),
        },
    ];
    let first = next_nonce(&client, Alice).await?;
    let mut watches = Vec::new();
    for (call, nonce) in calls.into_iter().zip(first..) {
        let extrinsic = signer.sign(Alice, RuntimeCall::Names(call), nonce);
        watches.push(submit_and_watch(&client, &extrinsic).await?);
    }
    let mut last = None;
    for watch in &mut watches {
        last = Some(in_block(watch, BLOCK_WAIT).await?);
    }
    let at = last.expect("three transactions were watched");

    let latest = resolve(&client, None, at)
        .await?
        .expect("the name is registered");
    assert_eq!(
        (latest.owner.clone(), latest.latest, latest.oldest),
        (Alice.to_account_id(), 2, 1)
    );
    let second = latest.entry.expect("version 2 is kept");
    assert_eq!((second.version, second.cid.clone()), (2, cid(2)));
    let first_version = resolve(&client, Some(1), at).await?.and_then(|r| r.entry);
    assert_eq!(first_version.map(|e| e.cid), Some(cid(1)));
    assert!(resolve(&client, Some(3), at)
        .await?
        .and_then(|r| r.entry)
        .is_none());
    // The versions were set in blocks up to the one that held the last.
    assert!(second.set_at <= header(&client, at).await?.number);

    // History, one version a page.
    let page: Value = client
        .request(
            "mosaic_nameHistory",
            rpc_params![NAME, Option::<u32>::None, 1, at],
        )
        .await?;
    let page: Vec<Entry<BlockNumber>> = scale(&page)?;
    assert_eq!(page.iter().map(|e| e.version).collect::<Vec<_>>(), vec![2]);
    let page: Value = client
        .request("mosaic_nameHistory", rpc_params![NAME, Some(2u32), 1, at])
        .await?;
    let page: Vec<Entry<BlockNumber>> = scale(&page)?;
    assert_eq!(page.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1]);

    let names: Value = client
        .request("mosaic_namesOf", rpc_params![address(Alice), at])
        .await?;
    assert_eq!(
        scale::<Vec<Vec<u8>>>(&names)?,
        vec![NAME.as_bytes().to_vec()]
    );

    // Bob gets it, history and all.
    let transfer = Call::transfer {
        name: name(),
        to: MultiAddress::Id(Bob.to_account_id()),
    };
    let nonce = next_nonce(&client, Alice).await?;
    let extrinsic = signer.sign(Alice, RuntimeCall::Names(transfer), nonce);
    let at = submit_until_in_block(&client, &extrinsic, BLOCK_WAIT).await?;
    let moved = resolve(&client, None, at).await?.expect("still registered");
    assert_eq!((moved.owner, moved.latest), (Bob.to_account_id(), 2));
    let names: Value = client
        .request("mosaic_namesOf", rpc_params![address(Bob), at])
        .await?;
    assert_eq!(
        scale::<Vec<Vec<u8>>>(&names)?,
        vec![NAME.as_bytes().to_vec()]
    );
    let names: Value = client
        .request("mosaic_namesOf", rpc_params![address(Alice), at])
        .await?;
    assert!(scale::<Vec<Vec<u8>>>(&names)?.is_empty());
    Ok(())
}
