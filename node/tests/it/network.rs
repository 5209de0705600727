//! Several real nodes on loopback: the `local` chain's four validators
//! (//Alice, //Bob, //Charlie, //Dave) authoring in turn and finalizing with
//! GRANDPA over libp2p, through stops, restarts, a partition and a change of
//! the validator set, a full node syncing from genesis, and peers that send
//! garbage or invalid blocks.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use futures::StreamExt;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClient;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId};
use mosaic_node::network::protocol::Protocols;
use mosaic_runtime::{Block, BlockNumber, Hash, Header, RuntimeCall, UNIT};
use parity_scale_codec::Encode;
use polkadot_sdk::sp_keyring::Sr25519Keyring;
use polkadot_sdk::sp_runtime::DigestItem;
use tempfile::TempDir;

use crate::harness::Node;
use crate::rpc::{
    best_header, block_hash, code, expect_code, finalized_header, from_hex, header, next_matching,
    subscribe_heads, to_hex, wait_for_block, wait_for_finalized, Heads,
};
use crate::tx::{extrinsic_hex, in_block, next_nonce, submit_and_watch, transfer, Signer};

/// Generous bound on what takes a few rounds of three-second slots.
const WAIT: Duration = Duration::from_secs(120);
const VALIDATORS: [&str; 4] = ["--alice", "--bob", "--charlie", "--dave"];
const LOOPBACK: &str = "/ip4/127.0.0.1/tcp/0";

/// A node of the `local` chain on `base_path` (kept across restarts).
async fn local_node(base_path: &Path, extra: &[&str]) -> Result<Node> {
    let base = base_path.to_str().context("base path is not UTF-8")?;
    let mut args = vec![
        "--chain",
        "local",
        "--base-path",
        base,
        "--listen-addr",
        LOOPBACK,
    ];
    args.extend_from_slice(extra);
    Node::start(&args).await
}

/// A node's p2p address on loopback, with its peer id.
async fn p2p_addr(client: &WsClient) -> Result<String> {
    let addrs: Vec<String> = client
        .request("system_localListenAddresses", rpc_params![])
        .await?;
    addrs
        .into_iter()
        .find(|a| a.contains("127.0.0.1"))
        .context("no loopback listen address")
}

struct Validator {
    node: Option<Node>,
    client: Option<WsClient>,
    dir: TempDir,
    flag: &'static str,
}

impl Validator {
    async fn start(flag: &'static str, dir: TempDir, extra: &[&str]) -> Result<Validator> {
        let mut args = vec![flag];
        args.extend_from_slice(extra);
        let node = local_node(dir.path(), &args).await?;
        let client = node.ws_client().await?;
        Ok(Validator {
            node: Some(node),
            client: Some(client),
            dir,
            flag,
        })
    }

    fn client(&self) -> &WsClient {
        self.client.as_ref().expect("running")
    }

    fn node(&self) -> &Node {
        self.node.as_ref().expect("running")
    }

    async fn stop(&mut self) -> Result<()> {
        self.client = None;
        let status = self.node.take().context("not running")?.terminate().await?;
        ensure!(status.success(), "{} exited with {status}", self.flag);
        Ok(())
    }

    async fn restart(&mut self, extra: &[&str]) -> Result<()> {
        let mut args = vec![self.flag];
        args.extend_from_slice(extra);
        let node = local_node(self.dir.path(), &args).await?;
        self.client = Some(node.ws_client().await?);
        self.node = Some(node);
        Ok(())
    }
}

/// Four validators, the first the others' bootnode.
async fn four_validators(extra: &[&str]) -> Result<(Vec<Validator>, String)> {
    let first = Validator::start(VALIDATORS[0], tempfile::tempdir()?, extra).await?;
    let bootnode = p2p_addr(first.client()).await?;
    let mut validators = vec![first];
    for flag in &VALIDATORS[1..] {
        let mut args = extra.to_vec();
        args.extend(["--bootnodes", bootnode.as_str()]);
        validators.push(Validator::start(flag, tempfile::tempdir()?, &args).await?);
    }
    Ok((validators, bootnode))
}

/// Waits until every running node has finalized `number`, then checks that
/// they agree on the finalized chain up to it.
async fn all_finalize(nodes: &[&WsClient], number: BlockNumber) -> Result<()> {
    for client in nodes {
        wait_for_finalized(client, number, WAIT).await?;
    }
    let expected = block_hash(nodes[0], number).await?;
    for client in &nodes[1..] {
        ensure!(
            block_hash(client, number).await? == expected,
            "nodes disagree on finalized block #{number}"
        );
    }
    Ok(())
}

