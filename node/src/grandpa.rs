//! GRANDPA finality: the `finality-grandpa` crate's voter, run over our
//! chain and network.
//!
//! The authority set and its id are read from the runtime at the last
//! finalized block. Every node runs a voter; a node holding one of the set's
//! `gran` keys votes, the others follow rounds and commits. Votes are signed
//! over `(message, round, set_id)` as Substrate signs them, gossiped, and fed
//! back to our own voter. Commits are stored as Substrate-format
//! [`GrandpaJustification`]s and served to syncing peers, which verify them
//! ([`verify_justification`]).
//!
//! The voter checks no signature and must only see votes on blocks we have:
//! the network checks signatures against the current set ([`NetworkLink::check`])
//! and [`run`] holds back votes and commits until their blocks are imported.
//!
//! Safety across restarts: the round we last voted in and the last completed
//! round are written durably before the vote leaves ([`Store::put_aux`]); a
//! restarted voter starts after both, so it never votes twice in a round.
//! Liveness after a partition or a restart: a voter re-sends its votes of a
//! round that does not progress, and a voter that sees votes two or more
//! rounds ahead asks that peer for a catch-up (its last completed round).
//!
//! Authority set changes: the old set votes up to the block that enacts the
//! change (the first whose state has a new set id) and no further; once that
//! block is final, the voter restarts with the new set.
//!
//! [`Store::put_aux`]: crate::store::Store::put_aux

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use finality_grandpa::voter::{self, CommunicationIn, CommunicationOut, RoundData};
use finality_grandpa::voter_set::VoterSet;
use finality_grandpa::{round, HistoricalVotes, Message, Precommit, Prevote, PrimaryPropose};
use futures::{FutureExt, Sink, Stream, StreamExt};
use libp2p::PeerId;
use mosaic_runtime::{BlockNumber, Hash, Header};
use parity_scale_codec::{Decode, Encode};
use polkadot_sdk::sp_consensus_grandpa::{
    check_message_signature, localized_payload, AuthorityId, AuthorityList, AuthoritySignature,
    GrandpaJustification, GRANDPA_ENGINE_ID,
};
use polkadot_sdk::sp_core::{ed25519, Pair as _};
use polkadot_sdk::sp_runtime::traits::{BlakeTwo256, Hash as _, Header as _};
use polkadot_sdk::sp_runtime::{ConsensusEngineId, Justifications};
use tokio::sync::mpsc;

use crate::chain::{CallError, Chain, ChainEvent};
use crate::keystore::{self, Keystore};
use crate::network::protocol::{CatchUp, Commit, GrandpaMessage, SignedVote};
use crate::network::Network;

mod environment;
mod gossip;
mod justification;
mod persistence;
mod session;
#[cfg(test)]
mod tests;

use environment::*;
use gossip::*;
pub use gossip::{Check, NetworkLink};
pub use justification::verify_justification;
use justification::*;
use persistence::*;
use session::*;

/// The engine id justifications are stored under.
pub const ENGINE_ID: ConsensusEngineId = GRANDPA_ENGINE_ID;
/// A round's prevote timer, from its start; the precommit timer is twice
/// this. Substrate's gossip duration: a block imported during a round is
/// final about two of these after the next round starts.
const GOSSIP_DURATION: Duration = Duration::from_millis(333);
/// A round's votes are sent again when the round has not moved for this
/// long.
const REBROADCAST: Duration = Duration::from_secs(3);
/// A block a vote names is asked for at most this often.
const FETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Blocks asked for within [`FETCH_INTERVAL`], at most.
const MAX_FETCHING: usize = 256;
/// Catch-up requests at most this often.
const CATCH_UP_INTERVAL: Duration = Duration::from_secs(3);
/// Messages held back for blocks we have not imported, at most.
const MAX_WAITING: usize = 4096;
/// Messages from the network queued for the voter, at most.
const INCOMING_QUEUE: usize = 4096;

/// The current authority set.
#[derive(Clone, Debug)]
pub struct AuthoritySet {
    /// Its id: 0 at genesis, one more at each change.
    pub set_id: u64,
    /// The authorities and their weights.
    pub voters: VoterSet<AuthorityId>,
}

/// A message from the network for the voter.
#[derive(Debug)]
pub enum Incoming {
    /// A vote or commit, its signatures checked.
    Message(PeerId, GrandpaMessage),
    /// A peer's answer to our catch-up request, unchecked.
    CatchUp(PeerId, CatchUp),
}

