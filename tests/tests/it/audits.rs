//! The audit loop end to end, on a chain with 30-second periods: honest
//! workers are paid exactly what the chain's events say and never
//! slashed; a frozen worker misses once, is slashed once and answers the
//! next challenge; a worker that answers with wrong bytes is slashed and
//! its piece rebuilt by another; a worker whose piece rots on disk finds it
//! itself and rebuilds it before an audit does; a worker kept offline is
//! ejected and its piece rebuilt by another; the file still comes back
//! with two more workers stopped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use mosaic_api::chain::{ChainClient, OrderState};
use mosaic_runtime::{AccountId, Hash, RuntimeEvent};
use mosaic_tests::{write_sample, Network};
use pallet_mosaic_audit::{Event as Audit, Failure};
use polkadot_sdk::sp_core::crypto::Ss58Codec;

use crate::storage::get_back;

/// Blocks per audit period on this chain (3 s each).
const PERIOD: u32 = 10;
/// Blocks to answer a challenge (the dev chain's).
const WINDOW: u64 = 5;

/// Every event of every block the best chain imports, in order, as a
/// background task gathers them.
#[derive(Clone, Default)]
struct EventLog(Arc<Mutex<Vec<(u64, Hash, RuntimeEvent)>>>);

impl EventLog {
    /// Starts gathering from the best block on.
    async fn start(chain: Arc<ChainClient>) -> Result<Self> {
        let log = EventLog::default();
        let mut heads = chain.new_heads().await?;
        let mut last: Option<Hash> = None;
        let gathered = log.clone();
        tokio::spawn(async move {
            while let Some(Ok(head)) = heads.next().await {
                // Walk back to the last block gathered: a head the
                // subscription skipped is gathered too.
                let mut blocks = vec![(u64::from(head.number), head.hash())];
                let mut parent = head.parent_hash;
                while last.is_some_and(|l| l != parent) {
                    let Ok(Some(header)) = chain.header(parent).await else {
                        break;
                    };
                    blocks.push((u64::from(header.number), parent));
                    parent = header.parent_hash;
                }
                last = Some(head.hash());
                for (number, hash) in blocks.into_iter().rev() {
                    let Ok(events) = chain.block_events(hash).await else {
                        continue;
                    };
                    let mut log = gathered.0.lock().unwrap();
                    log.extend(events.into_iter().map(|(_, e)| (number, hash, e)));
                }
            }
        });
        Ok(log)
    }

