//! Pieces that move. A provider that vanishes after it is placed: at the
//! confirm deadline the chain slashes it and moves its piece, and the
//! owner's `mosaic put` uploads that piece to the new provider, so the order
//! goes live. A provider that leaves a live order: the chain moves its piece
//! to the one provider left, whose worker rebuilds it from the others,
//! checks it against its root, stores and confirms it.

use anyhow::{ensure, Context, Result};
use std::time::Duration;

use mosaic_api::chain::OrderState;
use mosaic_tests::{write_sample, Network};

use crate::storage::get_back;
use polkadot_sdk::sp_core::crypto::Ss58Codec;

/// Blocks to confirm an order on this test's chain (3 s each): short, so
/// that the deadline comes within the test.
const CONFIRM_WINDOW: u32 = 10;

#[tokio::test(flavor = "multi_thread")]
async fn pieces_that_move_are_uploaded_again_or_rebuilt() -> Result<()> {
    // Seven providers for six pieces; the seventh, with far more free room,
    // is all but sure to be drawn (placement weighs free capacity), and is
    // stopped before the put.
    let mut capacities = vec!["1GiB"; 7];
    capacities[6] = "64GiB";
    let mut net =
        Network::start_with(&capacities, &[("confirmWindow", CONFIRM_WINDOW)], 3600).await?;
    let vanished = net.workers[6].key().address();
    net.stop_worker(6).await?;
    let chain = net.chain().await?;
    let account = net.workers[6].key().account_id();
    let stake_before = chain
        .provider(&account, None)
        .await?
        .context("registered")?
        .stake;

    let owner = net.funded_account("owner", "1000").await?;
    let owner = owner.to_str().context("UTF-8")?;
    let sample = net.path("sample.bin");
    write_sample(&sample, 3 << 20, 5)?;
    let sample_text = sample.to_str().context("UTF-8")?;
    let (ok, stdout, stderr) = net
        .mosaic_unchecked(&["put", sample_text, "--key", owner, "--json"])
        .await?;
    ensure!(ok, "put failed:\n{stdout}\n{stderr}");
    let put: serde_json::Value = serde_json::from_str(stdout.lines().last().context("no output")?)?;
    let order = put["order"].as_u64().context("order id")?;

    // The vanished provider was drawn, and the put said what it waited for.
    ensure!(
        stderr.contains(&vanished) && stderr.contains("waiting for its confirm deadline"),
        "the put does not name the vanished provider {vanished}:\n{stderr}"
    );
    // Live, every piece confirmed, none on the vanished provider, whose
    // bond was slashed.
    let record = chain.order(order, None).await?.context("the order")?;
    ensure!(
        matches!(record.state, OrderState::Live { .. })
            && record.pieces.iter().all(|p| p.confirmed),
        "{record:?}"
    );
    ensure!(
        record
            .pieces
            .iter()
            .all(|p| p.provider.to_ss58check() != vanished),
        "a piece is still on the vanished provider: {:?}",
        record.pieces
    );
    let stake_after = chain
        .provider(&account, None)
        .await?
        .context("still registered")?
        .stake;
    ensure!(
        stake_after < stake_before,
        "the vanished provider kept its whole stake ({stake_after})"
    );

    // The file comes back whole.
    let back = net.path("back.bin");
    get_back(
        &net,
        &order.to_string(),
        &back,
        owner,
        &sample,
        "get after the move",
    )
    .await?;

    // The vanished worker comes back, holding nothing; a holder unbonds:
    // its piece can only move to the worker that came back, which rebuilds
    // it from the other pieces and confirms it in time.
    net.start_worker(6).await?;
    // Its slash left it short of the stake its capacity needs, so placement
    // passes it by until it tops its stake up.
    let slashed = chain
        .provider(&account, None)
        .await?
        .context("still registered")?;
    chain
        .sign_and_submit(
            &net.workers[6].key().pair(),
            mosaic_runtime::RuntimeCall::Providers(pallet_mosaic_providers::Call::update {
                stake: stake_before,
                capacity: slashed.capacity,
                price: slashed.price,
                peer_id: slashed.peer_id,
                multiaddrs: slashed.multiaddrs,
            }),
        )
        .await?;
    let leaving_piece = 0usize;
    let leaving = net
        .worker_of(&record.pieces[leaving_piece].provider.to_ss58check())
        .context("a holder of this network")?;
    chain
        .sign_and_submit(
            &net.workers[leaving].key().pair(),
            mosaic_runtime::RuntimeCall::Providers(pallet_mosaic_providers::Call::unbond {}),
        )
        .await?;
    let rebuilt = async {
        loop {
            let record = chain.order(order, None).await?.context("the order")?;
            let piece = &record.pieces[leaving_piece];
            if piece.provider == account && piece.confirmed {
                return anyhow::Ok(record);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let record = tokio::time::timeout(Duration::from_secs(240), rebuilt)
        .await
        .context("the moved piece was not rebuilt and confirmed within 240 s")??;
    ensure!(
        matches!(record.state, OrderState::Live { .. })
            && record.pieces.iter().all(|p| p.confirmed),
        "{record:?}"
    );
    let metrics = net.workers[6].metrics_text().await?;
    let repaired = format!("mosaic_worker_repaired_bytes_total {}", record.piece_size);
    ensure!(metrics.contains(&repaired), "no {repaired:?}:\n{metrics}");
    ensure!(
        metrics.contains("mosaic_worker_repairs_failed_total 0"),
        "{metrics}"
    );
    // The leaver's worker stops, and another holder's: the file comes back
    // through the rebuilt piece.
    net.stop_worker(leaving).await?;
    let other = record
        .pieces
        .iter()
        .enumerate()
        .filter(|(piece, _)| *piece != leaving_piece)
        .find_map(|(_, p)| net.worker_of(&p.provider.to_ss58check()))
        .context("another holder")?;
    net.stop_worker(other).await?;
    get_back(
        &net,
        &order.to_string(),
        &back,
        owner,
        &sample,
        "get after the rebuild",
    )
    .await?;
    Ok(())
}
