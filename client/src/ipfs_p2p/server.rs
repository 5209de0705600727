//! The serving side of Bitswap: each peer's wants, the block lookups they
//! start, and the answers sent back.
//!
//! A wantlist updates the peer's [`Ledger`]; [`BitswapServer::schedule`]
//! starts lookups in [`PublicBlocks`] on tasks of their own (the swarm loop
//! never waits on one), at most [`ServerLimits::lookups`] in all and
//! [`ServerLimits::lookups_per_peer`] per peer, peers taken in turn; a peer
//! whose answers are not yet written ([`ServerLimits::unsent_per_peer`])
//! gets no new lookups until they are. A finished lookup becomes an answer
//! unless the want was cancelled meanwhile; answers are sent in messages of
//! at most 4 MiB.
//!
//! Within its turn, a peer's wants are looked up highest `priority` first,
//! as the Bitswap spec asks (Kubo and Helia rank the blocks they need
//! sooner higher), equal priorities in the order they arrived. A want sent
//! again with another priority moves to that priority's place, keeping its
//! first arrival for ties (so a full wantlist sent again reorders nothing);
//! one already being looked up is not started again. Priorities order one
//! peer's wants only: turns between peers ignore them, so no peer can push
//! ahead of others by sending high ones.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use cid::Cid;
use libp2p::PeerId;
use tokio::task::JoinSet;

use super::bitswap;
use super::message::{encode_answers, Answer, WantKind, Wantlist};
use crate::public_blocks::{BlockError, PublicBlocks};

/// Bounds of the Bitswap server.
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// Wants kept per peer (queued or being looked up); past it a want is
    /// answered DontHave if the peer asked for that, else dropped.
    pub wants_per_peer: usize,
    /// Peers with wants kept at once.
    pub peers: usize,
    /// Lookups running at once, in all.
    pub lookups: usize,
    /// Lookups running at once for one peer.
    pub lookups_per_peer: usize,
    /// Messages to one peer queued or being written before its lookups
    /// wait.
    pub unsent_per_peer: usize,
    /// How long one lookup may take.
    pub lookup_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            wants_per_peer: 1024,
            peers: 256,
            lookups: 32,
            lookups_per_peer: 8,
            unsent_per_peer: 8,
            lookup_timeout: Duration::from_secs(120),
        }
    }
}

/// What a lookup found.
pub enum Found {
    /// The block's bytes, checked against its CID.
    Block(Vec<u8>),
    /// The block is there (a want-have).
    Have,
    /// No public object holds it.
    Missing,
}

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Reading the block failed.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// It took longer than [`ServerLimits::lookup_timeout`].
    #[error("the lookup took longer than {0:?}")]
    Timeout(Duration),
}

/// A finished lookup.
pub struct Lookup {
    peer: PeerId,
    cid: Cid,
    found: Result<Found, LookupError>,
}

/// One want of a peer.
#[derive(Clone, Copy, Debug)]
struct Want {
    kind: WantKind,
    send_dont_have: bool,
    /// The peer's priority, higher sooner.
    priority: i32,
    /// When the want arrived, counted per peer: ties of priority go oldest
    /// first.
    seq: u64,
}

/// Where a want stands in its peer's queue: highest priority, then oldest,
/// first.
type Place = (Reverse<i32>, u64);

impl Want {
    fn place(&self) -> Place {
        (Reverse(self.priority), self.seq)
    }
}

/// What one peer wants and what is owed to it.
#[derive(Default)]
struct Ledger {
    wants: HashMap<Cid, Want>,
    /// Wants not yet looked up, by [`Place`]: exactly those of `wants` not
    /// in `looking`, so never more than [`ServerLimits::wants_per_peer`].
    queue: BTreeMap<Place, Cid>,
    /// Wants being looked up.
    looking: HashSet<Cid>,
    /// The `seq` of the next new want.
    next_seq: u64,
    /// Messages handed to the connection and not yet written.
    unsent: usize,
    /// Answers not yet sent.
    answers: Vec<Answer>,
}

impl Ledger {
    fn idle(&self) -> bool {
        self.wants.is_empty()
            && self.looking.is_empty()
            && self.unsent == 0
            && self.answers.is_empty()
    }

