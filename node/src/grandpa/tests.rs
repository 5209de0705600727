//! Justifications and gossip checks against the `local` chain's four
//! authorities (threshold three), with votes signed by their dev keys.

use finality_grandpa::SignedPrecommit;
use polkadot_sdk::sp_keyring::Ed25519Keyring;
use Ed25519Keyring::{Alice, Bob, Charlie, Dave, Eve};

use super::*;
use crate::testing::{author_with, base_slot, local_validators, open_local};

type Signed = SignedPrecommit<Hash, BlockNumber, AuthoritySignature, AuthorityId>;

fn precommit(who: Ed25519Keyring, target: &Header, round: u64, set_id: u64) -> Signed {
    let precommit = Precommit::new(target.hash(), *target.number());
    let payload = localized_payload(round, set_id, &Message::Precommit(precommit.clone()));
    SignedPrecommit {
        precommit,
        signature: who.pair().sign(&payload).into(),
        id: who.public().into(),
    }
}

fn justification(target: &Header, precommits: Vec<Signed>, ancestries: Vec<Header>) -> Vec<u8> {
    GrandpaJustification::<Header> {
        round: 1,
        commit: Commit {
            target_hash: target.hash(),
            target_number: *target.number(),
            precommits,
        },
        votes_ancestries: ancestries,
    }
    .encode()
}

/// A `local` chain with blocks 1..=3; headers from genesis on.
fn chain_of_three(dir: &std::path::Path) -> (Chain, Vec<Header>) {
    let chain = open_local(dir);
    let keys = local_validators();
    let base = base_slot();
    let mut headers = vec![chain
        .store()
        .expect_header(chain.info().genesis_hash)
        .unwrap()];
    for i in 1..=3 {
        let block = author_with(&chain, &keys, headers[i - 1].hash(), base + i as u64);
        headers.push(block.header);
    }
    (chain, headers)
}

#[test]
fn a_supermajority_justification_verifies_and_forgeries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, h) = chain_of_three(dir.path());
    let verify = |header: &Header, bytes: &[u8]| verify_justification(&chain, header, bytes);
    let by = |who: &[Ed25519Keyring], target: &Header, round, set_id| -> Vec<Signed> {
        who.iter()
            .map(|w| precommit(*w, target, round, set_id))
            .collect()
    };
    let three = by(&[Alice, Bob, Charlie], &h[2], 1, 0);

    // Three of four on block 2; and two on block 2 with one on its child,
    // whose header comes along.
    verify(&h[2], &justification(&h[2], three.clone(), vec![])).unwrap();
    let mut mixed = by(&[Alice, Bob], &h[2], 1, 0);
    mixed.push(precommit(Dave, &h[3], 1, 0));
    verify(
        &h[2],
        &justification(&h[2], mixed.clone(), vec![h[3].clone()]),
    )
    .unwrap();

    // Each forgery is refused for its own reason, not for an earlier
    // check another case needs.
    let refused =
        |header: &Header, bytes: Vec<u8>, case: &str, reason: &str| match verify(header, &bytes) {
            Err(GrandpaError::BadJustification(why)) if why == reason => {}
            other => panic!("{case}: {other:?}, expected {reason:?}"),
        };
    const SHORT: &str = "the precommits do not finalize the block";
    const SIGNATURE: &str = "bad vote signature";
    refused(&h[2], vec![1, 2, 3], "garbage", "undecodable");
    refused(
        &h[3],
        justification(&h[2], three.clone(), vec![]),
        "another block's",
        "it finalizes another block",
    );
    let two = three[..2].to_vec();
    refused(
        &h[2],
        justification(&h[2], two.clone(), vec![]),
        "two of four",
        SHORT,
    );
    // Enough authorities to finalize, and a stranger among them.
    let mut with_eve = three.clone();
    with_eve.push(precommit(Eve, &h[2], 1, 0));
    refused(
        &h[2],
        justification(&h[2], with_eve, vec![]),
        "a non-authority",
        "vote by a non-authority",
    );
    let mut twice = two.clone();
    twice.push(precommit(Bob, &h[2], 1, 0));
    refused(
        &h[2],
        justification(&h[2], twice, vec![]),
        "one voter twice",
        SHORT,
    );
    let mut forged = three.clone();
    forged[2].signature = precommit(Dave, &h[2], 1, 0).signature;
    refused(
        &h[2],
        justification(&h[2], forged, vec![]),
        "Dave's signature as Charlie's",
        SIGNATURE,
    );
    let other_set = by(&[Alice, Bob, Charlie], &h[2], 1, 1);
    refused(
        &h[2],
        justification(&h[2], other_set, vec![]),
        "signed for set 1",
        SIGNATURE,
    );
    let other_round = by(&[Alice, Bob, Charlie], &h[2], 2, 0);
    refused(
        &h[2],
        justification(&h[2], other_round, vec![]),
        "signed for round 2",
        SIGNATURE,
    );
    refused(
        &h[2],
        justification(&h[2], mixed, vec![]),
        "a missing header",
        SHORT,
    );
    refused(
        &h[2],
        justification(&h[2], three, vec![h[3].clone()]),
        "an unused header",
        "headers that no precommit needs",
    );
}

