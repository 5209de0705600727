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

/// The engine id justifications are stored under.
pub const ENGINE_ID: ConsensusEngineId = GRANDPA_ENGINE_ID;
/// A round's prevote timer, from its start; the precommit timer is twice
/// this.
const GOSSIP_DURATION: Duration = Duration::from_millis(1000);
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

/// Aux keys in the store.
const AUX_COMPLETED: &[u8] = b"grandpa:completed";
const AUX_VOTED: &[u8] = b"grandpa:voted";

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

/// What the network sees of GRANDPA.
#[derive(Clone)]
pub struct NetworkLink {
    set: Arc<RwLock<Option<AuthoritySet>>>,
    last_completed: Arc<Mutex<Option<(u64, CatchUp)>>>,
    incoming: mpsc::Sender<Incoming>,
    /// The voter's newest round.
    current_round: Arc<std::sync::atomic::AtomicU64>,
    /// Hashes of the messages already checked and passed on.
    seen: Arc<Mutex<HashSet<Hash>>>,
}

/// Messages remembered as seen, at most; the memory is cleared when full.
const MAX_SEEN: usize = 16 * 1024;

/// The result of [`NetworkLink::check`].
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// Signed by the current set.
    Valid,
    /// For another set: not ours to judge.
    OtherSet,
    /// A vote of a round long past: a replay, which is dropped.
    Stale,
    /// Checked and passed to the voter before: sent again for peers that
    /// missed it, so relayed again but not delivered twice.
    Known,
    /// Forged or malformed.
    Invalid(&'static str),
}

impl NetworkLink {
    /// Checks a gossiped message against the current set: signatures,
    /// bounds, that it is not of a round long past, and whether it was
    /// seen before.
    pub fn check(&self, message: &GrandpaMessage) -> Check {
        let current = self
            .current_round
            .load(std::sync::atomic::Ordering::Relaxed);
        if let GrandpaMessage::Vote { round, .. } = message {
            if round.saturating_add(2) < current {
                return Check::Stale;
            }
        }
        let hash = BlakeTwo256::hash_of(message);
        if self
            .seen
            .lock()
            .expect("never poisoned; qed")
            .contains(&hash)
        {
            return Check::Known;
        }
        let check = self.check_signatures(message);
        if check == Check::Valid {
            let mut seen = self.seen.lock().expect("never poisoned; qed");
            if seen.len() >= MAX_SEEN {
                seen.clear();
            }
            seen.insert(hash);
        }
        check
    }

    fn check_signatures(&self, message: &GrandpaMessage) -> Check {
        let set = self.set.read().expect("never poisoned; qed");
        let Some(set) = set.as_ref().filter(|s| s.set_id == message.set_id()) else {
            return Check::OtherSet;
        };
        match message {
            GrandpaMessage::Vote { round, vote, .. } => {
                if !set.voters.contains(&vote.id) {
                    return Check::Invalid("vote by a non-authority");
                }
                if !check_message_signature(
                    &vote.message,
                    &vote.id,
                    &vote.signature,
                    *round,
                    set.set_id,
                )
                .is_valid()
                {
                    return Check::Invalid("bad vote signature");
                }
                Check::Valid
            }
            GrandpaMessage::Commit { round, commit, .. } => check_votes(
                precommit_votes(&commit.precommits),
                &set.voters,
                *round,
                set.set_id,
            ),
        }
    }

    /// Hands a message to the voter; dropped if the voter is far behind.
    pub fn deliver(&self, incoming: Incoming) {
        if self.incoming.try_send(incoming).is_err() {
            tracing::debug!(target: "mosaic::grandpa", "voter busy: message dropped");
        }
    }

    /// Our last completed round of `set_id`, for a peer catching up.
    pub fn catch_up(&self, set_id: u64) -> Option<CatchUp> {
        let last = self.last_completed.lock().expect("never poisoned; qed");
        last.as_ref()
            .filter(|(id, _)| *id == set_id)
            .map(|(_, catch_up)| catch_up.clone())
    }
}

/// A vote as [`check_votes`] takes it: message, signature, signer.
type Vote<'a> = (
    Message<Hash, BlockNumber>,
    &'a AuthoritySignature,
    &'a AuthorityId,
);

