//! `mosaic-worker`: the storage provider's sidecar. It talks to a node only
//! over JSON-RPC (`mosaic-api`) and to clients over the shard protocol
//! (`mosaic-shard-net`).
//!
//! * [`register`]: registers the account as a provider with the stake its
//!   capacity needs, its libp2p identity ([`identity`]) and addresses.
//! * [`run`]: follows the node's new and finalized heads, admits a piece
//!   only when an order on chain assigns it to this provider
//!   ([`admission`]), stores what verifies, confirms it through the one
//!   transaction [`submitter`], serves what it holds, and removes pieces
//!   whose order ended once that is final. Reconnects when the node goes.
//! * [`prover`]: answers each challenge to this provider from the stored
//!   piece, through the submitter ahead of everything else.
//! * [`repair`]: rebuilds a piece the chain moved to this provider from
//!   `k` other pieces' providers, checks it against its root, stores and
//!   confirms it.
//! * [`scrub`]: finds damaged pieces (at start, then in a rate-bounded
//!   background pass) and [`health`] reports them and has them rebuilt.
//! * [`status`]: what the chain says about this provider, and what its
//!   worker found.
//! * [`metrics`]: Prometheus metrics (pieces and bytes held, requests by
//!   kind and outcome, bytes received and served, proofs and how long they
//!   take to get in, the audit tally, repairs, damage and the scrub).

pub mod admission;
pub mod health;
pub mod identity;
pub mod metrics;
pub mod node;
pub mod prover;
pub mod register;
pub mod repair;
pub mod run;
pub mod scrub;
pub mod size;
pub mod status;
pub mod submitter;