fn running(validators: &[Validator]) -> Vec<&WsClient> {
    validators
        .iter()
        .filter_map(|v| v.client.as_ref())
        .collect()
}

/// The Aura slots of blocks `1..=to` modulo the authority count: who
/// authored them.
async fn authors(client: &WsClient, to: BlockNumber) -> Result<BTreeSet<u64>> {
    let mut authors = BTreeSet::new();
    for number in 1..=to {
        let hash = block_hash(client, number).await?.context("no such block")?;
        let slot = mosaic_node::chain::slot_of(&header(client, hash).await?).context("no slot")?;
        authors.insert(slot % 4);
    }
    Ok(authors)
}

#[tokio::test(flavor = "multi_thread")]
async fn four_validators_author_in_turn_finalize_and_survive_stops_and_restarts() -> Result<()> {
    let (mut validators, bootnode) = four_validators(&[]).await?;

    // Everyone authors; everyone agrees; finality advances.
    all_finalize(&running(&validators), 8).await?;
    let seen = authors(validators[0].client(), 8).await?;
    ensure!(
        seen.len() == 4,
        "authors of blocks 1..=8: {seen:?}, not all four"
    );
    // Each was given only the first as a bootnode; Kademlia found the rest.
    for v in &validators[1..] {
        let health: serde_json::Value = v.client().request("system_health", rpc_params![]).await?;
        ensure!(
            health["peers"] == 3,
            "{} knows {} peers, not 3",
            v.flag,
            health["peers"]
        );
    }

    // One of four stops: blocks and finality go on.
    validators[3].stop().await?;
    let finalized = finalized_header(validators[0].client()).await?.number;
    all_finalize(&running(&validators), finalized + 3).await?;

    // Two of four stop: blocks go on, finality stalls.
    validators[2].stop().await?;
    let best = best_header(validators[0].client()).await?.number;
    wait_for_block(validators[0].client(), best + 2, WAIT).await?;
    let stalled = finalized_header(validators[0].client()).await?.number;
    wait_for_block(validators[0].client(), best + 5, WAIT).await?;
    for client in running(&validators) {
        ensure!(
            finalized_header(client).await?.number == stalled,
            "finality moved with two of four validators down"
        );
    }

    // One comes back: it catches up, authors again, and finality resumes
    // past the stall.
    let mut heads = subscribe_heads(validators[0].client(), Heads::New).await?;
    validators[2].restart(&["--bootnodes", &bootnode]).await?;
    let best = best_header(validators[0].client()).await?.number;
    next_matching(&mut heads, WAIT, |head: &Header| {
        mosaic_node::chain::slot_of(head).is_some_and(|slot| slot % 4 == 2)
    })
    .await
    .context("the restarted validator authored nothing")?;
    all_finalize(&running(&validators), best).await?;

    // A full node started now syncs from genesis and follows.
    let full_dir = tempfile::tempdir()?;
    let full = local_node(full_dir.path(), &["--bootnodes", &bootnode]).await?;
    let full_client = full.ws_client().await?;
    let target = finalized_header(validators[0].client()).await?.number;
    wait_for_finalized(&full_client, target, WAIT).await?;
    let ahead = best_header(validators[0].client()).await?.number + 2;
    wait_for_block(&full_client, ahead, WAIT).await?;
    let mut all = running(&validators);
    all.push(&full_client);
    all_finalize(&all, target).await?;
    let peers: Vec<serde_json::Value> = full_client.request("system_peers", rpc_params![]).await?;
    ensure!(!peers.is_empty(), "the full node has no peers");

    // A transfer sent to the full node, which authors nothing, is gossiped
    // to the validators and included.
    let signer = Signer::from_node(&full_client).await?;
    let nonce = next_nonce(&full_client, Sr25519Keyring::Alice).await?;
    let extrinsic = signer.sign(
        Sr25519Keyring::Alice,
        transfer(Sr25519Keyring::Bob, UNIT),
        nonce,
    );
    let mut watch = submit_and_watch(&full_client, &extrinsic).await?;
    // The full node authors nothing: a validator put it in this block.
    let block = in_block(&mut watch, WAIT).await?;
    let body: serde_json::Value = full_client
        .request("chain_getBlock", rpc_params![block])
        .await?;
    ensure!(
        body.to_string().contains(&extrinsic_hex(&extrinsic)),
        "block {block:?} lacks the transfer"
    );
    Ok(())
}