/// A signed precommit, as commits and catch-ups carry them.
type SignedPrecommit =
    finality_grandpa::SignedPrecommit<Hash, BlockNumber, AuthoritySignature, AuthorityId>;

/// Precommits as [`Vote`]s.
fn precommit_votes(precommits: &[SignedPrecommit]) -> impl ExactSizeIterator<Item = Vote<'_>> {
    precommits
        .iter()
        .map(|p| (Message::Precommit(p.precommit.clone()), &p.signature, &p.id))
}

/// The blocks precommits name.
fn precommit_targets(
    precommits: &[SignedPrecommit],
) -> impl Iterator<Item = (Hash, BlockNumber)> + '_ {
    precommits
        .iter()
        .map(|p| (p.precommit.target_hash, p.precommit.target_number))
}

/// The target of a commit's lowest precommit: the base its other
/// precommits' routes lead down to.
fn lowest_target(commit: &Commit) -> Option<Hash> {
    precommit_targets(&commit.precommits)
        .min_by_key(|(_, number)| *number)
        .map(|(hash, _)| hash)
}

/// Checks that `votes` are signed by distinct members of `voters` holding a
/// supermajority of the weight.
fn check_votes<'a>(
    votes: impl ExactSizeIterator<Item = Vote<'a>>,
    voters: &VoterSet<AuthorityId>,
    round: u64,
    set_id: u64,
) -> Check {
    // Each voter once, an equivocator twice: more is padding, refused
    // before any signature is checked.
    if votes.len() > 2 * voters.len().get() {
        return Check::Invalid("more votes than voters can cast");
    }
    let mut seen = HashSet::new();
    let mut weight = 0u64;
    for (message, signature, id) in votes {
        let Some(info) = voters.get(id) else {
            return Check::Invalid("vote by a non-authority");
        };
        if !check_message_signature(&message, id, signature, round, set_id).is_valid() {
            return Check::Invalid("bad vote signature");
        }
        if seen.insert(id.clone()) {
            weight = weight.saturating_add(info.weight().get());
        }
    }
    if weight < voters.threshold().get() {
        return Check::Invalid("votes below the supermajority");
    }
    Check::Valid
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

/// Verifies an encoded justification of the block `header`, against the
/// authority set of its parent's state.
pub fn verify_justification(
    chain: &Chain,
    header: &Header,
    encoded: &[u8],
) -> Result<GrandpaJustification<Header>, GrandpaError> {
    let bad = GrandpaError::BadJustification;
    let justification: GrandpaJustification<Header> =
        crate::network::protocol::decode(encoded).ok_or(bad("undecodable"))?;
    let commit = &justification.commit;
    if (commit.target_hash, commit.target_number) != (header.hash(), *header.number()) {
        return Err(bad("it finalizes another block"));
    }
    let set = authority_set(chain, *header.parent_hash())?.ok_or(bad("no authority set"))?;
    let ancestry = Ancestry::new(&justification.votes_ancestries);
    match finality_grandpa::validate_commit(commit, &set.voters, &ancestry) {
        Ok(result) if result.is_valid() => {}
        _ => return Err(bad("the precommits do not finalize the block")),
    }
    let votes = precommit_votes(&commit.precommits);
    if let Check::Invalid(why) = check_votes(votes, &set.voters, justification.round, set.set_id) {
        return Err(bad(why));
    }
    // Every header must be on the route of some precommit: nothing unused.
    let base = lowest_target(commit).ok_or(bad("no precommits"))?;
    let mut visited = HashSet::new();
    for precommit in &commit.precommits {
        let target = precommit.precommit.target_hash;
        if target != base {
            let route = finality_grandpa::Chain::ancestry(&ancestry, base, target)
                .map_err(|_| bad("a precommit is not on the base's chain"))?;
            visited.insert(target);
            visited.extend(route);
        }
    }
    if visited != ancestry.headers.keys().copied().collect() {
        return Err(bad("headers that no precommit needs"));
    }
    Ok(justification)
}

/// The chain as a justification's headers describe it.
struct Ancestry {
    headers: HashMap<Hash, Header>,
}

impl Ancestry {
    fn new(headers: &[Header]) -> Self {
        Ancestry {
            headers: headers.iter().map(|h| (h.hash(), h.clone())).collect(),
        }
    }
}

impl finality_grandpa::Chain<Hash, BlockNumber> for Ancestry {
    fn ancestry(&self, base: Hash, block: Hash) -> Result<Vec<Hash>, finality_grandpa::Error> {
        let mut route = Vec::new();
        let mut current = block;
        loop {
            let header = self
                .headers
                .get(&current)
                .ok_or(finality_grandpa::Error::NotDescendent)?;
            current = *header.parent_hash();
            if current == base {
                return Ok(route);
            }
            route.push(current);
        }
    }
}

/// Ancestry on the local chain: parents from `block`'s down to `base`,
/// excluding both.
fn chain_ancestry(
    chain: &Chain,
    base: Hash,
    block: Hash,
) -> Result<Vec<Hash>, finality_grandpa::Error> {
    let store = chain.store();
    let header_of = |hash| {
        store
            .header(hash)
            .ok()
            .flatten()
            .ok_or(finality_grandpa::Error::NotDescendent)
    };
    let base_number = *header_of(base)?.number();
    let mut route = Vec::new();
    let mut header = header_of(block)?;
    if *header.number() <= base_number {
        return Err(finality_grandpa::Error::NotDescendent);
    }
    loop {
        let parent = *header.parent_hash();
        if parent == base {
            return Ok(route);
        }
        header = header_of(parent)?;
        if *header.number() <= base_number {
            return Err(finality_grandpa::Error::NotDescendent);
        }
        route.push(parent);
    }
}

/// What the store keeps of the rounds.
#[derive(Clone, Debug, Default, Encode, Decode)]
struct Completed {
    set_id: u64,
    round: u64,
    votes: Vec<SignedVote>,
    base: (Hash, BlockNumber),
}

/// Votes queued for one round's voter, and commits and catch-ups for the
/// voter as a whole: what arrives past these is dropped (a voter that far
/// behind catches up from the votes and commits peers send again).
const ROUND_QUEUE: usize = 1024;
const GLOBAL_QUEUE: usize = 256;

/// What the voter reads from a queue.
type VoterIn<T> = Pin<Box<dyn Stream<Item = Result<T, GrandpaError>> + Send>>;

/// A bounded queue into the voter: its sender, and its receiver as the
/// stream the voter reads.
fn queue<T: Send + 'static>(capacity: usize) -> (mpsc::Sender<T>, VoterIn<T>) {
    let (tx, mut rx) = mpsc::channel(capacity);
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(Ok);
    (tx, Box::pin(stream))
}

