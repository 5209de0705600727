//! The voter's environment: the chain as the voter sees it, its rounds'
//! bounded queues and timers, and where its votes and commits go.

use super::*;

/// Votes queued for one round's voter, and commits and catch-ups for the
/// voter as a whole: what arrives past these is dropped (a voter that far
/// behind catches up from the votes and commits peers send again).
const ROUND_QUEUE: usize = 1024;
pub(super) const GLOBAL_QUEUE: usize = 256;

/// What the voter reads from a queue.
type VoterIn<T> = Pin<Box<dyn Stream<Item = Result<T, GrandpaError>> + Send>>;

/// A bounded queue into the voter: its sender, and its receiver as the
/// stream the voter reads.
pub(super) fn queue<T: Send + 'static>(capacity: usize) -> (mpsc::Sender<T>, VoterIn<T>) {
    let (tx, mut rx) = mpsc::channel(capacity);
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).map(Ok);
    (tx, Box::pin(stream))
}

type Timer = Pin<Box<dyn std::future::Future<Output = Result<(), GrandpaError>> + Send>>;
type RoundIn = VoterIn<SignedVote>;
type RoundOut = Pin<Box<dyn Sink<Message<Hash, BlockNumber>, Error = GrandpaError> + Send>>;
pub(super) type GlobalIn =
    VoterIn<CommunicationIn<Hash, BlockNumber, AuthoritySignature, AuthorityId>>;
pub(super) type GlobalOut = Pin<
    Box<
        dyn Sink<
                CommunicationOut<Hash, BlockNumber, AuthoritySignature, AuthorityId>,
                Error = GrandpaError,
            > + Send,
    >,
>;

/// Rounds the voter has asked for, and what we sent in the newest.
#[derive(Default)]
pub(super) struct Rounds {
    pub(super) inputs: HashMap<u64, mpsc::Sender<SignedVote>>,
    pub(super) current: u64,
    pub(super) moved_at: Option<Instant>,
    pub(super) sent: Vec<GrandpaMessage>,
}

/// The voter's view of the node.
pub(super) struct Environment {
    pub(super) chain: Arc<Chain>,
    pub(super) network: Network,
    pub(super) set: AuthoritySet,
    pub(super) local: Option<(AuthorityId, ed25519::Pair)>,
    pub(super) rounds: Arc<Mutex<Rounds>>,
    /// The highest round we voted in, as stored.
    pub(super) voted: Mutex<u64>,
    pub(super) last_completed: Arc<Mutex<Option<(u64, CatchUp)>>>,
    pub(super) current_round: Arc<std::sync::atomic::AtomicU64>,
}

impl Environment {
    pub(super) fn rounds(&self) -> std::sync::MutexGuard<'_, Rounds> {
        self.rounds.lock().expect("never poisoned; qed")
    }

    pub(super) fn set_id_at(&self, at: Hash) -> Result<u64, GrandpaError> {
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

pub(super) fn timer(after: Duration) -> Timer {
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

/// Where the voter's commits go: gossiped if we are a voter.
pub(super) struct CommitSink {
    pub(super) set_id: u64,
    pub(super) network: Option<Network>,
}

impl CommitSink {
    pub(super) fn send(
        &self,
        out: CommunicationOut<Hash, BlockNumber, AuthoritySignature, AuthorityId>,
    ) {
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
