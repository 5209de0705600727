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
//! - [`rpc`] answers Substrate's JSON-RPC methods over HTTP and WebSocket;
//!   [`metrics`] serves Prometheus metrics;
//! - [`service`] wires it together from a [`service::Config`], which the
//!   binary builds from its command line.

pub mod author;
pub mod chain;
pub mod keystore;
pub mod metrics;
pub mod node_key;
pub mod pool;
pub mod rpc;
pub mod service;
pub mod store;
#[cfg(test)]
mod testing;
