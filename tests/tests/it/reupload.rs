//! A provider that vanishes after it is placed: at the confirm deadline the
//! chain slashes it and moves its piece, and the owner's `mosaic put`
//! uploads that piece to the new provider, so the order goes live.

use anyhow::{ensure, Context, Result};
use mosaic_api::chain::OrderState;
use mosaic_tests::{write_sample, Network};
use polkadot_sdk::sp_core::crypto::Ss58Codec;

/// Blocks to confirm an order on this test's chain (3 s each): short, so
/// that the deadline comes within the test.
const CONFIRM_WINDOW: u32 = 10;

#[tokio::test(flavor = "multi_thread")]
async fn a_piece_whose_provider_vanished_moves_and_is_uploaded_again() -> Result<()> {
    // Seven providers for six pieces; the seventh, with far more free room,
    // is all but sure to be drawn (placement weighs free capacity), and is
    // stopped before the put.
    let mut capacities = vec!["1GiB"; 7];
    capacities[6] = "64GiB";
    let mut net = Network::start_with(&capacities, Some(CONFIRM_WINDOW)).await?;
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
    net.mosaic(&[
        "get",
        &order.to_string(),
        "--to",
        back.to_str().context("UTF-8")?,
        "--key",
        owner,
    ])
    .await?;
    ensure!(
        std::fs::read(&back)? == std::fs::read(&sample)?,
        "get after the move"
    );
    Ok(())
}