/// Sudo replaces the four validators by //Alice and //Bob. Aura follows at
/// once, GRANDPA once the change it scheduled `ChangeDelay` blocks ahead is
/// finalized by the old set. Then the two finalize alone with //Charlie and
/// //Dave stopped, which two of the old four could not.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_validator_set_takes_over_authoring_and_finality() -> Result<()> {
    use mosaic_runtime::validators::{self, ValidatorKeys};
    use polkadot_sdk::pallet_sudo;
    use polkadot_sdk::sp_keyring::Ed25519Keyring;

    let (mut validators, _) = four_validators(&[]).await?;
    all_finalize(&running(&validators), 2).await?;
    let client = validators[0].client();
    let keys = |v: Ed25519Keyring| ValidatorKeys {
        aura: v.public().into(),
        grandpa: v.public().into(),
        vrf: mosaic_runtime::genesis::dev_vrf_key(v),
    };
    let set = vec![keys(Ed25519Keyring::Alice), keys(Ed25519Keyring::Bob)];
    let call = RuntimeCall::Sudo(pallet_sudo::Call::sudo {
        call: Box::new(RuntimeCall::Validators(validators::Call::set_validators {
            validators: set.try_into().expect("two validators fit"),
        })),
    });
    let signer = Signer::from_node(client).await?;
    let nonce = next_nonce(client, Sr25519Keyring::Alice).await?;
    let extrinsic = signer.sign(Sr25519Keyring::Alice, call, nonce);
    let block = in_block(&mut submit_and_watch(client, &extrinsic).await?, WAIT).await?;
    let changed = header(client, block).await?.number;

    // The old set finalizes up to the block that enacts the new one, which
    // starts GRANDPA's set 1.
    let enacted = changed + mosaic_runtime::MINUTES;
    all_finalize(&running(&validators), enacted).await?;
    let at = block_hash(client, enacted).await?;
    let set_id: String = client
        .request(
            "state_call",
            rpc_params!["GrandpaApi_current_set_id", "0x", at],
        )
        .await?;
    ensure!(
        set_id == to_hex(1u64.encode()),
        "set id {set_id} at #{enacted}"
    );

    // Charlie and Dave leave; the new set finalizes on its own.
    validators[3].stop().await?;
    validators[2].stop().await?;
    let finalized = finalized_header(validators[0].client()).await?.number;
    all_finalize(&running(&validators), finalized + 3).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partition_heals_to_one_chain_without_reverting_finality() -> Result<()> {
    // Reserved-only nodes, wired by hand, so that links can be cut.
    let (validators, addrs) = unlinked_validators().await?;
    let link = |from: usize, to: usize, connect: bool| {
        let (client, addr) = (validators[from].client(), addrs[to].clone());
        async move {
            if connect {
                reserve(client, &addr).await
            } else {
                let peer = addr.rsplit('/').next().unwrap_or_default().to_owned();
                client
                    .request::<(), _>("system_removeReservedPeer", rpc_params![peer])
                    .await
            }
        }
    };
    let pairs: Vec<(usize, usize)> = (0..4)
        .flat_map(|a| (0..4).filter(move |b| *b != a).map(move |b| (a, b)))
        .collect();
    for (a, b) in &pairs {
        link(*a, *b, true).await?;
    }
    all_finalize(&running(&validators), 4).await?;

    // {Alice, Bob} | {Charlie, Dave}: both halves author, neither finalizes.
    let across = |(a, b): &(usize, usize)| (*a < 2) != (*b < 2);
    for pair in pairs.iter().filter(|p| across(p)) {
        link(pair.0, pair.1, false).await?;
    }
    let before = finalized_header(validators[0].client()).await?;
    let best = best_header(validators[0].client()).await?.number;
    for v in &validators {
        wait_for_block(v.client(), best + 3, WAIT).await?;
    }
    let left = best_header(validators[0].client()).await?;
    let right = best_header(validators[2].client()).await?;
    ensure!(left.hash() != right.hash(), "the halves did not fork");

    // Heal: one chain, finalized past both halves' heads, with what was
    // finalized before still in it.
    for pair in pairs.iter().filter(|p| across(p)) {
        link(pair.0, pair.1, true).await?;
    }
    let target = left.number.max(right.number) + 1;
    all_finalize(&running(&validators), target).await?;
    for client in running(&validators) {
        ensure!(
            block_hash(client, before.number).await? == Some(before.hash()),
            "block #{} finalized before the partition was reverted",
            before.number
        );
    }
    Ok(())
}

