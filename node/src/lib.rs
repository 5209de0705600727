//! `mosaic-node`: a validator or full node of the Mosaic chain.
//!
//! How a block flows through it:
//! - [`author`] builds a block in each of our Aura slots from the
//!   [`pool`]'s ready transactions, seals it and hands it to [`chain`];
//! - [`chain`] checks a block (parent, slot, seal, author), executes it
//!   natively with the runtime on its parent's state, and writes it with its
//!   new trie nodes into the [`store`] (RocksDB) in one batch; it then
//!   announces the import, which the pool (to drop included transactions)
//!   and the JSON-RPC subscriptions follow;
//! - [`network`] gossips our blocks, transactions and GRANDPA votes to peers
//!   over libp2p, checks what peers send before passing it on, and syncs
//!   the chain from peers that are ahead;
//! - [`grandpa`] runs a GRANDPA voter on the network's votes and finalizes
//!   blocks in [`chain`], storing each commit as a justification;
//! - [`rpc`] answers Substrate's JSON-RPC methods over HTTP and WebSocket;
//!   [`metrics`] serves Prometheus metrics;
//! - [`service`] wires it together from a [`service::Config`], which the
//!   binary builds from its command line.

pub mod author;
pub mod chain;
pub mod grandpa;
pub mod keystore;
pub mod metrics;
pub mod network;
pub mod pool;
pub mod rpc;
pub mod service;
pub mod store;
#[cfg(test)]
mod testing;
