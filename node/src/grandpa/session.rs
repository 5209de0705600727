//! One voter's session: messages from the network routed to the voter
//! once their blocks are imported and their rounds reached, blocks fetched
//! for them, catch-ups asked for and checked, votes sent again.

use super::*;

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
pub(super) struct Session {
    pub(super) env: Arc<Environment>,
    pub(super) global:
        mpsc::Sender<CommunicationIn<Hash, BlockNumber, AuthoritySignature, AuthorityId>>,
    /// Messages waiting for their blocks or their round.
    pub(super) waiting: Vec<(PeerId, GrandpaMessage)>,
    pub(super) last_catch_up: Option<Instant>,
    /// Blocks asked for, and when.
    pub(super) fetched: HashMap<Hash, Instant>,
}

impl Session {
    /// Passes a message to the voter if it can use it now; returns it if it
    /// must wait.
    fn route(&mut self, peer: PeerId, message: GrandpaMessage) -> Option<(PeerId, GrandpaMessage)> {
        let chain = self.env.chain.clone();
        if message.set_id() != self.env.set.set_id {
            return None;
        }
        let wait = match &message {
            GrandpaMessage::Vote { round, vote, .. } => {
                let current = self.env.rounds().current;
                if round.saturating_add(2) < current {
                    return None;
                }
                let target = vote.message.target();
                if *round > current {
                    // The peer is ahead: its last completed round helps.
                    self.ask_catch_up(peer);
                    true
                } else if !chain.has_block(*target.0, target.1) {
                    self.fetch(peer, *target.0);
                    true
                } else {
                    false
                }
            }
            GrandpaMessage::Commit { commit, .. } => {
                let blocks = std::iter::once((commit.target_hash, commit.target_number))
                    .chain(precommit_targets(&commit.precommits));
                let missing = first_missing(&chain, blocks);
                if let Some(missing) = missing {
                    self.fetch(peer, missing);
                }
                missing.is_some()
            }
        };
        if wait {
            return Some((peer, message));
        }
        match message {
            GrandpaMessage::Vote { round, vote, .. } => {
                // No input: a round the voter has left. A send fails only
                // when it leaves it meanwhile.
                if let Some(input) = self.env.rounds().inputs.get(&round) {
                    let _ = input.try_send(vote);
                }
            }
            GrandpaMessage::Commit { round, commit, .. } => {
                if commit.target_number > chain.info().finalized_number {
                    let _ = self.global.try_send(CommunicationIn::Commit(
                        round,
                        commit.into(),
                        voter::Callback::Blank,
                    ));
                }
            }
        }
        None
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

    pub(super) fn retry_waiting(&mut self) {
        let waiting = std::mem::take(&mut self.waiting);
        for (peer, message) in waiting {
            if let Some(again) = self.route(peer, message) {
                self.waiting.push(again);
            }
        }
    }

    pub(super) fn on_incoming(&mut self, incoming: Incoming) {
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

    pub(super) fn rebroadcast(&self) {
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