/// The four validators with `--reserved-only` and no peers yet, and their
/// p2p addresses.
async fn unlinked_validators() -> Result<(Vec<Validator>, Vec<String>)> {
    let mut validators = Vec::new();
    for flag in VALIDATORS {
        validators.push(Validator::start(flag, tempfile::tempdir()?, &["--reserved-only"]).await?);
    }
    let mut addrs = Vec::new();
    for v in &validators {
        addrs.push(p2p_addr(v.client()).await?);
    }
    Ok((validators, addrs))
}

/// Makes the node of `client` keep a connection to `addr`.
async fn reserve(client: &WsClient, addr: &str) -> Result<(), jsonrpsee::core::ClientError> {
    client
        .request::<(), _>("system_addReservedPeer", rpc_params![addr])
        .await
}

/// The four validators in a line, each linked to its neighbours only
/// (`--reserved-only`): votes and commits between the ends cross two
/// relays, each of which must pass on what it has already seen when it is
/// sent again. The end one stops and restarts. Then //Alice, at one end,
/// restarts as a Byzantine author sealing two blocks per slot: //Bob
/// imports one, refuses the other, marks //Alice down and forwards nothing,
/// so that neither //Charlie nor //Dave ever hold the second; finality goes
/// on.
#[tokio::test(flavor = "multi_thread")]
async fn a_line_of_four_finalizes_and_an_equivocating_author_gets_no_further_than_its_neighbour(
) -> Result<()> {
    let (mut validators, addrs) = unlinked_validators().await?;
    for i in 0..3 {
        reserve(validators[i].client(), &addrs[i + 1]).await?;
        reserve(validators[i + 1].client(), &addrs[i]).await?;
    }
    all_finalize(&running(&validators), 4).await?;

    // The end one stops: three of four still finalize across the line;
    // back, it catches up and finality takes it along.
    validators[3].stop().await?;
    let finalized = finalized_header(validators[0].client()).await?.number;
    all_finalize(&running(&validators), finalized + 3).await?;
    validators[3]
        .restart(&["--reserved-only", "--reserved-nodes", &addrs[2]])
        .await?;
    let finalized = finalized_header(validators[0].client()).await?.number;
    all_finalize(&running(&validators), finalized + 3).await?;

    // //Alice equivocates.
    validators[0].stop().await?;
    validators[0]
        .restart(&[
            "--reserved-only",
            "--reserved-nodes",
            &addrs[1],
            "--equivocate",
        ])
        .await?;
    let line = validators[1]
        .node()
        .log_line("misbehaved: equivocation", WAIT)
        .await?;
    let refused: Hash = line
        .split(" and ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .context("no second block in the log line")?
        .parse()
        .map_err(|e| anyhow::anyhow!("{line}: {e:?}"))?;
    async fn known(client: &WsClient, hash: Hash) -> Result<bool> {
        let header = client
            .request::<Header, _>("chain_getHeader", rpc_params![hash])
            .await;
        match header {
            Ok(_) => Ok(true),
            Err(e) => expect_code(
                "header of the refused block",
                Err::<(), _>(e),
                &[code::CHAIN],
            )
            .map(|_| false),
        }
    }
    ensure!(
        known(validators[0].client(), refused).await?,
        "//Alice does not hold the block //Bob refused"
    );
    let finalized = finalized_header(validators[1].client()).await?.number;
    all_finalize(&running(&validators), finalized + 3).await?;
    for v in &validators[1..] {
        ensure!(
            !known(v.client(), refused).await?,
            "{} holds the second block of an equivocation",
            v.flag
        );
    }
    Ok(())
}

/// A GRANDPA vote sent again (for peers that missed it) is relayed by a
/// node that passed the first copy on: a peer that joined in between gets
/// it. Two gossip-only peers of our own stand on either side of a `--dev`
/// node; the vote is //Alice's, the dev chain's only voter, for a round
/// ahead of the node's, which it keeps.
#[tokio::test(flavor = "multi_thread")]
async fn a_vote_sent_again_is_relayed_to_a_peer_that_missed_it() -> Result<()> {
    use finality_grandpa::{Message, Prevote, SignedMessage};
    use mosaic_node::network::protocol::GrandpaMessage;
    use polkadot_sdk::sp_consensus_grandpa::localized_payload;
    use polkadot_sdk::sp_keyring::Ed25519Keyring;

    let dev = Node::start(&["--dev", "--listen-addr", LOOPBACK]).await?;
    let client = dev.ws_client().await?;
    let addr: Multiaddr = p2p_addr(&client).await?.parse()?;
    let genesis = block_hash(&client, 0).await?.context("no genesis")?;
    let protocols = Protocols::new(genesis);
    let topic = protocols.grandpa.clone();

    let (round, set_id) = (1 << 40, 0);
    let message = Message::Prevote(Prevote::new(genesis, 0));
    let payload = localized_payload(round, set_id, &message);
    let vote = GrandpaMessage::Vote {
        round,
        set_id,
        vote: SignedMessage {
            signature: Ed25519Keyring::Alice.sign(&payload).into(),
            id: Ed25519Keyring::Alice.public().into(),
            message,
        },
    }
    .encode();

    // The first copy, relayed to a witness.
    let (mut sender, _) = rogue_peer(&addr, &topic).await?;
    let (mut witness, node) = rogue_peer(&addr, &topic).await?;
    // The node forwards to the peers of its mesh: wait until it grafted
    // the witness (which never grafts on its own).
    in_mesh(&mut witness, node, &topic).await?;
    let publish = |swarm: &mut libp2p::Swarm<gossipsub::Behaviour>| {
        swarm
            .behaviour_mut()
            .publish(IdentTopic::new(topic.clone()), vote.clone())
    };
    publish(&mut sender)?;
    receives(&mut witness, &mut sender, &vote)
        .await
        .context("the first copy was not relayed")?;
    // A peer that missed it; the same vote again, which the node has seen.
    let (mut late, _) = rogue_peer(&addr, &topic).await?;
    in_mesh(&mut late, node, &topic).await?;
    publish(&mut sender)?;
    receives(&mut late, &mut sender, &vote)
        .await
        .context("the vote sent again never reached the peer that missed the first copy")?;
    Ok(())
}

/// Drives `swarm` until `node` has grafted it into its mesh of `topic`.
async fn in_mesh(
    swarm: &mut libp2p::Swarm<gossipsub::Behaviour>,
    node: PeerId,
    topic: &str,
) -> Result<()> {
    let hash = IdentTopic::new(topic).hash();
    tokio::time::timeout(DROP_WAIT, async {
        while !swarm.behaviour().mesh_peers(&hash).any(|p| *p == node) {
            swarm.select_next_some().await;
        }
    })
    .await
    .context("the node never took the peer into its mesh")
}

/// Drives `swarm` (and `sender`) until it receives a gossip message of
/// `data`.
async fn receives(
    swarm: &mut libp2p::Swarm<gossipsub::Behaviour>,
    sender: &mut libp2p::Swarm<gossipsub::Behaviour>,
    data: &[u8],
) -> Result<()> {
    tokio::time::timeout(DROP_WAIT, async {
        loop {
            tokio::select! {
                event = swarm.select_next_some() => {
                    if let SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) = event {
                        if message.data == data {
                            return;
                        }
                    }
                }
                _ = sender.select_next_some() => {}
            }
        }
    })
    .await?;
    Ok(())
}