type Timer = Pin<Box<dyn std::future::Future<Output = Result<(), GrandpaError>> + Send>>;
type RoundIn = VoterIn<SignedVote>;
type RoundOut = Pin<Box<dyn Sink<Message<Hash, BlockNumber>, Error = GrandpaError> + Send>>;
type GlobalIn = VoterIn<CommunicationIn<Hash, BlockNumber, AuthoritySignature, AuthorityId>>;
type GlobalOut = Pin<
    Box<
        dyn Sink<
                CommunicationOut<Hash, BlockNumber, AuthoritySignature, AuthorityId>,
                Error = GrandpaError,
            > + Send,
    >,
>;

/// Rounds the voter has asked for, and what we sent in the newest.
#[derive(Default)]
struct Rounds {
    inputs: HashMap<u64, mpsc::Sender<SignedVote>>,
    current: u64,
    moved_at: Option<Instant>,
    sent: Vec<GrandpaMessage>,
}

/// The voter's view of the node.
struct Environment {
    chain: Arc<Chain>,
    network: Network,
    set: AuthoritySet,
    local: Option<(AuthorityId, ed25519::Pair)>,
    rounds: Arc<Mutex<Rounds>>,
    /// The highest round we voted in, as stored.
    voted: Mutex<u64>,
    last_completed: Arc<Mutex<Option<(u64, CatchUp)>>>,
    current_round: Arc<std::sync::atomic::AtomicU64>,
}