/// An equivocator votes for the target's chain and for a sibling branch:
/// the justification leaves the other branch out and still verifies; only
/// when too few votes remain on one chain is there none.
#[test]
fn a_commit_with_an_equivocator_still_makes_a_justification() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, h) = chain_of_three(dir.path());
    let keys = local_validators();
    // A sibling of block 2, and its child.
    let fork = author_with(&chain, &keys, h[1].hash(), base_slot() + 10).header;
    let fork_child = author_with(&chain, &keys, fork.hash(), base_slot() + 11).header;
    let voters = authority_set(&chain, h[1].hash()).unwrap().unwrap().voters;
    let commit = |precommits| Commit {
        target_hash: h[2].hash(),
        target_number: 2,
        precommits,
    };
    let make = |precommits| super::justification(&chain, &voters, 1, commit(precommits));
    let verify = |made: GrandpaJustification<Header>| {
        verify_justification(&chain, &h[2], &made.encode()).map(|_| made)
    };

    // Dave equivocates between block 2 and its sibling, on the lower
    // number: the sibling's vote goes, Dave's vote on block 2 counts.
    let made = make(vec![
        precommit(Dave, &fork, 1, 0),
        precommit(Alice, &h[2], 1, 0),
        precommit(Bob, &h[3], 1, 0),
        precommit(Dave, &h[2], 1, 0),
    ])
    .unwrap();
    let made = verify(made).unwrap();
    assert_eq!(made.commit.precommits.len(), 3);
    assert!(made
        .commit
        .precommits
        .iter()
        .all(|p| p.precommit.target_hash != fork.hash()));

    // Both of Dave's votes off the chain: three others still carry it.
    let made = make(vec![
        precommit(Dave, &fork, 1, 0),
        precommit(Dave, &fork_child, 1, 0),
        precommit(Alice, &h[2], 1, 0),
        precommit(Bob, &h[2], 1, 0),
        precommit(Charlie, &h[3], 1, 0),
    ])
    .unwrap();
    verify(made).unwrap();

    // Only two on the chain: no justification.
    let none = make(vec![
        precommit(Dave, &fork, 1, 0),
        precommit(Dave, &fork_child, 1, 0),
        precommit(Alice, &h[2], 1, 0),
        precommit(Bob, &h[2], 1, 0),
    ]);
    assert!(matches!(
        none,
        Err(GrandpaError::BadJustification(
            "too few precommits on one chain"
        ))
    ));
}

