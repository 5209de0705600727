//! The worker's connection to its node, replaced when the node goes away.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use mosaic_api::chain::{ChainClient, ChainError};

/// A reconnecting handle on a node's JSON-RPC.
pub struct Node {
    url: String,
    client: RwLock<Arc<ChainClient>>,
}

impl Node {
    /// Connects to `url`.
    pub async fn connect(url: &str) -> Result<Self, ChainError> {
        Ok(Node {
            url: url.into(),
            client: RwLock::new(Arc::new(ChainClient::connect(url).await?)),
        })
    }

    /// The current connection.
    pub fn get(&self) -> Arc<ChainClient> {
        self.client
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until the node answers again and uses the new connection.
    pub async fn reconnect(&self) {
        let mut delay = Duration::from_millis(250);
        loop {
            match ChainClient::connect(&self.url).await {
                Ok(client) => {
                    *self.client.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(client);
                    tracing::info!(target: "mosaic::worker", "reconnected to the node at {}", self.url);
                    return;
                }
                Err(e) => {
                    tracing::warn!(target: "mosaic::worker", "{e}; retrying in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}