impl Environment {
    fn rounds(&self) -> std::sync::MutexGuard<'_, Rounds> {
        self.rounds.lock().expect("never poisoned; qed")
    }

    fn set_id_at(&self, at: Hash) -> Result<u64, GrandpaError> {
        Ok(self
            .chain
            .call_decoded(at, "GrandpaApi_current_set_id", &[])?)
    }

    fn best_chain(&self, base: Hash) -> Result<Option<(Hash, BlockNumber)>, GrandpaError> {
        let store = self.chain.store();
        let Some(base_header) = store.header(base)? else {
            return Ok(None);
        };
        let info = self.chain.info();
        let mut target = if store.canonical_hash(*base_header.number())? == Some(base) {
            store.expect_header(info.best_hash)?
        } else {
            // The highest leaf above `base`.
            let mut best = base_header.clone();
            for leaf in store.leaves()? {
                let header = store.expect_header(leaf)?;
                if *header.number() > *best.number()
                    && chain_ancestry(&self.chain, base, leaf).is_ok()
                {
                    best = header;
                }
            }
            best
        };
        // Not past the block that enacts a new authority set.
        if self.set_id_at(target.hash())? != self.set.set_id {
            let mut enacting = target.clone();
            while enacting.hash() != base {
                let parent = store.expect_header(*enacting.parent_hash())?;
                if self.set_id_at(parent.hash())? == self.set.set_id {
                    break;
                }
                enacting = parent;
            }
            target = enacting;
        }
        // The best block may have moved to another branch meanwhile.
        if target.hash() != base && chain_ancestry(&self.chain, base, target.hash()).is_err() {
            return Ok(Some((base, *base_header.number())));
        }
        Ok(Some((target.hash(), *target.number())))
    }

    /// Records that we voted in `round`. The record only goes up: a
    /// background round voting late must not lower it.
    fn persist_voted(&self, round: u64) -> Result<(), GrandpaError> {
        let mut voted = self.voted.lock().expect("never poisoned; qed");
        if round > *voted {
            self.chain
                .store()
                .put_aux(AUX_VOTED, &(self.set.set_id, round))?;
            *voted = round;
        }
        Ok(())
    }
}

/// The proof that `commit` finalizes its target, for syncing nodes.
/// A justification's precommits must all be on one chain from the
/// lowest of them up (Substrate's rule): an equivocator's vote on
/// another branch is left out, and its other vote, if on the chain,
/// carries its weight, as do the rest.
fn justification(
    chain: &Chain,
    voters: &VoterSet<AuthorityId>,
    round: u64,
    mut commit: Commit,
) -> Result<GrandpaJustification<Header>, GrandpaError> {
    let on_chain =
        |base: Hash, block: Hash| block == base || chain_ancestry(chain, base, block).is_ok();
    commit
        .precommits
        .retain(|p| on_chain(commit.target_hash, p.precommit.target_hash));
    let base = lowest_target(&commit).unwrap_or(commit.target_hash);
    commit
        .precommits
        .retain(|p| on_chain(base, p.precommit.target_hash));
    let signers: HashSet<_> = commit.precommits.iter().map(|p| &p.id).collect();
    let weight: u64 = signers
        .into_iter()
        .filter_map(|id| voters.get(id))
        .map(|info| info.weight().get())
        .sum();
    if weight < voters.threshold().get() {
        return Err(GrandpaError::BadJustification(
            "too few precommits on one chain",
        ));
    }
    let store = chain.store();
    let base_number = *store.expect_header(base)?.number();
    let mut ancestries = Vec::new();
    let mut seen = HashSet::new();
    for precommit in &commit.precommits {
        let mut hash = precommit.precommit.target_hash;
        while hash != base && seen.insert(hash) {
            let header = store.expect_header(hash)?;
            if *header.number() <= base_number {
                return Err(GrandpaError::BadJustification(
                    "a precommit is not on the base's chain",
                ));
            }
            hash = *header.parent_hash();
            ancestries.push(header);
        }
    }
    Ok(GrandpaJustification {
        round,
        commit,
        votes_ancestries: ancestries,
    })
}

fn timer(after: Duration) -> Timer {
    Box::pin(tokio::time::sleep(after).map(Ok))
}