    /// Takes in a wantlist (a change, or the whole list), keeping at most
    /// `max_wants`.
    fn receive(&mut self, wantlist: Wantlist, max_wants: usize) {
        if wantlist.full {
            let wanted: HashSet<Cid> = wantlist
                .entries
                .iter()
                .filter(|e| !e.cancel)
                .map(|e| e.cid)
                .collect();
            let queue = &mut self.queue;
            self.wants.retain(|cid, want| {
                let keep = wanted.contains(cid);
                if !keep {
                    queue.remove(&want.place());
                }
                keep
            });
        }
        for entry in wantlist.entries {
            if entry.cancel {
                self.forget(&entry.cid);
                continue;
            }
            if let Some(want) = self.wants.get_mut(&entry.cid) {
                // A want-block supersedes a want-have.
                if entry.kind == WantKind::Block {
                    want.kind = WantKind::Block;
                }
                want.send_dont_have |= entry.send_dont_have;
                // Not queued while being looked up: then only the want
                // changes, for a lookup started again (see `finish`).
                let queued = self.queue.remove(&want.place()).is_some();
                want.priority = entry.priority;
                if queued {
                    self.queue.insert(want.place(), entry.cid);
                }
                continue;
            }
            if self.wants.len() >= max_wants {
                if entry.send_dont_have {
                    self.answers.push(Answer::DontHave(entry.cid));
                }
                continue;
            }
            let want = Want {
                kind: entry.kind,
                send_dont_have: entry.send_dont_have,
                priority: entry.priority,
                seq: self.next_seq,
            };
            self.next_seq += 1;
            self.wants.insert(entry.cid, want);
            if !self.looking.contains(&entry.cid) {
                self.queue.insert(want.place(), entry.cid);
            }
        }
    }

    /// The queued want to look up next, now marked as being looked up.
    fn start_next(&mut self) -> Option<(Cid, WantKind)> {
        let (_, cid) = self.queue.pop_first()?;
        self.looking.insert(cid);
        // Every queued CID is in `wants` (see `queue`).
        Some((cid, self.wants[&cid].kind))
    }

    /// Drops the want of `cid`, queued or not (a lookup under way finishes
    /// unanswered).
    fn forget(&mut self, cid: &Cid) {
        if let Some(want) = self.wants.remove(cid) {
            self.queue.remove(&want.place());
        }
    }
}

/// Every peer's ledger and the lookups running for them.
pub struct BitswapServer {
    blocks: PublicBlocks,
    limits: ServerLimits,
    peers: HashMap<PeerId, Ledger>,
    /// Peers in the order they get their next lookup.
    turns: VecDeque<PeerId>,
    lookups: JoinSet<Lookup>,
}

impl BitswapServer {
    /// A server of `blocks`' public content.
    pub fn new(blocks: PublicBlocks, limits: ServerLimits) -> Self {
        BitswapServer {
            blocks,
            limits,
            peers: HashMap::new(),
            turns: VecDeque::new(),
            lookups: JoinSet::new(),
        }
    }

    /// Takes in `peer`'s wantlist (a change, or the whole list).
    pub fn receive(&mut self, peer: PeerId, wantlist: Wantlist) {
        if !self.peers.contains_key(&peer) {
            if self.peers.len() >= self.limits.peers {
                tracing::debug!(target: "mosaic::bitswap", "too many peers: wants of {peer} dropped");
                return;
            }
            self.turns.push_back(peer);
        }
        self.peers
            .entry(peer)
            .or_default()
            .receive(wantlist, self.limits.wants_per_peer);
    }

    /// Starts lookups while the bounds allow, one peer at a time in turn.
    pub fn schedule(&mut self) {
        let mut idle_turns = 0;
        while self.lookups.len() < self.limits.lookups && idle_turns < self.turns.len() {
            let Some(peer) = self.turns.pop_front() else {
                break;
            };
            let Some(ledger) = self.peers.get_mut(&peer) else {
                // Gone: its turn goes with it.
                continue;
            };
            self.turns.push_back(peer);
            if ledger.looking.len() >= self.limits.lookups_per_peer
                || ledger.unsent >= self.limits.unsent_per_peer
            {
                idle_turns += 1;
                continue;
            }
            let Some((cid, kind)) = ledger.start_next() else {
                idle_turns += 1;
                continue;
            };
            idle_turns = 0;
            let blocks = self.blocks.clone();
            let timeout = self.limits.lookup_timeout;
            self.lookups.spawn(async move {
                let lookup = async {
                    Ok(match kind {
                        WantKind::Block => match blocks.block(&cid).await? {
                            Some(bytes) => Found::Block(bytes),
                            None => Found::Missing,
                        },
                        WantKind::Have => match blocks.has(&cid).await? {
                            true => Found::Have,
                            false => Found::Missing,
                        },
                    })
                };
                let found = tokio::time::timeout(timeout, lookup)
                    .await
                    .unwrap_or(Err(LookupError::Timeout(timeout)));
                Lookup { peer, cid, found }
            });
        }
    }

