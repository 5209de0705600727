//! `system_*`: the node, its peers and its accounts' nonces.

use mosaic_api::rpc::{Health, PeerInfo, SystemRpcServer};
use mosaic_runtime::Nonce;
use serde_json::Value;

use super::{codes, error, invalid_params, parse_account, Api, RpcResult};
use crate::network::{self, Multiaddr, Network, PeerId};

/// `system_health` reports syncing while a peer is further ahead than this.
const SYNCING_DISTANCE: u32 = 4;

impl Api {
    fn network(&self) -> RpcResult<&Network> {
        self.network
            .as_ref()
            .ok_or_else(|| error(codes::INTERNAL, "this node has no network"))
    }

    fn connected(&self) -> Vec<network::PeerInfo> {
        self.network
            .as_ref()
            .map(Network::peers)
            .unwrap_or_default()
    }
}

impl SystemRpcServer for Api {
    fn name(&self) -> RpcResult<String> {
        Ok(self.info.name.clone())
    }

    fn version(&self) -> RpcResult<String> {
        Ok(self.info.version.clone())
    }

    fn chain(&self) -> RpcResult<String> {
        Ok(self.info.chain.clone())
    }

    fn chain_type(&self) -> RpcResult<Value> {
        Ok(self.info.chain_type.clone())
    }

    fn properties(&self) -> RpcResult<Value> {
        Ok(self.info.properties.clone())
    }

    fn health(&self) -> RpcResult<Health> {
        let peers = self.connected();
        let best = self.chain.info().best_number;
        let is_syncing = peers
            .iter()
            .filter_map(|p| p.status)
            .any(|s| s.best_number > best.saturating_add(SYNCING_DISTANCE));
        Ok(Health {
            peers: peers.len(),
            is_syncing,
            should_have_peers: self.info.should_have_peers,
        })
    }

    fn peers(&self) -> RpcResult<Vec<PeerInfo>> {
        Ok(self
            .connected()
            .into_iter()
            .map(|p| PeerInfo {
                peer_id: p.peer_id.to_string(),
                roles: "FULL".into(),
                best_hash: p.status.map(|s| s.best_hash),
                best_number: p.status.map(|s| s.best_number),
            })
            .collect())
    }

    fn local_peer_id(&self) -> RpcResult<String> {
        Ok(self.info.peer_id.clone())
    }

    fn local_listen_addresses(&self) -> RpcResult<Vec<String>> {
        Ok(self
            .network
            .as_ref()
            .map(|n| n.listen_addresses().iter().map(|a| a.to_string()).collect())
            .unwrap_or_default())
    }

    fn reserved_peers(&self) -> RpcResult<Vec<String>> {
        Ok(self
            .network()?
            .reserved()
            .iter()
            .map(ToString::to_string)
            .collect())
    }

    fn add_reserved_peer(&self, peer: String) -> RpcResult<()> {
        self.check_unsafe()?;
        let addr: Multiaddr = peer
            .parse()
            .map_err(|e| invalid_params(format!("not a multiaddr: {e}")))?;
        self.network()?
            .add_reserved(addr)
            .map_err(|e| invalid_params(e.to_string()))
    }

    fn remove_reserved_peer(&self, peer_id: String) -> RpcResult<()> {
        self.check_unsafe()?;
        let peer: PeerId = peer_id
            .parse()
            .map_err(|e| invalid_params(format!("not a peer id: {e}")))?;
        self.network()?.remove_reserved(peer);
        Ok(())
    }

    fn account_next_index(&self, account: String) -> RpcResult<Nonce> {
        let account = parse_account(&account)?;
        Ok(self.pool.next_nonce(&account)?)
    }
}
