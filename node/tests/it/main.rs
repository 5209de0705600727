//! End-to-end tests of `mosaic-node`: each test starts the real binary on a
//! temporary base path with ephemeral ports, talks to it over JSON-RPC with
//! jsonrpsee's clients, and signs transactions the way any Substrate client
//! does, from what the RPC says. Tests wait on events (subscription
//! notifications, log lines), never on the clock.
//!
//! `MOSAIC_IT_NODE_LOG` sets the nodes' log filter (`RUST_LOG`, default
//! `info`); their logs appear, prefixed with the test's name, in a failing
//! test's output.

mod harness;
mod rpc;
mod tx;

mod bad_input;
mod browser;
mod cli;
mod dev_node;
mod market;
mod names;
mod network;
mod restart;
mod transfers;
