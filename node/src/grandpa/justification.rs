//! Justifications: the proof that a commit finalizes its block, made
//! from the voter's commits and verified for blocks peers send.

use super::*;

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
pub(super) fn chain_ancestry(
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

/// The proof that `commit` finalizes its target, for syncing nodes.
/// A justification's precommits must all be on one chain from the
/// lowest of them up (Substrate's rule): an equivocator's vote on
/// another branch is left out, and its other vote, if on the chain,
/// carries its weight, as do the rest. Its headers are those on the
/// precommits' routes down to the lowest, which [`verify_justification`]
/// asks for exactly.
pub(super) fn justification(
    chain: &Chain,
    voters: &VoterSet<AuthorityId>,
    round: u64,
    mut commit: Commit,
) -> Result<GrandpaJustification<Header>, GrandpaError> {
    let target = commit.target_hash;
    commit.precommits.retain(|p| {
        p.precommit.target_hash == target
            || chain_ancestry(chain, target, p.precommit.target_hash).is_ok()
    });
    let base = lowest_target(&commit).unwrap_or(target);
    let mut on_routes = HashSet::new();
    commit.precommits.retain(|p| {
        let block = p.precommit.target_hash;
        if block == base {
            return true;
        }
        let Ok(route) = chain_ancestry(chain, base, block) else {
            return false;
        };
        on_routes.insert(block);
        on_routes.extend(route);
        true
    });
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
    let votes_ancestries = on_routes
        .into_iter()
        .map(|hash| store.expect_header(hash))
        .collect::<Result<_, _>>()?;
    Ok(GrandpaJustification {
        round,
        commit,
        votes_ancestries,
    })
}
