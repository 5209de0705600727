//! Gossip checks: a vote or commit is checked against the current set
//! (signatures, bounds, rounds long past, copies seen before) before it is
//! relayed or reaches the voter.

use super::*;

/// What the network sees of GRANDPA.
#[derive(Clone)]
pub struct NetworkLink {
    pub(super) set: Arc<RwLock<Option<AuthoritySet>>>,
    pub(super) last_completed: Arc<Mutex<Option<(u64, CatchUp)>>>,
    pub(super) incoming: mpsc::Sender<Incoming>,
    /// The voter's newest round.
    pub(super) current_round: Arc<std::sync::atomic::AtomicU64>,
    /// Hashes of the messages already checked and passed on.
    pub(super) seen: Arc<Mutex<HashSet<Hash>>>,
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
pub(super) type Vote<'a> = (
    Message<Hash, BlockNumber>,
    &'a AuthoritySignature,
    &'a AuthorityId,
);

/// A signed precommit, as commits and catch-ups carry them.
pub(super) type SignedPrecommit =
    finality_grandpa::SignedPrecommit<Hash, BlockNumber, AuthoritySignature, AuthorityId>;

/// Precommits as [`Vote`]s.
pub(super) fn precommit_votes(
    precommits: &[SignedPrecommit],
) -> impl ExactSizeIterator<Item = Vote<'_>> {
    precommits
        .iter()
        .map(|p| (Message::Precommit(p.precommit.clone()), &p.signature, &p.id))
}

/// The blocks precommits name.
pub(super) fn precommit_targets(
    precommits: &[SignedPrecommit],
) -> impl Iterator<Item = (Hash, BlockNumber)> + '_ {
    precommits
        .iter()
        .map(|p| (p.precommit.target_hash, p.precommit.target_number))
}

/// The target of a commit's lowest precommit: the base its other
/// precommits' routes lead down to.
pub(super) fn lowest_target(commit: &Commit) -> Option<Hash> {
    precommit_targets(&commit.precommits)
        .min_by_key(|(_, number)| *number)
        .map(|(hash, _)| hash)
}

/// Checks that `votes` are signed by distinct members of `voters` holding a
/// supermajority of the weight.
pub(super) fn check_votes<'a>(
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