impl finality_grandpa::Chain<Hash, BlockNumber> for Environment {
    fn ancestry(&self, base: Hash, block: Hash) -> Result<Vec<Hash>, finality_grandpa::Error> {
        chain_ancestry(&self.chain, base, block)
    }
}

impl voter::Environment<Hash, BlockNumber> for Environment {
    type Timer = Timer;
    type BestChain = futures::future::Ready<Result<Option<(Hash, BlockNumber)>, GrandpaError>>;
    type Id = AuthorityId;
    type Signature = AuthoritySignature;
    type In = RoundIn;
    type Out = RoundOut;
    type Error = GrandpaError;

    fn best_chain_containing(&self, base: Hash) -> Self::BestChain {
        futures::future::ready(self.best_chain(base))
    }

    fn round_data(&self, round: u64) -> RoundData<AuthorityId, Timer, RoundIn, RoundOut> {
        let (input, votes) = queue(ROUND_QUEUE);
        let mut rounds = self.rounds();
        rounds.inputs.insert(round, input.clone());
        if round > rounds.current {
            rounds.current = round;
            rounds.moved_at = Some(Instant::now());
            rounds.sent.clear();
            self.current_round
                .store(round, std::sync::atomic::Ordering::Relaxed);
        }
        // Keep the inputs of the last few rounds only.
        rounds.inputs.retain(|r, _| r + 3 >= round);
        drop(rounds);
        let voter_id = self.local.as_ref().map(|(id, _)| id.clone());
        let outgoing = VoteSink {
            round,
            set_id: self.set.set_id,
            key: self.local.clone(),
            network: self.network.clone(),
            loopback: input,
            rounds: self.rounds.clone(),
        };
        RoundData {
            voter_id,
            prevote_timer: timer(GOSSIP_DURATION),
            precommit_timer: timer(GOSSIP_DURATION * 2),
            incoming: votes,
            outgoing: Box::pin(futures::sink::unfold(
                outgoing,
                |sink, message| async move {
                    sink.send(message);
                    Ok::<_, GrandpaError>(sink)
                },
            )),
        }
    }

    fn round_commit_timer(&self) -> Timer {
        // Spread the voters' commits a little; the clock's low bits are
        // random enough for that.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        timer(Duration::from_millis(
            u64::from(nanos) % GOSSIP_DURATION.as_millis() as u64,
        ))
    }

    fn proposed(
        &self,
        round: u64,
        _: PrimaryPropose<Hash, BlockNumber>,
    ) -> Result<(), GrandpaError> {
        self.persist_voted(round)
    }

    fn prevoted(&self, round: u64, _: Prevote<Hash, BlockNumber>) -> Result<(), GrandpaError> {
        self.persist_voted(round)
    }

    fn precommitted(
        &self,
        round: u64,
        _: Precommit<Hash, BlockNumber>,
    ) -> Result<(), GrandpaError> {
        self.persist_voted(round)
    }

    fn completed(
        &self,
        round: u64,
        _state: round::State<Hash, BlockNumber>,
        base: (Hash, BlockNumber),
        votes: &HistoricalVotes<Hash, BlockNumber, AuthoritySignature, AuthorityId>,
    ) -> Result<(), GrandpaError> {
        let completed = Completed {
            set_id: self.set.set_id,
            round,
            votes: votes.seen().to_vec(),
            base,
        };
        self.chain.store().put_aux(AUX_COMPLETED, &completed)?;
        *self.last_completed.lock().expect("never poisoned; qed") =
            Some((self.set.set_id, catch_up_of(&completed)));
        Ok(())
    }

    fn concluded(
        &self,
        _: u64,
        _: round::State<Hash, BlockNumber>,
        _: (Hash, BlockNumber),
        _: &HistoricalVotes<Hash, BlockNumber, AuthoritySignature, AuthorityId>,
    ) -> Result<(), GrandpaError> {
        Ok(())
    }

    fn finalize_block(
        &self,
        hash: Hash,
        number: BlockNumber,
        round: u64,
        commit: Commit,
    ) -> Result<(), GrandpaError> {
        if number <= self.chain.info().finalized_number {
            return Ok(());
        }
        // A commit whose precommits cannot make a justification (too few
        // on one chain) still finalizes: the voter checked it. Only the
        // proof for syncing nodes is missing; a later block's proves this
        // one too.
        let justifications = match justification(&self.chain, &self.set.voters, round, commit) {
            Ok(justification) => Some(Justifications::from((ENGINE_ID, justification.encode()))),
            Err(e) => {
                tracing::warn!(target: "mosaic::grandpa", number, ?hash, "no justification: {e}");
                None
            }
        };
        match self.chain.finalize(hash, justifications) {
            Ok(()) => {
                tracing::debug!(target: "mosaic::grandpa", number, ?hash, round, "finalized by GRANDPA");
                Ok(())
            }
            // A commit for a block on a branch we already left: a bug or a
            // safety violation elsewhere; our finalized chain stands.
            Err(e) => {
                tracing::error!(target: "mosaic::grandpa", number, ?hash, "cannot finalize: {e}");
                Ok(())
            }
        }
    }

    fn prevote_equivocation(
        &self,
        round: u64,
        equivocation: finality_grandpa::Equivocation<
            AuthorityId,
            Prevote<Hash, BlockNumber>,
            AuthoritySignature,
        >,
    ) {
        tracing::warn!(target: "mosaic::grandpa", round, who = ?equivocation.identity, "prevote equivocation");
    }

    fn precommit_equivocation(
        &self,
        round: u64,
        equivocation: finality_grandpa::Equivocation<
            AuthorityId,
            Precommit<Hash, BlockNumber>,
            AuthoritySignature,
        >,
    ) {
        tracing::warn!(target: "mosaic::grandpa", round, who = ?equivocation.identity, "precommit equivocation");
    }
}