/// A libp2p peer of our own that speaks only gossipsub: the fault injector.
async fn rogue_peer(
    target: &Multiaddr,
    topic: &str,
) -> Result<(libp2p::Swarm<gossipsub::Behaviour>, PeerId)> {
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )?
        .with_behaviour(|key| {
            // It never grafts: no heartbeat of its own, and no wish for
            // mesh peers (gossipsub grafts a newly subscribed peer while
            // its mesh is below `mesh_n_low`). So a node in its mesh is
            // one that grafted it, and forwards to it.
            let config = gossipsub::ConfigBuilder::default()
                .max_transmit_size(8 << 20)
                .heartbeat_interval(Duration::from_secs(3600))
                .mesh_outbound_min(0)
                .mesh_n_low(0)
                .build()
                .expect("a valid config");
            gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)
                .expect("a valid behaviour")
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    swarm.behaviour_mut().subscribe(&IdentTopic::new(topic))?;
    swarm.dial(target.clone())?;
    let node = mosaic_node::network::peer_id_of(target).context("no peer id")?;
    // Publish only once the node has said it listens on the topic.
    tokio::time::timeout(WAIT, async {
        loop {
            if let SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, topic: t }) =
                swarm.select_next_some().await
            {
                if peer_id == node && t.as_str() == topic {
                    return;
                }
            }
        }
    })
    .await
    .with_context(|| format!("the node never subscribed to {topic}"))?;
    Ok((swarm, node))
}

