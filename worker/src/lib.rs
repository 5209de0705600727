//! `mosaic-worker`: the storage provider's sidecar. It holds the provider key,
//! stores shards durably after checking them against their on-chain roots
//! ([`mosaic_primitives::merkle`]), serves them over libp2p and answers audit
//! challenges with Merkle proofs.
//!
//! Status: placeholder; built after the node (issues 4 and 5).
