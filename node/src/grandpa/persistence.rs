//! What the voter keeps across restarts: the round it last voted in and
//! its last completed round (which peers catching up are sent), and where a
//! restarted voter starts.

use super::*;

/// Aux keys in the store.
pub(super) const AUX_COMPLETED: &[u8] = b"grandpa:completed";
pub(super) const AUX_VOTED: &[u8] = b"grandpa:voted";

/// What the store keeps of the rounds.
#[derive(Clone, Debug, Default, Encode, Decode)]
pub(super) struct Completed {
    pub(super) set_id: u64,
    pub(super) round: u64,
    pub(super) votes: Vec<SignedVote>,
    pub(super) base: (Hash, BlockNumber),
}

pub(super) fn catch_up_of(completed: &Completed) -> CatchUp {
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
pub(super) fn catch_up_votes(catch_up: CatchUp) -> Vec<SignedVote> {
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

/// Where the voter of `set_id` starts: the last round it completed or voted
/// in, whichever is later (its votes and base, if completed), the highest
/// round voted in, and the completed round.
pub(super) struct RestartPoint {
    pub(super) round: u64,
    pub(super) votes: Vec<SignedVote>,
    pub(super) base: (Hash, BlockNumber),
    pub(super) voted: u64,
    pub(super) completed: Option<Completed>,
}

pub(super) fn restart_point(
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
