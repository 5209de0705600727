//! The peer set: reputation and bans, and reserved peers kept connected.

use super::*;

/// Reputation at which a peer is banned.
pub const BAN_THRESHOLD: i32 = -100;
/// How long a banned peer stays banned.
pub const BAN_DURATION: Duration = Duration::from_secs(600);
/// What misbehaviour costs, in reputation.
pub mod cost {
    /// Bytes that do not decode, or a message too large.
    pub const GARBAGE: i32 = -100;
    /// A block that fails its checks.
    pub const INVALID_BLOCK: i32 = -100;
    /// A second block by one author for one slot.
    pub const EQUIVOCATION: i32 = -25;
    /// A vote, commit or catch-up with a bad signature or bad content.
    pub const INVALID_GRANDPA: i32 = -100;
    /// A peer of another chain.
    pub const WRONG_GENESIS: i32 = -100;
}

impl Worker {
    /// Lowers `peer`'s reputation; bans it at the threshold.
    pub(super) fn report(&mut self, peer: PeerId, cost: i32, why: &str) {
        let reputation = self.reputation.entry(peer).or_default();
        *reputation = reputation.saturating_add(cost);
        tracing::warn!(target: "mosaic::network", %peer, reputation, "misbehaved: {why}");
        if *reputation <= BAN_THRESHOLD {
            tracing::warn!(target: "mosaic::network", %peer, "banned for {BAN_DURATION:?}");
            self.reputation.remove(&peer);
            self.banned.push((Instant::now() + BAN_DURATION, peer));
            self.swarm.behaviour_mut().blocked.block_peer(peer);
            self.swarm.behaviour_mut().kad.remove_peer(&peer);
        }
    }

    fn is_banned(&self, peer: &PeerId) -> bool {
        self.banned.iter().any(|(_, p)| p == peer)
    }

    /// Lifts the bans that ran out by `now`.
    pub(super) fn unban_expired(&mut self, now: Instant) {
        let expired: Vec<PeerId> = self
            .banned
            .iter()
            .filter(|(until, _)| *until <= now)
            .map(|(_, peer)| *peer)
            .collect();
        self.banned.retain(|(until, _)| *until > now);
        for peer in expired {
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        }
    }

    /// Dials the reserved peers we are not connected to.
    pub(super) fn dial_reserved(&mut self) {
        for (peer, addr) in self.reserved.clone() {
            if !self.swarm.is_connected(&peer) && !self.is_banned(&peer) {
                let _ = self.swarm.dial(addr);
            }
        }
    }

    /// Keeps a connection to `addr`, which names its peer.
    pub(super) fn add_reserved(&mut self, addr: Multiaddr) {
        let Some(peer) = peer_id_of(&addr) else {
            return;
        };
        self.reserved.retain(|(p, _)| *p != peer);
        self.reserved.push((peer, addr.clone()));
        self.publish_reserved();
        self.swarm
            .behaviour_mut()
            .kad
            .add_address(&peer, addr.clone());
        if !self.swarm.is_connected(&peer) {
            let _ = self.swarm.dial(addr);
        }
    }

    /// Stops keeping `peer`; with `--reserved-only`, drops it.
    pub(super) fn remove_reserved(&mut self, peer: PeerId) {
        self.reserved.retain(|(p, _)| *p != peer);
        self.publish_reserved();
        if self.reserved_only {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn publish_reserved(&self) {
        self.shared().reserved = self.reserved.iter().map(|(peer, _)| *peer).collect();
    }
}