    /// The next finished lookup; pending forever while none runs.
    pub async fn next_lookup(&mut self) -> Lookup {
        loop {
            match self.lookups.join_next().await {
                Some(Ok(lookup)) => return lookup,
                Some(Err(error)) => {
                    // A lookup panicked or was aborted: its want stays
                    // marked as being looked up until the peer leaves.
                    tracing::warn!(target: "mosaic::bitswap", "a block lookup failed: {error}");
                }
                None => futures::future::pending::<()>().await,
            }
        }
    }

    /// Turns a finished lookup into an answer.
    pub fn finish(&mut self, lookup: Lookup) {
        let Lookup { peer, cid, found } = lookup;
        let Some(ledger) = self.peers.get_mut(&peer) else {
            return;
        };
        ledger.looking.remove(&cid);
        let Some(want) = ledger.wants.get(&cid).copied() else {
            return;
        };
        let found = match found {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(target: "mosaic::bitswap", "block {cid} for {peer}: {error}");
                Found::Missing
            }
        };
        match (found, want.kind) {
            (Found::Block(bytes), _) => ledger.answers.push(Answer::Block(cid, bytes)),
            // The want became a want-block while its want-have was looked
            // up: queued again at its place.
            (Found::Have, WantKind::Block) => {
                ledger.queue.insert(want.place(), cid);
                return;
            }
            (Found::Have, WantKind::Have) => ledger.answers.push(Answer::Have(cid)),
            (Found::Missing, _) => {
                if want.send_dont_have {
                    ledger.answers.push(Answer::DontHave(cid));
                }
            }
        }
        ledger.forget(&cid);
    }

    /// Sends every answer waiting, each peer's in as few messages as fit.
    pub fn flush(&mut self, bitswap: &mut bitswap::Behaviour) {
        for (peer, ledger) in &mut self.peers {
            if ledger.answers.is_empty() {
                continue;
            }
            for frame in encode_answers(std::mem::take(&mut ledger.answers)) {
                if bitswap.send(*peer, frame) {
                    ledger.unsent += 1;
                }
            }
        }
        self.peers.retain(|_, ledger| !ledger.idle());
        let peers = &self.peers;
        self.turns.retain(|peer| peers.contains_key(peer));
    }

    /// `count` messages to `peer` were written or given up.
    pub fn done(&mut self, peer: PeerId, count: usize) {
        if let Some(ledger) = self.peers.get_mut(&peer) {
            ledger.unsent = ledger.unsent.saturating_sub(count);
        }
    }

    /// `peer` left: its wants go with it (lookups running finish unheard).
    pub fn disconnected(&mut self, peer: PeerId) {
        self.peers.remove(&peer);
        self.turns.retain(|p| *p != peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipfs_p2p::message::WantEntry;
    use mosaic_primitives::unixfs::{chunk_digest, cid_v1, RAW_CODEC};

    fn cid(n: u8) -> Cid {
        cid_v1(RAW_CODEC, chunk_digest(&[n]))
    }

    fn want(n: u8, priority: i32) -> WantEntry {
        WantEntry {
            cid: cid(n),
            priority,
            cancel: false,
            kind: WantKind::Block,
            send_dont_have: true,
        }
    }

    fn cancel(n: u8) -> WantEntry {
        WantEntry {
            cancel: true,
            ..want(n, 0)
        }
    }

    fn changes(entries: Vec<WantEntry>) -> Wantlist {
        Wantlist {
            full: false,
            entries,
        }
    }

    fn whole(entries: Vec<WantEntry>) -> Wantlist {
        Wantlist {
            full: true,
            entries,
        }
    }

    /// The CIDs of the next `count` lookups the ledger starts, as
    /// `BitswapServer::schedule` starts them in the peer's turns.
    fn start(ledger: &mut Ledger, count: usize) -> Vec<Cid> {
        std::iter::from_fn(|| ledger.start_next().map(|(cid, _)| cid))
            .take(count)
            .collect()
    }

    fn cids(ns: &[u8]) -> Vec<Cid> {
        ns.iter().map(|n| cid(*n)).collect()
    }

    /// The ledger's own invariant: exactly the wants not being looked up
    /// are queued, each at its place.
    fn assert_queue_matches_wants(ledger: &Ledger) {
        let queued: Vec<(Place, Cid)> = ledger.queue.iter().map(|(p, c)| (*p, *c)).collect();
        let mut expected: Vec<(Place, Cid)> = ledger
            .wants
            .iter()
            .filter(|(cid, _)| !ledger.looking.contains(cid))
            .map(|(cid, want)| (want.place(), *cid))
            .collect();
        expected.sort();
        assert_eq!(queued, expected);
    }

    #[test]
    fn lookups_start_highest_priority_first() {
        let mut ledger = Ledger::default();
        ledger.receive(
            changes(vec![
                want(0, 1),
                want(1, 5),
                want(2, 3),
                want(3, -2),
                want(4, 10),
            ]),
            64,
        );
        assert_eq!(start(&mut ledger, 2), cids(&[4, 1]));
        // A later want outranks the earlier ones still queued.
        ledger.receive(changes(vec![want(5, 4)]), 64);
        assert_eq!(start(&mut ledger, 4), cids(&[5, 2, 0, 3]));
        assert_eq!(ledger.start_next(), None);
        assert_queue_matches_wants(&ledger);
    }

    #[test]
    fn equal_priorities_keep_arrival_order() {
        let mut ledger = Ledger::default();
        // Helia ranks a session's wants by position: ties are common
        // across sessions, and the CIDs' own order is not the arrival's.
        let arrival = [9, 3, 7, 1, 8, 2];
        ledger.receive(changes(arrival.iter().map(|n| want(*n, 1)).collect()), 64);
        ledger.receive(changes(vec![want(4, 2), want(0, 1), want(6, 2)]), 64);
        assert_eq!(start(&mut ledger, 10), cids(&[4, 6, 9, 3, 7, 1, 8, 2, 0]));
    }

    #[test]
    fn a_want_sent_again_with_a_higher_priority_moves_ahead() {
        let mut ledger = Ledger::default();
        ledger.receive(
            changes(vec![want(0, 3), want(1, 2), want(2, 1), want(3, 1)]),
            64,
        );
        ledger.receive(changes(vec![want(3, 5)]), 64);
        assert_queue_matches_wants(&ledger);
        assert_eq!(start(&mut ledger, 1), cids(&[3]));
        // Lowered, a want goes behind; raised to a tie, it keeps its first
        // arrival (1 came before 2).
        ledger.receive(changes(vec![want(0, 0), want(2, 2)]), 64);
        assert_eq!(start(&mut ledger, 3), cids(&[1, 2, 0]));
        assert_eq!(ledger.wants.len(), 4);
    }

    #[test]
    fn a_full_wantlist_sent_again_reorders_nothing() {
        let mut ledger = Ledger::default();
        let list = vec![want(0, 1), want(1, 1), want(2, 1)];
        ledger.receive(changes(list.clone()), 64);
        let mut reversed = list;
        reversed.reverse();
        ledger.receive(whole(reversed), 64);
        assert_eq!(start(&mut ledger, 3), cids(&[0, 1, 2]));
    }

    #[test]
    fn cancelled_and_dropped_wants_leave_the_queue() {
        let mut ledger = Ledger::default();
        ledger.receive(
            changes(vec![want(0, 1), want(1, 4), want(2, 2), want(3, 3)]),
            64,
        );
        assert_eq!(start(&mut ledger, 1), cids(&[1]));
        ledger.receive(changes(vec![cancel(3), cancel(1)]), 64);
        assert_queue_matches_wants(&ledger);
        // A full wantlist drops what it leaves out.
        ledger.receive(whole(vec![want(0, 1), want(4, 9)]), 64);
        assert_queue_matches_wants(&ledger);
        assert_eq!(start(&mut ledger, 5), cids(&[4, 0]));
    }

    #[test]
    fn wants_past_the_bound_are_refused_whatever_their_priority() {
        let mut ledger = Ledger::default();
        ledger.receive(changes(vec![want(0, 1), want(1, 1)]), 2);
        ledger.receive(changes(vec![want(2, 100), want(1, 7)]), 2);
        assert_eq!(ledger.queue.len(), 2);
        assert!(matches!(
            ledger.answers.as_slice(),
            [Answer::DontHave(refused)] if *refused == cid(2)
        ));
        assert_eq!(start(&mut ledger, 3), cids(&[1, 0]));
    }
}