/// Why GRANDPA stopped or a justification was refused.
#[derive(Debug, thiserror::Error)]
pub enum GrandpaError {
    /// The voter's own error.
    #[error("voter: {0:?}")]
    Voter(finality_grandpa::Error),
    /// The chain could not answer.
    #[error(transparent)]
    Chain(#[from] CallError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A justification does not prove what it claims.
    #[error("bad justification: {0}")]
    BadJustification(&'static str),
    /// The network went away.
    #[error("the network is gone")]
    NetworkGone,
}

impl From<finality_grandpa::Error> for GrandpaError {
    fn from(e: finality_grandpa::Error) -> Self {
        GrandpaError::Voter(e)
    }
}

/// The authority set that finalizes the children of `at`.
pub fn authority_set(chain: &Chain, at: Hash) -> Result<Option<AuthoritySet>, CallError> {
    let authorities: AuthorityList =
        chain.call_decoded(at, "GrandpaApi_grandpa_authorities", &[])?;
    let set_id: u64 = chain.call_decoded(at, "GrandpaApi_current_set_id", &[])?;
    Ok(VoterSet::new(authorities).map(|voters| AuthoritySet { set_id, voters }))
}

/// GRANDPA's link to the network and the receiver [`run`] takes.
pub fn link() -> (NetworkLink, mpsc::Receiver<Incoming>) {
    let (incoming, receiver) = mpsc::channel(INCOMING_QUEUE);
    (
        NetworkLink {
            set: Default::default(),
            last_completed: Default::default(),
            incoming,
            current_round: Default::default(),
            seen: Default::default(),
        },
        receiver,
    )
}

/// Runs GRANDPA until the task is dropped: a voter per authority set,
/// rebuilt when the set changes or the voter fails.
pub async fn run(
    chain: Arc<Chain>,
    keystore: Arc<Keystore>,
    network: Network,
    link: NetworkLink,
    mut incoming: mpsc::Receiver<Incoming>,
) {
    let mut events = chain.subscribe();
    loop {
        let info = chain.info();
        let finalized = (info.finalized_hash, info.finalized_number);
        let set = match authority_set(&chain, finalized.0) {
            Ok(Some(set)) => set,
            Ok(None) => {
                tracing::warn!(target: "mosaic::grandpa", "no GRANDPA authorities: finality stalls");
                if events.recv().await.is_err() {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::error!(target: "mosaic::grandpa", "reading the authority set: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        *link.set.write().expect("never poisoned; qed") = Some(set.clone());
        let local = set.voters.iter().find_map(|(id, _)| {
            let public: &ed25519::Public = id.as_ref();
            keystore
                .ed25519(keystore::GRANDPA, public)
                .map(|pair| (id.clone(), pair))
        });
        let start = match restart_point(&chain, set.set_id, finalized) {
            Ok(start) => start,
            Err(e) => {
                // Without our voting record, voting could equivocate.
                tracing::error!(target: "mosaic::grandpa", "reading the voting record: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let last_round = start.round;
        *link.last_completed.lock().expect("never poisoned; qed") = start
            .completed
            .as_ref()
            .map(|c| (set.set_id, catch_up_of(c)));
        tracing::info!(
            target: "mosaic::grandpa",
            set_id = set.set_id,
            authorities = set.voters.len().get(),
            voter = local.is_some(),
            round = last_round + 1,
            "GRANDPA voter starting"
        );
        let env = Arc::new(Environment {
            chain: chain.clone(),
            network: network.clone(),
            set: set.clone(),
            local: local.clone(),
            rounds: Default::default(),
            voted: Mutex::new(start.voted),
            last_completed: link.last_completed.clone(),
            current_round: link.current_round.clone(),
        });
        let (global, global_in) = queue(GLOBAL_QUEUE);
        let commits = CommitSink {
            set_id: set.set_id,
            network: local.as_ref().map(|_| network.clone()),
        };
        let global_out: GlobalOut =
            Box::pin(futures::sink::unfold(commits, |sink, out| async move {
                sink.send(out);
                Ok::<_, GrandpaError>(sink)
            }));
        let global_in: GlobalIn = global_in;
        let mut voter = Box::pin(voter::Voter::new(
            env.clone(),
            set.voters.clone(),
            (global_in, global_out),
            last_round,
            start.votes,
            start.base,
            finalized,
        ));
        let mut session = Session {
            env,
            global,
            waiting: Vec::new(),
            last_catch_up: None,
            fetched: HashMap::new(),
        };
        let mut retry = tokio::time::interval(Duration::from_millis(200));
        let mut rebroadcast = tokio::time::interval(REBROADCAST);
        loop {
            tokio::select! {
                result = &mut voter => {
                    tracing::warn!(target: "mosaic::grandpa", "voter stopped: {result:?}; restarting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
                Some(message) = incoming.recv() => session.on_incoming(message),
                event = events.recv() => match event {
                    Ok(ChainEvent::Finalized(headers)) => {
                        let last = headers.last().map(|h| h.hash()).unwrap_or(finalized.0);
                        if session.env.set_id_at(last).is_ok_and(|id| id != set.set_id) {
                            tracing::info!(target: "mosaic::grandpa", "authority set changed");
                            break;
                        }
                    }
                    Ok(_) => session.retry_waiting(),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        if session.env.set_id_at(chain.info().finalized_hash).is_ok_and(|id| id != set.set_id) {
                            break;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = retry.tick() => session.retry_waiting(),
                _ = rebroadcast.tick() => session.rebroadcast(),
            }
        }
    }
}
