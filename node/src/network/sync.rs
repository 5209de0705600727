//! Sync: peers' statuses, block requests along a peer's best chain, and
//! what comes back from the checking tasks.

use super::*;

/// What an outbound request asked for.
#[derive(Clone, Copy, Debug)]
pub(super) enum Pending {
    Status,
    /// Sync: `from_finalized` when asked along the peer's chain from our
    /// finalized block, after a batch that did not attach to our best.
    Blocks {
        from_finalized: bool,
    },
    Ancestry,
    CatchUp,
}

/// Where sync is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SyncState {
    Idle,
    /// A block request is out.
    Asking,
    /// Its blocks are being imported.
    Importing,
}

impl Worker {
    /// A gossiped block tells us its sender's best block is at least that
    /// high.
    pub(super) fn note_best(&mut self, peer: PeerId, block: &Block) {
        if let Some(Some(status)) = self.shared().peers.get_mut(&peer) {
            if *block.header.number() > status.best_number {
                status.best_number = *block.header.number();
                status.best_hash = block.header.hash();
            }
        }
    }

    pub(super) fn ask_status(&mut self, peer: PeerId) {
        self.status_asked.insert(peer, Instant::now());
        self.request(peer, Request::Status, Pending::Status);
    }

    pub(super) fn on_sync(&mut self, event: request_response::Event<Request, Response>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let Ok(permit) = self.serving.clone().try_acquire_owned() else {
                    // Busy: dropping the channel fails the request, and the
                    // peer asks elsewhere or again.
                    tracing::debug!(target: "mosaic::network", "busy: request dropped");
                    return;
                };
                let (server, answers) = (self.server.clone(), self.answers.clone());
                tokio::task::spawn_blocking(move || {
                    let response = server.answer(request);
                    let _ = answers.blocking_send((channel, response));
                    drop(permit);
                });
            }
            Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
            } => self.on_response(peer, request_id, response),
            Event::OutboundFailure {
                peer,
                request_id,
                error,
            } => {
                tracing::debug!(target: "mosaic::network", %peer, "request failed: {error}");
                if let Some(Pending::Blocks { .. }) = self.pending.remove(&request_id) {
                    self.sync = SyncState::Idle;
                    self.back_off(peer);
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(target: "mosaic::network", %peer, "answering failed: {error}");
            }
            Event::ResponseSent { .. } => {}
        }
    }

    fn on_response(&mut self, peer: PeerId, id: OutboundRequestId, response: Response) {
        let Some(kind) = self.pending.remove(&id) else {
            return;
        };
        match (kind, response) {
            (Pending::Status, Response::Status(status)) => {
                if status.genesis != self.chain.info().genesis_hash {
                    self.report(peer, cost::WRONG_GENESIS, "on another chain");
                    let _ = self.swarm.disconnect_peer_id(peer);
                    return;
                }
                if let Some(entry) = self.shared().peers.get_mut(&peer) {
                    *entry = Some(status);
                }
                self.maybe_sync();
            }
            (Pending::Blocks { from_finalized }, Response::Blocks(blocks)) => {
                self.sync = SyncState::Idle;
                if blocks.is_empty() {
                    // It said it was ahead.
                    return self.back_off(peer);
                }
                let batch = if from_finalized {
                    import::Batch::FromFinalized
                } else {
                    import::Batch::FromBest
                };
                if self.importer.sync_batch(peer, blocks, batch) {
                    self.sync = SyncState::Importing;
                }
            }
            (Pending::Ancestry, Response::Blocks(mut blocks)) => {
                // Lowest first; the import skips what we have.
                blocks.reverse();
                if !blocks.is_empty() {
                    self.importer
                        .sync_batch(peer, blocks, import::Batch::Fetched);
                }
            }
            (Pending::CatchUp, Response::CatchUp(catch_up)) => {
                if let Some(catch_up) = catch_up {
                    self.grandpa
                        .deliver(grandpa::Incoming::CatchUp(peer, catch_up));
                }
            }
            (kind, _) => {
                if matches!(kind, Pending::Blocks { .. }) {
                    self.sync = SyncState::Idle;
                }
                self.report(peer, cost::GARBAGE, "an answer to another question");
            }
        }
    }

    /// Leaves `peer` out of sync for a while: it failed us or gave nothing.
    fn back_off(&mut self, peer: PeerId) {
        self.backoff.insert(peer, Instant::now() + SYNC_BACKOFF);
    }

    pub(super) fn on_outcome(&mut self, outcome: import::Outcome) {
        match outcome {
            import::Outcome::Gossip { peer, id, verdict } => {
                let acceptance = match verdict {
                    import::Verdict::Accept => MessageAcceptance::Accept,
                    import::Verdict::Ignore => MessageAcceptance::Ignore,
                    import::Verdict::UnknownParent => {
                        self.maybe_sync();
                        MessageAcceptance::Ignore
                    }
                    import::Verdict::Reject { cost, why } => {
                        self.report(peer, cost, &why);
                        MessageAcceptance::Reject
                    }
                };
                self.validated(&id, &peer, acceptance);
            }
            import::Outcome::SyncBatch {
                peer,
                verdict: import::Verdict::Reject { cost, why },
                fetched: true,
                ..
            } => self.report(peer, cost, &why),
            import::Outcome::SyncBatch { fetched: true, .. } => {}
            import::Outcome::SyncBatch {
                peer,
                verdict,
                imported,
                next,
                ..
            } => {
                self.sync = SyncState::Idle;
                match verdict {
                    import::Verdict::Reject { cost, why } => self.report(peer, cost, &why),
                    import::Verdict::UnknownParent => {
                        // Our best chain is not the peer's: go along the
                        // peer's chain from our finalized block.
                        let from = self.chain.info().finalized_number + 1;
                        return self.request_blocks(peer, from, true);
                    }
                    // A whole batch we had: the fork is further up.
                    _ if imported == 0 && next.is_some() => {
                        let from = next.expect("checked; qed");
                        return self.request_blocks(peer, from, true);
                    }
                    // Nothing new from this peer: leave it for a while.
                    _ if imported == 0 => self.back_off(peer),
                    _ => {}
                }
                tracing::debug!(target: "mosaic::network", %peer, imported, "sync batch done");
                self.maybe_sync();
            }
        }
    }

    /// Asks the peer with the highest best block for blocks, if it is
    /// ahead of us and no request is out.
    pub(super) fn maybe_sync(&mut self) {
        if self.sync != SyncState::Idle {
            return;
        }
        let best = self.chain.info().best_number;
        let now = Instant::now();
        let ahead = self
            .shared()
            .peers
            .iter()
            .filter_map(|(peer, status)| Some((*peer, status.as_ref()?.best_number)))
            .filter(|(peer, number)| {
                *number > best && self.backoff.get(peer).is_none_or(|until| *until <= now)
            })
            .max_by_key(|(_, number)| *number)
            .map(|(peer, _)| peer);
        if let Some(peer) = ahead {
            self.request_blocks(peer, best + 1, false);
        }
    }

    /// Asks `peer` for its best chain's blocks from `from` on.
    fn request_blocks(&mut self, peer: PeerId, from: BlockNumber, from_finalized: bool) {
        let request = Request::Blocks {
            from,
            max: SYNC_BATCH,
        };
        self.request(peer, request, Pending::Blocks { from_finalized });
        self.sync = SyncState::Asking;
    }
}
