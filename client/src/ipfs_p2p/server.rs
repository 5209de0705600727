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

use std::collections::{HashMap, HashSet, VecDeque};
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
}

/// What one peer wants and what is owed to it.
#[derive(Default)]
struct Ledger {
    wants: HashMap<Cid, Want>,
    /// Wants not yet looked up, oldest first (cancelled ones are skipped
    /// when reached).
    queue: VecDeque<Cid>,
    /// Wants being looked up.
    looking: HashSet<Cid>,
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
        let ledger = self.peers.entry(peer).or_default();
        if wantlist.full {
            let wanted: HashSet<Cid> = wantlist
                .entries
                .iter()
                .filter(|e| !e.cancel)
                .map(|e| e.cid)
                .collect();
            ledger.wants.retain(|cid, _| wanted.contains(cid));
        }
        for entry in wantlist.entries {
            if entry.cancel {
                ledger.wants.remove(&entry.cid);
                continue;
            }
            if let Some(want) = ledger.wants.get_mut(&entry.cid) {
                // A want-block supersedes a want-have.
                if entry.kind == WantKind::Block {
                    want.kind = WantKind::Block;
                }
                want.send_dont_have |= entry.send_dont_have;
                continue;
            }
            if ledger.wants.len() >= self.limits.wants_per_peer {
                if entry.send_dont_have {
                    ledger.answers.push(Answer::DontHave(entry.cid));
                }
                continue;
            }
            ledger.wants.insert(
                entry.cid,
                Want {
                    kind: entry.kind,
                    send_dont_have: entry.send_dont_have,
                },
            );
            if !ledger.looking.contains(&entry.cid) {
                ledger.queue.push_back(entry.cid);
            }
        }
        ledger.queue.retain(|cid| ledger.wants.contains_key(cid));
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
            let next = std::iter::from_fn(|| ledger.queue.pop_front())
                .find(|cid| ledger.wants.contains_key(cid) && !ledger.looking.contains(cid));
            let Some(cid) = next else {
                idle_turns += 1;
                continue;
            };
            idle_turns = 0;
            let kind = ledger.wants[&cid].kind;
            ledger.looking.insert(cid);
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
            // The want became a want-block while its want-have was looked up.
            (Found::Have, WantKind::Block) => {
                ledger.queue.push_front(cid);
                return;
            }
            (Found::Have, WantKind::Have) => ledger.answers.push(Answer::Have(cid)),
            (Found::Missing, _) => {
                if want.send_dont_have {
                    ledger.answers.push(Answer::DontHave(cid));
                }
            }
        }
        ledger.wants.remove(&cid);
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
