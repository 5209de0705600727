//! `mosaic-node`: block store (RocksDB), native execution of the runtime,
//! Aura-style authoring, GRANDPA finality, libp2p networking and JSON-RPC.
//!
//! Status: placeholder; built under issues 4 and 5.
