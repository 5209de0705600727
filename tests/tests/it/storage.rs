//! The core loop over a real network: a `--dev` validator, six workers,
//! `mosaic put` and `mosaic get`, with workers that die, lie, restart and
//! refuse.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use mosaic_api::chain::OrderState;
use mosaic_primitives::erasure::CodingParams;
use mosaic_primitives::manifest::ShardId;
use mosaic_primitives::memory::MemoryShards;
use mosaic_primitives::pipeline::{self, PutOptions};
use mosaic_runtime::RuntimeEvent;
use mosaic_shard_net::{
    Answer, Keypair, NetConfig, PeerId, Refusal, Request, RequestError, ShardStore,
};
use mosaic_tests::{write_sample, Network};

/// How long the workers may take to delete the pieces of a deleted order
/// (finality follows in a few blocks).
const FINALITY: Duration = Duration::from_secs(120);

fn field<'a>(value: &'a serde_json::Value, name: &str) -> Result<&'a serde_json::Value> {
    value
        .get(name)
        .with_context(|| format!("no {name:?} in {value}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn files_are_stored_on_six_workers_and_come_back_through_failures() -> Result<()> {
    let mut net = Network::start(6, "1GiB").await?;

    // The six providers are registered, active, with the capacity declared.
    let listed = net.mosaic_json(&["providers"]).await?;
    let listed = field(&listed, "providers")?
        .as_array()
        .context("a list")?
        .clone();
    ensure!(listed.len() == 6, "{listed:?}");
    for worker in &net.workers {
        let address = worker.key().address();
        ensure!(
            listed.iter().any(|p| p["provider"] == address.as_str()
                && p["state"] == "active"
                && p["capacity"] == 1u64 << 30),
            "{address} is not listed as an active 1 GiB provider: {listed:?}"
        );
    }

    // An owner with nothing but a key file and tokens.
    let owner_key = net.funded_account("owner", "1000").await?;
    let owner_key = owner_key.to_str().context("UTF-8")?;

    // put: 24 MiB, 4 + 2, encrypted to the owner.
    let sample = net.path("sample.bin");
    write_sample(&sample, 24 << 20, 7)?;
    let sample_text = sample.to_str().context("UTF-8")?;
    let put = net
        .mosaic_json(&["put", sample_text, "--key", owner_key])
        .await?;
    let order = field(&put, "order")?.as_u64().context("order id")?;
    let cid = field(&put, "cid")?.as_str().context("cid")?.to_string();
    ensure!(field(&put, "size")? == 24 << 20, "{put}");
    ensure!(
        field(&put, "pieces")?.as_array().map(Vec::len) == Some(6),
        "{put}"
    );
    ensure!(field(&put, "escrow")?.as_str().is_some(), "{put}");

    // Live, every piece confirmed by the provider the chain assigned, and
    // held by that provider's worker.
    let chain = net.chain().await?;
    let record = chain
        .order(order, None)
        .await?
        .context("the order exists")?;
    ensure!(
        matches!(record.state, OrderState::Live { .. }),
        "{:?}",
        record.state
    );
    ensure!(
        record.pieces.iter().all(|p| p.confirmed),
        "{:?}",
        record.pieces
    );
    let holders: Vec<usize> = record
        .pieces
        .iter()
        .map(|p| {
            use polkadot_sdk::sp_core::crypto::Ss58Codec;
            net.worker_of(&p.provider.to_ss58check())
                .context("a piece placed on a provider of this network")
        })
        .collect::<Result<_>>()?;
    let mut distinct = holders.clone();
    distinct.sort();
    distinct.dedup();
    ensure!(
        distinct.len() == 6,
        "pieces on distinct providers: {holders:?}"
    );
    for (piece, holder) in holders.iter().enumerate() {
        let meta = net.workers[*holder]
            .pieces_dir()
            .join(format!("{}.meta", hex(&record.pieces[piece].root.0)));
        ensure!(meta.exists(), "worker {holder} holds piece {piece}");
    }

    // Each worker counted the shards it stored, one a segment, on its
    // Prometheus endpoint.
    let segments =
        mosaic_primitives::piece::Layout::new(record.coding, record.size)?.segment_count();
    for holder in &holders {
        let text = net.workers[*holder].metrics_text().await?;
        let stored =
            format!("mosaic_worker_requests_total{{kind=\"put_shard\",outcome=\"ok\"}} {segments}");
        ensure!(
            text.contains(&stored),
            "no {stored:?} from worker {holder}:\n{text}"
        );
        ensure!(
            text.contains("mosaic_worker_capacity_bytes 1073741824"),
            "{text}"
        );
    }

    // `mosaic-worker status` of each holder: active, its one piece held,
    // nothing pending, and its earnings so far.
    for holder in &holders {
        let status = net.worker_status(*holder).await?;
        ensure!(
            status["state"] == "active"
                && status["piecesHeld"] == 1
                && status["bytesHeld"] == record.piece_size
                && status["piecesPending"] == 0
                && status["capacity"] == 1u64 << 30
                && status["openChallenges"]
                    .as_u64()
                    .is_some_and(|open| open == 0 || status["nextDeadline"].is_u64()),
            "worker {holder}: {status}"
        );
        field(&status, "earned")?
            .as_str()
            .and_then(|t| t.parse::<u128>().ok())
            .with_context(|| format!("earned in {status}"))?;
    }

    // get: byte-identical; again from a fresh directory by CID with only
    // the key file.
    let back = net.path("back.bin");
    let back_text = back.to_str().context("UTF-8")?;
    get_back(
        &net,
        &order.to_string(),
        &back,
        owner_key,
        &sample,
        "get gives the file back",
    )
    .await?;
    let fresh = tempfile::tempdir()?;
    let fresh_out = fresh.path().join("copy.bin");
    let copied = net
        .mosaic_json(&[
            "get",
            &cid,
            "--to",
            fresh_out.to_str().context("UTF-8")?,
            "--key",
            owner_key,
        ])
        .await?;
    ensure!(field(&copied, "order")? == order, "{copied}");
    ensure!(
        std::fs::read(&fresh_out)? == std::fs::read(&sample)?,
        "get by CID"
    );

    // A stranger's key cannot read it, and nothing is written.
    let stranger = net.path("stranger.key");
    let stranger = stranger.to_str().context("UTF-8")?;
    net.mosaic(&["key", "generate", "--out", stranger]).await?;
    let denied = net.path("denied.bin");
    let (ok, _, stderr) = net
        .mosaic_unchecked(&[
            "get",
            &order.to_string(),
            "--to",
            denied.to_str().unwrap(),
            "--key",
            stranger,
        ])
        .await?;
    ensure!(!ok && !denied.exists(), "a stranger got the file: {stderr}");
    let (ok, _, stderr) = net
        .mosaic_unchecked(&["get", &order.to_string(), "--to", denied.to_str().unwrap()])
        .await?;
    ensure!(!ok && stderr.contains("encrypted"), "{stderr}");

    // A worker that serves corrupt bytes (its piece damaged on disk): get
    // still works and names it.
    let liar = holders[0];
    let data = net.workers[liar]
        .pieces_dir()
        .join(format!("{}.data", hex(&record.pieces[0].root.0)));
    let original = std::fs::read(&data)?;
    let mut damaged = original.clone();
    damaged[100] ^= 0xff;
    std::fs::write(&data, &damaged)?;
    let report = net
        .mosaic_json(&[
            "get",
            &order.to_string(),
            "--to",
            back_text,
            "--key",
            owner_key,
        ])
        .await?;
    ensure!(
        std::fs::read(&back)? == std::fs::read(&sample)?,
        "get past a liar"
    );
    let liar_address = net.workers[liar].key().address();
    let failed = field(&report, "failed")?.to_string();
    ensure!(
        failed.contains(&liar_address) && failed.contains("do not match"),
        "{report}"
    );
    // The bytes go back. A challenge that came meanwhile found the damage
    // and had the worker take the piece out to rebuild it from the others:
    // either way, the worker holds the right bytes again.
    std::fs::write(&data, &original)?;
    let meta = data.with_extension("meta");
    let restored = async {
        while !(meta.exists() && std::fs::read(&data).is_ok_and(|now| now == original)) {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::time::timeout(FINALITY, restored)
        .await
        .context("the liar's piece was not restored")?;

    // Two workers stopped (two data pieces): get still works.
    net.stop_worker(holders[0]).await?;
    net.stop_worker(holders[1]).await?;
    get_back(
        &net,
        &order.to_string(),
        &back,
        owner_key,
        &sample,
        "get with two workers down",
    )
    .await?;

    // Three of six gone: a clear error naming the segment and the providers.
    net.stop_worker(holders[2]).await?;
    let lost = net.path("lost.bin");
    let (ok, _, stderr) = net
        .mosaic_unchecked(&[
            "get",
            &order.to_string(),
            "--to",
            lost.to_str().unwrap(),
            "--key",
            owner_key,
        ])
        .await?;
    ensure!(
        !ok && !lost.exists(),
        "got a file from three of six: {stderr}"
    );
    ensure!(stderr.contains("segment 0 cannot be rebuilt"), "{stderr}");
    for holder in &holders[..3] {
        let address = net.workers[*holder].key().address();
        ensure!(stderr.contains(&address), "{address} not named:\n{stderr}");
    }

    // A restarted worker serves what it held.
    net.start_worker(holders[0]).await?;
    get_back(
        &net,
        &order.to_string(),
        &back,
        owner_key,
        &sample,
        "get from a restarted worker",
    )
    .await?;
    net.start_worker(holders[1]).await?;
    net.start_worker(holders[2]).await?;

    // The validator restarts: every worker reconnects to it, and the next
    // put (in `refusals`) is taken and confirmed.
    net.restart_node().await?;
    for (index, worker) in net.workers.iter_mut().enumerate() {
        let process = worker.process.as_mut().context("running")?;
        process
            .wait_for_log("reconnected to the node", FINALITY)
            .await
            .with_context(|| format!("worker {index} after the node restarted"))?;
    }
    let chain = net.chain().await?;

    refusals(&mut net, &chain).await?;
    hung_worker(&net, holders[5]).await?;
    every_holder_proves(&net, &chain, order, &holders).await?;

    // rm: the refund is the escrow left after settling, and the workers
    // remove the pieces once that is final.
    let removed = net
        .mosaic_json(&["rm", &order.to_string(), "--key", owner_key])
        .await?;
    let refund: u128 = field(&removed, "refund")?
        .as_str()
        .context("refund")?
        .parse()?;
    let block: mosaic_runtime::Hash = serde_json::from_value(field(&removed, "block")?.clone())?;
    let parent = chain.header(block).await?.context("the block")?.parent_hash;
    let before = chain
        .order(order, Some(parent))
        .await?
        .context("the order before")?;
    let paid: u128 = chain
        .block_events(block)
        .await?
        .into_iter()
        .filter_map(|(_, event)| match event {
            RuntimeEvent::Market(pallet_mosaic_market::Event::Paid {
                order: o, amount, ..
            }) if o == order => Some(amount),
            _ => None,
        })
        .sum();
    ensure!(
        refund == before.escrow - paid,
        "refund {refund}, escrow {} less {paid} paid",
        before.escrow
    );
    ensure!(
        chain.order(order, None).await?.is_none(),
        "the order is gone"
    );
    for holder in &holders {
        let worker = net.workers[*holder].process.as_mut().context("running")?;
        worker.wait_for_log("removed piece", FINALITY).await?;
    }
    for (piece, holder) in holders.iter().enumerate() {
        let root = hex(&record.pieces[piece].root.0);
        let dir = net.workers[*holder].pieces_dir();
        ensure!(
            !dir.join(format!("{root}.meta")).exists(),
            "piece {piece} still held"
        );
        ensure!(
            !dir.join(format!("{root}.data")).exists(),
            "piece {piece} data left"
        );
    }
    Ok(())
}

/// Every holder's worker answers a challenge of its piece of `order`: the
/// chain records its proof and pays the piece, the worker counts it and
/// `status` shows the earnings. Visits come once a period (a minute on the
/// dev chain), so this waits up to three.
async fn every_holder_proves(
    net: &Network,
    chain: &mosaic_api::chain::ChainClient,
    order: u64,
    holders: &[usize],
) -> Result<()> {
    use polkadot_sdk::sp_core::crypto::Ss58Codec;
    let mut waiting: std::collections::BTreeSet<String> = holders
        .iter()
        .map(|h| net.workers[*h].key().address())
        .collect();
    let mut heads = chain.new_heads().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while !waiting.is_empty() {
        let head = tokio::time::timeout_at(deadline, heads.next())
            .await
            .with_context(|| format!("no proof from {waiting:?} within three periods"))?
            .context("the head subscription ended")??;
        for (_, event) in chain.block_events(head.hash()).await? {
            match event {
                RuntimeEvent::Audit(pallet_mosaic_audit::Event::Proven {
                    provider,
                    order: o,
                    ..
                }) if o == order => {
                    waiting.remove(&provider.to_ss58check());
                }
                RuntimeEvent::Audit(pallet_mosaic_audit::Event::Failed {
                    provider,
                    order: o,
                    failure: pallet_mosaic_audit::Failure::BadProof,
                    ..
                }) if o == order => {
                    anyhow::bail!("{} sent a bad proof", provider.to_ss58check())
                }
                _ => {}
            }
        }
    }
    for holder in holders {
        let text = net.workers[*holder].metrics_text().await?;
        ensure!(
            !text.contains("mosaic_worker_proofs_submitted_total 0"),
            "worker {holder} counted no proof:\n{text}"
        );
        let status = net.worker_status(*holder).await?;
        let earned: u128 = field(&status, "earned")?
            .as_str()
            .and_then(|t| t.parse().ok())
            .with_context(|| format!("earned in {status}"))?;
        ensure!(
            earned > 0,
            "worker {holder} proved and earned nothing: {status}"
        );
    }
    Ok(())
}

/// The manifest and shards of `file` stored public at default coding, as
/// `mosaic put --public` computes them.
fn public_shards(
    file: &std::path::Path,
) -> Result<(mosaic_primitives::manifest::Manifest, MemoryShards)> {
    let mut shards = MemoryShards::default();
    let manifest = pipeline::put(
        std::fs::File::open(file)?,
        &PutOptions {
            coding: CodingParams::default(),
            threads: 1,
            ..PutOptions::public()
        },
        &mut shards,
    )?;
    Ok((manifest, shards))
}

/// Gets `target` into `out` (replacing it) with `key` and checks it is
/// `sample`, byte for byte.
pub(crate) async fn get_back(
    net: &Network,
    target: &str,
    out: &std::path::Path,
    key: &str,
    sample: &std::path::Path,
    why: &str,
) -> Result<()> {
    let _ = std::fs::remove_file(out);
    let out_text = out.to_str().context("UTF-8")?;
    net.mosaic(&["get", target, "--to", out_text, "--key", key])
        .await?;
    ensure!(
        std::fs::read(out)? == std::fs::read(sample)?,
        "{why}: other bytes"
    );
    Ok(())
}

/// A worker that hangs (SIGSTOP: its socket still accepts, nothing
/// answers): put gives up on it, names it and its piece, and does not hang.
async fn hung_worker(net: &Network, hung: usize) -> Result<()> {
    let worker = net.workers[hung].process.as_ref().context("running")?;
    worker.signal("STOP").await?;
    let file = net.path("hung.bin");
    write_sample(&file, 1 << 20, 13)?;
    let put = net
        .mosaic_unchecked(&[
            "put",
            file.to_str().context("UTF-8")?,
            "--suri",
            "//Alice",
            "--public",
            "--segment-size",
            "262144",
        ])
        .await;
    worker.signal("CONT").await?;
    let (ok, _, stderr) = put?;
    let address = net.workers[hung].key().address();
    ensure!(!ok, "put succeeded with a hung worker");
    ensure!(
        stderr.contains("1 of its pieces are not stored") && stderr.contains(&address),
        "the hung worker {address} is not named:\n{stderr}"
    );
    Ok(())
}

/// Workers refuse a piece not assigned to them, bytes that do not verify
/// and a piece past their capacity, rebuild a piece they lost, and keep
/// serving.
async fn refusals(net: &mut Network, chain: &mosaic_api::chain::ChainClient) -> Result<()> {
    // A public file of one segment, whose shards the test can compute.
    let small = net.path("small.bin");
    write_sample(&small, 1 << 20, 11)?;
    let put = net
        .mosaic_json(&[
            "put",
            small.to_str().unwrap(),
            "--suri",
            "//Alice",
            "--public",
        ])
        .await?;
    let order = field(&put, "order")?.as_u64().context("order id")?;
    let record = chain.order(order, None).await?.context("the order")?;
    let (_, mut shards) = public_shards(&small)?;
    let lists = shards.shard_roots_mut().clone();
    let roots = |piece: u8| lists.get(&piece).cloned().unwrap_or_default();

    let client =
        mosaic_shard_net::net::spawn(Keypair::generate_ed25519(), NetConfig::default(), None)
            .await?;
    use polkadot_sdk::sp_core::crypto::Ss58Codec;
    let worker = net
        .worker_of(&record.pieces[0].provider.to_ss58check())
        .context("piece 0's worker")?;
    let (peer, addr) = endpoint(net, chain, worker).await?;
    let ask = |request: Request| {
        let client = client.clone();
        let addr = addr.clone();
        async move { client.request(peer, vec![addr], request).await }
    };

    // Piece 1 belongs to another provider.
    let refused = ask(Request::Offer {
        order,
        piece: 1,
        shard_roots: roots(1),
    })
    .await;
    ensure!(
        matches!(refused, Err(RequestError::Refused(Refusal::NotAssigned))),
        "{refused:?}"
    );
    // A shard-root list that does not add up to the piece root.
    let mut wrong = roots(0);
    wrong[0].0[0] ^= 1;
    let refused = ask(Request::Offer {
        order,
        piece: 0,
        shard_roots: wrong,
    })
    .await;
    ensure!(
        matches!(refused, Err(RequestError::Refused(Refusal::RootMismatch))),
        "{refused:?}"
    );

    // The worker loses the piece while stopped: at its first finalized
    // head it reports the loss and rebuilds the piece from its siblings.
    net.stop_worker(worker).await?;
    let root = hex(&record.pieces[0].root.0);
    let meta = net.workers[worker]
        .pieces_dir()
        .join(format!("{root}.meta"));
    for ext in ["meta", "data"] {
        std::fs::remove_file(
            net.workers[worker]
                .pieces_dir()
                .join(format!("{root}.{ext}")),
        )?;
    }
    net.start_worker(worker).await?;
    let rebuilt = async {
        loop {
            let text = net.workers[worker].metrics_text().await?;
            if meta.exists() && text.contains("mosaic_worker_pieces_lost_total 1") {
                return anyhow::Ok(text);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let text = tokio::time::timeout(FINALITY, rebuilt)
        .await
        .context("the lost piece was not rebuilt")??;
    let piece_size = format!("mosaic_worker_repaired_bytes_total {}", record.piece_size);
    ensure!(text.contains(&piece_size), "{text}");

    // An upload in progress takes only the right bytes, and only within
    // capacity: an order placed on chain by hand, whose pieces nobody
    // uploads, of another file of one segment.
    let other = net.path("other.bin");
    write_sample(&other, 1 << 20, 12)?;
    let (manifest, mut shards) = public_shards(&other)?;
    let small_order = order;
    let alice = mosaic_api::keys::AccountKey::from_suri("//Alice")?;
    let included = chain
        .sign_and_submit(
            &alice.pair(),
            mosaic_runtime::RuntimeCall::Market(pallet_mosaic_market::Call::store {
                cid: manifest.cid.to_bytes().try_into().expect("36 bytes"),
                size: manifest.stored_size(),
                coding: manifest.coding,
                roots: manifest.piece_roots.clone().try_into().expect("6 roots"),
                access: pallet_mosaic_market::Access::Public { dag_index: 0 },
                periods: 2,
                max_price: u128::MAX,
            }),
        )
        .await?;
    let order = included
        .events
        .iter()
        .find_map(|event| match event {
            RuntimeEvent::Market(pallet_mosaic_market::Event::Stored { order, .. }) => Some(*order),
            _ => None,
        })
        .context("a Stored event")?;
    let record = chain.order(order, None).await?.context("the order")?;
    let worker = net
        .worker_of(&record.pieces[0].provider.to_ss58check())
        .context("piece 0's worker")?;
    let (peer, addr) = endpoint(net, chain, worker).await?;
    let ask = |request: Request| {
        let client = client.clone();
        let addr = addr.clone();
        async move { client.request(peer, vec![addr], request).await }
    };
    let lists = shards.shard_roots_mut().clone();
    let roots = |piece: u8| lists.get(&piece).cloned().unwrap_or_default();
    // A disk fuller than the chain knows (a stray file of the worker's
    // whole capacity in its store, sparse): the piece is refused as over
    // capacity, and taken once the space is back.
    let stray = net.workers[worker]
        .pieces_dir()
        .with_file_name("partial")
        .join("stray.data");
    std::fs::File::create(&stray)?.set_len(1 << 30)?;
    let offer = || Request::Offer {
        order,
        piece: 0,
        shard_roots: roots(0),
    };
    let refused = ask(offer()).await;
    ensure!(
        matches!(refused, Err(RequestError::Refused(Refusal::OverCapacity))),
        "{refused:?}"
    );
    std::fs::remove_file(&stray)?;
    let accepted = ask(offer()).await?;
    ensure!(accepted == Answer::Accepted { next: 0 }, "{accepted:?}");
    let shard = shards
        .shards_mut()
        .get(&ShardId {
            segment: 0,
            index: 0,
        })
        .cloned()
        .context("shard 0")?;
    let mut corrupt = shard.clone();
    corrupt[7] ^= 1;
    let refused = ask(Request::PutShard {
        order,
        piece: 0,
        segment: 0,
        shard: corrupt,
    })
    .await;
    ensure!(
        matches!(refused, Err(RequestError::Refused(Refusal::RootMismatch))),
        "{refused:?}"
    );
    let stored = ask(Request::PutShard {
        order,
        piece: 0,
        segment: 0,
        shard: shard.clone(),
    })
    .await?;
    ensure!(stored == Answer::Stored { next: 1 }, "{stored:?}");
    // And it keeps serving.
    let served = ask(Request::Shard {
        root: record.pieces[0].root,
        segment: 0,
    })
    .await?;
    ensure!(served == Answer::Bytes(shard), "the stored shard is served");

    // A piece stored whole whose confirm a crash lost: the worker confirms
    // it when it starts again.
    let crashed = net
        .worker_of(&record.pieces[1].provider.to_ss58check())
        .context("piece 1's worker")?;
    net.stop_worker(crashed).await?;
    let store =
        mosaic_shard_net::store::DiskStore::open(&net.workers[crashed].base_path.join("store"))?;
    let meta = mosaic_shard_net::PieceMeta {
        coding: manifest.coding,
        stored_size: manifest.stored_size(),
        shard_roots: roots(1),
    };
    store.begin(&record.pieces[1].root, &meta)?;
    let piece = shards
        .shards_mut()
        .get(&ShardId {
            segment: 0,
            index: 1,
        })
        .cloned()
        .context("shard 1")?;
    store.append(&record.pieces[1].root, 0, &piece)?;
    drop(store);
    net.start_worker(crashed).await?;
    let confirmed = async {
        loop {
            let record = chain.order(order, None).await?.context("the order")?;
            if record.pieces[1].confirmed {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::time::timeout(FINALITY, confirmed)
        .await
        .context("the worker did not confirm the piece it held at start")??;
    let back = net.path("small-back.bin");
    net.mosaic(&[
        "get",
        &small_order.to_string(),
        "--to",
        back.to_str().unwrap(),
    ])
    .await?;
    ensure!(
        std::fs::read(&back)? == std::fs::read(&small)?,
        "the public file comes back"
    );
    Ok(())
}

/// Worker `index`'s peer id and address as the chain records them.
async fn endpoint(
    net: &Network,
    chain: &mosaic_api::chain::ChainClient,
    index: usize,
) -> Result<(PeerId, mosaic_shard_net::Multiaddr)> {
    let record = chain
        .provider(&net.workers[index].key().account_id(), None)
        .await?
        .context("registered")?;
    let peer = PeerId::from_bytes(&record.peer_id)?;
    let addr = mosaic_shard_net::Multiaddr::try_from(record.multiaddrs[0].to_vec())?;
    Ok((peer, addr))
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}