/// Where the voter's votes of one round go: signed, gossiped, and back into
/// the round's input (the voter counts only votes that come in).
struct VoteSink {
    round: u64,
    set_id: u64,
    key: Option<(AuthorityId, ed25519::Pair)>,
    network: Network,
    loopback: mpsc::Sender<SignedVote>,
    rounds: Arc<Mutex<Rounds>>,
}

impl VoteSink {
    fn send(&self, message: Message<Hash, BlockNumber>) {
        let Some((id, pair)) = &self.key else {
            return;
        };
        let payload = localized_payload(self.round, self.set_id, &message);
        let vote = SignedVote {
            message,
            signature: pair.sign(&payload).into(),
            id: id.clone(),
        };
        let gossip = GrandpaMessage::Vote {
            round: self.round,
            set_id: self.set_id,
            vote: vote.clone(),
        };
        // Fails only when the voter left the round, which no longer counts.
        let _ = self.loopback.try_send(vote);
        let mut rounds = self.rounds.lock().expect("never poisoned; qed");
        if rounds.current == self.round {
            rounds.sent.push(gossip.clone());
        }
        drop(rounds);
        self.network.gossip_grandpa(gossip);
    }
}

fn catch_up_of(completed: &Completed) -> CatchUp {
    let mut catch_up = CatchUp {
        round_number: completed.round,
        prevotes: Vec::new(),
        precommits: Vec::new(),
        base_hash: completed.base.0,
        base_number: completed.base.1,
    };
    for vote in &completed.votes {
        match &vote.message {
            Message::Prevote(prevote) => catch_up.prevotes.push(finality_grandpa::SignedPrevote {
                prevote: prevote.clone(),
                signature: vote.signature.clone(),
                id: vote.id.clone(),
            }),
            Message::Precommit(precommit) => catch_up.precommits.push(SignedPrecommit {
                precommit: precommit.clone(),
                signature: vote.signature.clone(),
                id: vote.id.clone(),
            }),
            Message::PrimaryPropose(_) => {}
        }
    }
    catch_up
}