/// How long the node may take to drop a misbehaving peer, and to refuse
/// it again: well within the idle timeout (60 s), so that only a drop for
/// the misbehaviour counts.
const DROP_WAIT: Duration = Duration::from_secs(20);

/// Publishes `data` on the blocks topic, waits for the node to drop us,
/// then dials it again and waits for the refusal: the node banned us.
async fn is_banned_for(
    mut swarm: libp2p::Swarm<gossipsub::Behaviour>,
    node: PeerId,
    target: &Multiaddr,
    topic: &str,
    data: Vec<u8>,
) -> Result<()> {
    swarm
        .behaviour_mut()
        .publish(IdentTopic::new(topic), data)?;
    tokio::time::timeout(DROP_WAIT, async {
        loop {
            if let SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } = swarm.select_next_some().await
            {
                if peer_id == node {
                    return;
                }
            }
        }
    })
    .await
    .context("the node kept the connection")?;
    swarm.dial(target.clone())?;
    tokio::time::timeout(DROP_WAIT, async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::OutgoingConnectionError {
                    peer_id: Some(peer_id),
                    ..
                }
                | SwarmEvent::ConnectionClosed {
                    peer_id,
                    num_established: 0,
                    ..
                } if peer_id == node => return Ok(()),
                SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, .. })
                    if peer_id == node =>
                {
                    anyhow::bail!("the node took a banned peer back")
                }
                _ => {}
            }
        }
    })
    .await
    .context("the node neither refused nor served a banned peer")?
}

#[tokio::test(flavor = "multi_thread")]
async fn peers_sending_garbage_or_invalid_blocks_are_dropped_and_the_network_goes_on() -> Result<()>
{
    let dev = Node::start(&["--dev", "--listen-addr", LOOPBACK]).await?;
    let dev_client = dev.ws_client().await?;
    let addr: Multiaddr = p2p_addr(&dev_client).await?.parse()?;
    // `--chain dev` without `--dev`: no keys, a follower.
    let bootnode = addr.to_string();
    let follower = Node::start(&[
        "--chain",
        "dev",
        "--listen-addr",
        LOOPBACK,
        "--bootnodes",
        &bootnode,
    ])
    .await?;
    let follower_client = follower.ws_client().await?;
    let genesis: Hash = dev_client
        .request("chain_getBlockHash", rpc_params![0])
        .await?;
    let protocols = Protocols::new(genesis);

    // Bytes that are no block.
    let (swarm, node) = rogue_peer(&addr, &protocols.blocks).await?;
    is_banned_for(
        swarm,
        node,
        &addr,
        &protocols.blocks,
        vec![0xde, 0xad, 0xbe, 0xef],
    )
    .await?;

    // The best block with its seal's last byte flipped: a new hash, a
    // forged seal.
    let head = wait_for_block(&dev_client, 2, WAIT).await?;
    let mut block = block_of(&dev_client, head.hash()).await?;
    let Some(DigestItem::Seal(_, seal)) = block.header.digest.logs.last_mut() else {
        anyhow::bail!("the best block has no seal");
    };
    *seal.last_mut().context("empty seal")? ^= 1;
    let (swarm, node) = rogue_peer(&addr, &protocols.blocks).await?;
    is_banned_for(swarm, node, &addr, &protocols.blocks, block.encode()).await?;

    // The rest goes on: the follower still follows a finalizing chain.
    let best = best_header(&dev_client).await?.number;
    wait_for_finalized(&follower_client, best + 2, WAIT).await?;
    ensure!(
        block_hash(&follower_client, best).await? == block_hash(&dev_client, best).await?,
        "the follower left the dev node's chain"
    );
    Ok(())
}

/// A block as the node stores it, from `chain_getBlock`.
async fn block_of(client: &WsClient, hash: Hash) -> Result<Block> {
    #[derive(serde::Deserialize)]
    struct Signed {
        block: Raw,
    }
    #[derive(serde::Deserialize)]
    struct Raw {
        header: Header,
        extrinsics: Vec<String>,
    }
    let signed: Signed = client.request("chain_getBlock", rpc_params![hash]).await?;
    let extrinsics = signed
        .block
        .extrinsics
        .iter()
        .map(|x| crate::rpc::decode(&from_hex(x)?))
        .collect::<Result<_>>()?;
    Ok(Block {
        header: signed.block.header,
        extrinsics,
    })
}