#[test]
fn gossip_checks_take_the_current_set_only() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, h) = chain_of_three(dir.path());
    let (link, _incoming) = link();
    let vote = |who: Ed25519Keyring, signed_round, set_id| {
        let p = precommit(who, &h[1], signed_round, 0);
        GrandpaMessage::Vote {
            round: 1,
            set_id,
            vote: SignedVote {
                message: Message::Precommit(p.precommit),
                signature: p.signature,
                id: p.id,
            },
        }
    };
    // No set known yet: nothing is ours to judge.
    assert_eq!(link.check(&vote(Alice, 1, 0)), Check::OtherSet);
    *link.set.write().unwrap() = authority_set(&chain, h[3].hash()).unwrap();

    assert_eq!(link.check(&vote(Alice, 1, 0)), Check::Valid);
    // The same vote again is known: relayed for peers that missed it, not
    // delivered twice.
    assert_eq!(link.check(&vote(Alice, 1, 0)), Check::Known);
    assert!(matches!(link.check(&vote(Alice, 2, 0)), Check::Invalid(_)));
    assert!(matches!(link.check(&vote(Eve, 1, 0)), Check::Invalid(_)));
    assert_eq!(link.check(&vote(Alice, 1, 1)), Check::OtherSet);

    let commit = |who: &[Ed25519Keyring]| GrandpaMessage::Commit {
        round: 1,
        set_id: 0,
        commit: Commit {
            target_hash: h[2].hash(),
            target_number: 2,
            precommits: who.iter().map(|w| precommit(*w, &h[2], 1, 0)).collect(),
        },
    };
    assert_eq!(link.check(&commit(&[Alice, Bob, Dave])), Check::Valid);
    assert_eq!(link.check(&commit(&[Alice, Bob, Dave])), Check::Known);
    assert!(matches!(
        link.check(&commit(&[Alice, Bob])),
        Check::Invalid(_)
    ));
    assert!(matches!(
        link.check(&commit(&[Alice, Bob, Bob])),
        Check::Invalid(_)
    ));
    // Padding with copies of valid precommits is refused unchecked.
    let padded: Vec<_> = std::iter::repeat_n(Alice, 9).chain([Bob, Dave]).collect();
    assert!(matches!(link.check(&commit(&padded)), Check::Invalid(_)));

    // Votes of rounds long past are replays too.
    link.current_round
        .store(10, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(link.check(&vote(Bob, 1, 0)), Check::Stale);
    // Even when seen before.
    assert_eq!(link.check(&vote(Alice, 1, 0)), Check::Stale);
}

#[test]
fn a_restarted_voter_starts_after_every_round_it_voted_or_completed_in() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, h) = chain_of_three(dir.path());
    let finalized = (h[0].hash(), 0);
    let store = chain.store();
    let start = |set_id| restart_point(&chain, set_id, finalized).unwrap();
    // Nothing stored: round 1 of the set.
    assert_eq!(start(0).round, 0);

    let completed = Completed {
        set_id: 0,
        round: 3,
        votes: Vec::new(),
        base: (h[1].hash(), 1),
    };
    store.put_aux(AUX_COMPLETED, &completed).unwrap();
    store.put_aux(AUX_VOTED, &(0u64, 5u64)).unwrap();
    // Voted in 5, which did not complete: start at 6, from the finalized
    // block.
    let point = start(0);
    assert_eq!(
        (point.round, point.votes.len(), point.base),
        (5, 0, finalized)
    );

    let later = Completed {
        round: 7,
        ..completed
    };
    store.put_aux(AUX_COMPLETED, &later).unwrap();
    let point = start(0);
    assert_eq!((point.round, point.base), (7, (h[1].hash(), 1)));

    // Another set's records do not count.
    assert_eq!(start(1).round, 0);

    // A record that does not decode stops the voter rather than letting it
    // vote from round 1 again.
    store.put_aux(AUX_VOTED, &7u8).unwrap();
    assert!(restart_point(&chain, 0, finalized).is_err());
}

#[test]
fn ancestry_is_the_route_between_two_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, h) = chain_of_three(dir.path());
    let route = |base: &Header, block: &Header| chain_ancestry(&chain, base.hash(), block.hash());
    assert_eq!(route(&h[0], &h[3]).unwrap(), vec![h[2].hash(), h[1].hash()]);
    assert_eq!(route(&h[2], &h[3]).unwrap(), Vec::<Hash>::new());
    assert!(route(&h[3], &h[1]).is_err());
    assert!(route(&h[2], &h[2]).is_err());
    assert!(chain_ancestry(&chain, Hash::repeat_byte(9), h[2].hash()).is_err());
}