/// A catch-up's votes as the signed messages a round takes in.
fn catch_up_votes(catch_up: CatchUp) -> Vec<SignedVote> {
    let prevotes = catch_up.prevotes.into_iter().map(|v| SignedVote {
        message: Message::Prevote(v.prevote),
        signature: v.signature,
        id: v.id,
    });
    let precommits = catch_up.precommits.into_iter().map(|v| SignedVote {
        message: Message::Precommit(v.precommit),
        signature: v.signature,
        id: v.id,
    });
    prevotes.chain(precommits).collect()
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

/// Where the voter of `set_id` starts: the last round it completed or voted
/// in, whichever is later (its votes and base, if completed), the highest
/// round voted in, and the completed round.
struct RestartPoint {
    round: u64,
    votes: Vec<SignedVote>,
    base: (Hash, BlockNumber),
    voted: u64,
    completed: Option<Completed>,
}

fn restart_point(
    chain: &Chain,
    set_id: u64,
    finalized: (Hash, BlockNumber),
) -> Result<RestartPoint, GrandpaError> {
    let store = chain.store();
    let completed = store
        .aux::<Completed>(AUX_COMPLETED)?
        .filter(|c| c.set_id == set_id);
    let voted = store
        .aux::<(u64, u64)>(AUX_VOTED)?
        .filter(|(id, _)| *id == set_id)
        .map_or(0, |(_, round)| round);
    Ok(match completed {
        Some(c) if c.round >= voted => RestartPoint {
            round: c.round,
            votes: c.votes.clone(),
            base: c.base,
            voted,
            completed: Some(c),
        },
        // We may have voted in a round that did not complete: skip it.
        completed => RestartPoint {
            round: voted,
            votes: Vec::new(),
            base: finalized,
            voted,
            completed,
        },
    })
}

/// The first of `blocks` that is not imported with its number.
fn first_missing(
    chain: &Chain,
    mut blocks: impl Iterator<Item = (Hash, BlockNumber)>,
) -> Option<Hash> {
    blocks
        .find(|(hash, number)| !chain.has_block(*hash, *number))
        .map(|(hash, _)| hash)
}

/// One voter's lifetime: until the authority set changes or it fails.
struct Session {
    env: Arc<Environment>,
    global: mpsc::Sender<CommunicationIn<Hash, BlockNumber, AuthoritySignature, AuthorityId>>,
    /// Messages waiting for their blocks or their round.
    waiting: Vec<(PeerId, GrandpaMessage)>,
    last_catch_up: Option<Instant>,
    /// Blocks asked for, and when.
    fetched: HashMap<Hash, Instant>,
}

impl Session {
    /// Passes a message to the voter if it can use it now; returns it if it
    /// must wait.
    fn route(&mut self, peer: PeerId, message: GrandpaMessage) -> Option<(PeerId, GrandpaMessage)> {
        let chain = &self.env.chain;
        let set_id = self.env.set.set_id;
        if message.set_id() != set_id {
            return None;
        }
        match message {
            GrandpaMessage::Vote { round, vote, .. } => {
                let rounds = self.env.rounds();
                let current = rounds.current;
                if round.saturating_add(2) < current {
                    return None;
                }
                let target = vote.message.target();
                if round > current {
                    // The peer is ahead: its last completed round helps.
                    drop(rounds);
                    self.ask_catch_up(peer);
                    return Some((
                        peer,
                        GrandpaMessage::Vote {
                            round,
                            set_id,
                            vote,
                        },
                    ));
                }
                if !chain.has_block(*target.0, target.1) {
                    drop(rounds);
                    self.fetch(peer, *target.0);
                    return Some((
                        peer,
                        GrandpaMessage::Vote {
                            round,
                            set_id,
                            vote,
                        },
                    ));
                }
                match rounds.inputs.get(&round) {
                    Some(input) => {
                        // Fails only when the voter left the round.
                        let _ = input.try_send(vote);
                        None
                    }
                    // A round the voter has left.
                    None => None,
                }
            }
            GrandpaMessage::Commit { round, commit, .. } => {
                let blocks = std::iter::once((commit.target_hash, commit.target_number))
                    .chain(precommit_targets(&commit.precommits));
                if let Some(missing) = first_missing(chain, blocks) {
                    self.fetch(peer, missing);
                    return Some((
                        peer,
                        GrandpaMessage::Commit {
                            round,
                            set_id,
                            commit,
                        },
                    ));
                }
                if commit.target_number > chain.info().finalized_number {
                    let _ = self.global.try_send(CommunicationIn::Commit(
                        round,
                        commit.into(),
                        voter::Callback::Blank,
                    ));
                }
                None
            }
        }
    }

    fn ask_catch_up(&mut self, peer: PeerId) {
        if self
            .last_catch_up
            .is_some_and(|at| at.elapsed() < CATCH_UP_INTERVAL)
        {
            return;
        }
        self.last_catch_up = Some(Instant::now());
        tracing::debug!(target: "mosaic::grandpa", %peer, "asking for a catch-up");
        self.env.network.request_catch_up(peer, self.env.set.set_id);
    }

    /// Asks `peer` for a block a message names, at most once per
    /// [`FETCH_INTERVAL`] per block.
    fn fetch(&mut self, peer: PeerId, hash: Hash) {
        self.fetched.retain(|_, at| at.elapsed() < FETCH_INTERVAL);
        if self.fetched.len() >= MAX_FETCHING {
            return;
        }
        if let std::collections::hash_map::Entry::Vacant(entry) = self.fetched.entry(hash) {
            entry.insert(Instant::now());
            self.env.network.fetch_block(peer, hash);
        }
    }

    fn retry_waiting(&mut self) {
        let waiting = std::mem::take(&mut self.waiting);
        for (peer, message) in waiting {
            if let Some(again) = self.route(peer, message) {
                self.waiting.push(again);
            }
        }
    }

    fn on_incoming(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Message(peer, message) => {
                if let Some(wait) = self.route(peer, message) {
                    if self.waiting.len() >= MAX_WAITING {
                        self.waiting.remove(0);
                    }
                    self.waiting.push(wait);
                }
            }
            Incoming::CatchUp(peer, catch_up) => self.on_catch_up(peer, catch_up),
        }
    }

    fn on_catch_up(&mut self, peer: PeerId, catch_up: CatchUp) {
        let set = &self.env.set;
        let chain = &self.env.chain;
        let round = catch_up.round_number;
        let prevotes = catch_up.prevotes.iter().map(|v| {
            let message = Message::Prevote(v.prevote.clone());
            (message, &v.signature, &v.id)
        });
        let valid = check_votes(prevotes, &set.voters, round, set.set_id) == Check::Valid
            && check_votes(
                precommit_votes(&catch_up.precommits),
                &set.voters,
                round,
                set.set_id,
            ) == Check::Valid;
        if !valid {
            tracing::warn!(target: "mosaic::grandpa", %peer, "invalid catch-up");
            return;
        }
        let blocks = std::iter::once((catch_up.base_hash, catch_up.base_number))
            .chain(
                catch_up
                    .prevotes
                    .iter()
                    .map(|v| (v.prevote.target_hash, v.prevote.target_number)),
            )
            .chain(precommit_targets(&catch_up.precommits));
        if let Some(missing) = first_missing(chain, blocks) {
            self.fetch(peer, missing);
            return;
        }
        let rounds = self.env.rounds();
        if round > rounds.current {
            tracing::info!(target: "mosaic::grandpa", %peer, round, "catching up");
            let _ = self
                .global
                .try_send(CommunicationIn::CatchUp(catch_up, voter::Callback::Blank));
        } else if let Some(input) = rounds.inputs.get(&round) {
            // The round we are stuck in, which the peer completed: its votes
            // complete it for us too.
            let votes = catch_up_votes(catch_up);
            for vote in votes {
                let _ = input.try_send(vote);
            }
        }
    }

    fn rebroadcast(&self) {
        let rounds = self.env.rounds();
        if rounds
            .moved_at
            .is_some_and(|at| at.elapsed() >= REBROADCAST)
        {
            for message in &rounds.sent {
                self.env.network.gossip_grandpa(message.clone());
            }
        }
    }
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

/// Where the voter's commits go: gossiped if we are a voter.
struct CommitSink {
    set_id: u64,
    network: Option<Network>,
}

impl CommitSink {
    fn send(&self, out: CommunicationOut<Hash, BlockNumber, AuthoritySignature, AuthorityId>) {
        let CommunicationOut::Commit(round, commit) = out;
        if let Some(network) = &self.network {
            network.gossip_grandpa(GrandpaMessage::Commit {
                round,
                set_id: self.set_id,
                commit,
            });
        }
    }
}

#[cfg(test)]
mod tests;
