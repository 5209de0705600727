//! The Mosaic client library behind the `mosaic` command-line tool.
//!
//! * [`keys`]: the account key file: one secret seed that gives both the
//!   sr25519 account key (and its SS58 address) and the X25519 key files are
//!   encrypted to.
//! * [`shard_dir`]: a directory of shard files, each piece's shard-root list
//!   and a manifest, the offline
//!   form of a stored object that `mosaic encode` writes and `mosaic decode`
//!   reads.
//!
//! * [`chain`]: a node's JSON-RPC: account state, signing and submitting
//!   extrinsics, transfers.

pub mod chain;
pub mod keys;
pub mod shard_dir;