    fn events(&self) -> Vec<(u64, Hash, RuntimeEvent)> {
        self.0.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for an event `found` picks; answers its block
    /// number and what `found` made of it.
    async fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        found: impl Fn(u64, Hash, &RuntimeEvent) -> Option<T>,
    ) -> Result<(u64, T)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(hit) = self
                .events()
                .iter()
                .find_map(|(n, hash, e)| found(*n, *hash, e).map(|t| (*n, t)))
            {
                return Ok(hit);
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "no {what} within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The audit events about `who`.
    fn audits_of(&self, who: &AccountId) -> Vec<(u64, Audit<mosaic_runtime::Runtime>)> {
        self.events()
            .into_iter()
            .filter_map(|(n, _, e)| match e {
                RuntimeEvent::Audit(event) if provider_of(&event) == Some(who) => Some((n, event)),
                _ => None,
            })
            .collect()
    }
}

fn provider_of(event: &Audit<mosaic_runtime::Runtime>) -> Option<&AccountId> {
    match event {
        Audit::Challenged { provider, .. }
        | Audit::Proven { provider, .. }
        | Audit::Failed { provider, .. }
        | Audit::Penalized { provider, .. }
        | Audit::Withdrawn { provider, .. }
        | Audit::Ejected { provider } => Some(provider),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn providers_answer_for_what_they_hold() -> Result<()> {
    // Eight providers for six pieces: two spares to rebuild moved pieces.
    // Two misses in a row eject a provider. A small store, scrubbed often.
    let mut net = Network::start_with(
        &["1GiB"; 8],
        &[("periodLength", PERIOD), ("maxMisses", 2)],
        5,
    )
    .await?;
    let chain = Arc::new(net.chain().await?);
    let log = EventLog::start(chain.clone()).await?;
    let accounts: Vec<AccountId> = net.workers.iter().map(|w| w.key().account_id()).collect();

    let owner = net.funded_account("owner", "1000").await?;
    let owner = owner.to_str().context("UTF-8")?;
    let sample = net.path("sample.bin");
    write_sample(&sample, 3 << 20, 11)?;
    let put = net
        .mosaic_json(&["put", sample.to_str().context("UTF-8")?, "--key", owner])
        .await?;
    let order = put["order"].as_u64().context("order id")?;
    let record = chain.order(order, None).await?.context("the order")?;
    let holders: Vec<usize> = record
        .pieces
        .iter()
        .map(|p| net.worker_of(&p.provider.to_ss58check()))
        .collect::<Option<_>>()
        .context("every holder is a worker of this network")?;

    // Honest work over three periods: each balance grows by exactly the
    // payments the chain's events record for it (honest proofs are free),
    // nobody fails an audit, and every holder is paid.
    let start = chain.best_header().await?;
    let before = balances(&chain, &accounts, start.hash()).await?;
    let (end_number, end) = log
        .wait_for(
            "the end of three periods",
            Duration::from_secs(180),
            |n, hash, _| (n >= u64::from(start.number) + 3 * u64::from(PERIOD)).then_some(hash),
        )
        .await?;
    let after = balances(&chain, &accounts, end).await?;
    let mut paid: BTreeMap<AccountId, u128> = BTreeMap::new();
    for (n, _, event) in log.events() {
        if n <= u64::from(start.number) || n > end_number {
            continue;
        }
        match event {
            RuntimeEvent::Market(pallet_mosaic_market::Event::Paid {
                provider, amount, ..
            }) => *paid.entry(provider).or_default() += amount,
            RuntimeEvent::Audit(Audit::Failed { provider, .. }) => {
                bail!("honest {} failed an audit", provider.to_ss58check())
            }
            _ => {}
        }
    }
    for (index, who) in accounts.iter().enumerate() {
        let got = after[index].0 - before[index].0;
        let due = paid.get(who).copied().unwrap_or(0);
        ensure!(
            got == due && after[index].1 == before[index].1,
            "worker {index}: free balance grew by {got}, the chain paid it {due}; reserved {} -> {}",
            before[index].1,
            after[index].1
        );
        ensure!(
            !holders.contains(&index) || due > 0,
            "holder {index} was paid nothing in three periods"
        );
    }

    let (frozen, liar, rotten, offline) = (holders[0], holders[1], holders[2], holders[3]);

    // The rotten worker's piece flips a bit right after it proved it, so
    // that only its own scrub can find it before the next challenge.
    let rotten_account = accounts[rotten].clone();
    log.wait_for("a proof by the rotten worker", Duration::from_secs(90), |n, _, e| {
        matches!(e, RuntimeEvent::Audit(Audit::Proven { provider, .. }) if *provider == rotten_account && n > end_number)
            .then_some(())
    })
    .await?;
    let rotten_piece = record.pieces[2].root;
    let data = net.workers[rotten]
        .pieces_dir()
        .join(format!("{}.data", hex::encode(rotten_piece.0)));
    let good = std::fs::read(&data)?;
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x40;
    std::fs::write(&data, &bad)?;

    // The rotten worker found the flip, rebuilt the piece and holds the
    // right bytes again.
    let rebuilt = async {
        loop {
            if std::fs::read(&data).is_ok_and(|now| now == good) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), rebuilt)
        .await
        .context("the rotten piece was not rebuilt within 60 s")?;
    let metrics = net.workers[rotten].metrics_text().await?;
    for line in [
        "mosaic_worker_scrub_errors_total 1",
        "mosaic_worker_pieces_damaged_total 1",
    ] {
        ensure!(metrics.contains(line), "no {line:?}:\n{metrics}");
    }
    let health = net.worker_status(rotten).await?;
    ensure!(health["worker"]["damaged"] == 1, "{health}");

    // Then the other faults, on three more holders: one goes offline,
    // one lies, one is frozen through its window.
    net.stop_worker(offline).await?;
    net.signal_worker(liar, "STOP").await?;

    // The liar answers its next challenge with a wrong leaf.
    let liar_account = &accounts[liar];
    let challenge = wait_for_challenge(&chain, liar_account).await?;
    let store =
        mosaic_shard_net::store::DiskStore::open(&net.workers[liar].base_path.join("store"))?;
    let mut proofs = mosaic_worker::prover::prove(&store, &challenge)?;
    proofs[0].leaf[0] ^= 1;
    let included = chain
        .sign_and_submit(
            &net.workers[liar].key().pair(),
            mosaic_runtime::RuntimeCall::Audit(pallet_mosaic_audit::Call::submit_proof {
                order: challenge.order,
                piece: challenge.piece,
                proofs,
            }),
        )
        .await?;
    ensure!(
        included.events.iter().any(|e| matches!(
            e,
            RuntimeEvent::Audit(Audit::Failed { provider, failure: Failure::BadProof, .. })
                if provider == liar_account
        )),
        "the wrong proof did not fail: {:?}",
        included.events
    );
    net.signal_worker(liar, "CONT").await?;

    // The frozen worker stays frozen past its challenge's deadline.
    net.signal_worker(frozen, "STOP").await?;
    let missed = wait_for_challenge(&chain, &accounts[frozen]).await?;
    log.wait_for(
        "the frozen worker's deadline",
        Duration::from_secs(60),
        |n, _, _| (n > missed.deadline).then_some(()),
    )
    .await?;
    net.signal_worker(frozen, "CONT").await?;

    // The frozen worker is slashed once for the miss and answers its next
    // challenge.
    let frozen_account = accounts[frozen].clone();
    let (penalized_at, _) = log
        .wait_for("the frozen worker's penalty", Duration::from_secs(90), |_, _, e| {
            matches!(e, RuntimeEvent::Audit(Audit::Penalized { provider, .. }) if *provider == frozen_account)
                .then_some(())
        })
        .await?;
    log.wait_for("a proof by the thawed worker", Duration::from_secs(90), |n, _, e| {
        matches!(e, RuntimeEvent::Audit(Audit::Proven { provider, .. }) if *provider == frozen_account && n >= penalized_at)
            .then_some(())
    })
    .await?;

    // The offline worker is ejected after two missed visits; its piece and
    // the liar's are rebuilt by the two spares.
    let offline_account = accounts[offline].clone();
    log.wait_for("the offline worker's ejection", Duration::from_secs(180), |_, _, e| {
        matches!(e, RuntimeEvent::Audit(Audit::Ejected { provider }) if *provider == offline_account)
            .then_some(())
    })
    .await?;
    let whole = async {
        loop {
            let record = chain.order(order, None).await?.context("the order")?;
            let moved = [1, 3].iter().all(|p| {
                let piece = &record.pieces[*p];
                piece.confirmed
                    && piece.provider != accounts[liar]
                    && piece.provider != accounts[offline]
            });
            if moved && record.pieces.iter().all(|p| p.confirmed) {
                return anyhow::Ok(record);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let record = tokio::time::timeout(Duration::from_secs(180), whole)
        .await
        .context("the moved pieces were not rebuilt and confirmed within 180 s")??;
    ensure!(
        matches!(record.state, OrderState::Live { .. }),
        "{record:?}"
    );

    // What each was charged: one penalty each for the frozen worker and
    // the liar, two and an ejection for the offline one, nothing for the
    // others.
    for (index, who) in accounts.iter().enumerate() {
        let penalties = log
            .audits_of(who)
            .iter()
            .filter(|(_, e)| matches!(e, Audit::Penalized { .. }))
            .count();
        let expected = match index {
            i if i == frozen || i == liar => 1,
            i if i == offline => 2,
            _ => 0,
        };
        ensure!(
            penalties == expected,
            "worker {index}: {penalties} penalties, {expected} expected: {:?}",
            log.audits_of(who)
        );
    }
    let status = net.worker_status(frozen).await?;
    ensure!(
        status["challengesFailed"] == 1
            && status["challengesProven"].as_u64().is_some_and(|n| n >= 2)
            && status["slashed"] != "0",
        "{status}"
    );

    // How long proofs took to get in, from the block that revealed each
    // challenge (a figure, not a test).
    let mut revealed = BTreeMap::new();
    let mut blocks = Vec::new();
    for (n, _, event) in log.events() {
        match event {
            RuntimeEvent::Audit(Audit::Challenged {
                provider,
                challenge,
            }) => {
                revealed.insert((provider, challenge.order, challenge.piece), n);
            }
            RuntimeEvent::Audit(Audit::Proven {
                provider,
                order,
                piece,
                ..
            }) => {
                if let Some(at) = revealed.remove(&(provider, order, piece)) {
                    blocks.push(n - at);
                }
            }
            _ => {}
        }
    }
    blocks.sort();
    ensure!(!blocks.is_empty(), "no proof got in");
    println!(
        "proof inclusion over {} proofs: median {} blocks, worst {} blocks, of a {WINDOW}-block window",
        blocks.len(),
        blocks[blocks.len() / 2],
        blocks[blocks.len() - 1]
    );

    // The file comes back with two more holders stopped (four of the six
    // pieces left, two of them rebuilt by the spares).
    let others: Vec<usize> = record
        .pieces
        .iter()
        .enumerate()
        .filter(|(p, _)| ![1, 2, 3].contains(p))
        .filter_map(|(_, piece)| net.worker_of(&piece.provider.to_ss58check()))
        .filter(|w| *w != frozen)
        .take(2)
        .collect();
    ensure!(others.len() == 2, "{others:?}");
    for worker in others {
        net.stop_worker(worker).await?;
    }
    get_back(
        &net,
        &order.to_string(),
        &net.path("back.bin"),
        owner,
        &sample,
        "get after the faults",
    )
    .await?;
    Ok(())
}

/// Each account's free and reserved balance at `at`.
async fn balances(
    chain: &ChainClient,
    accounts: &[AccountId],
    at: Hash,
) -> Result<Vec<(u128, u128)>> {
    let mut balances = Vec::new();
    for who in accounts {
        let account = chain.account_at(who, Some(at)).await?;
        balances.push((account.free, account.reserved));
    }
    Ok(balances)
}

/// Waits up to 90 s for a challenge to `who` revealed after the best block
/// of now: one the worker, frozen or stopped before this call, cannot have
/// answered.
async fn wait_for_challenge(
    chain: &ChainClient,
    who: &AccountId,
) -> Result<mosaic_api::chain::Challenge> {
    let now = u64::from(chain.best_header().await?.number);
    let wait = async {
        loop {
            let open = chain.challenges(who, None).await?;
            if let Some(challenge) = open.into_iter().find(|c| c.deadline > now + WINDOW) {
                return anyhow::Ok(challenge);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(90), wait)
        .await
        .context("no new challenge within 90 s")?
}
