//! The Mosaic client library behind the `mosaic` command-line tool.
//!
//! * [`keys`]: the account key file: one secret seed that gives both the
//!   sr25519 account key (and its SS58 address) and the X25519 key files are
//!   encrypted to.
//! * [`shard_dir`]: a directory of shard files and a manifest, the offline
//!   form of a stored object that `mosaic encode` writes and `mosaic decode`
//!   reads.
//!
//! Chain access (orders, uploads to providers) joins once the node exists.

pub mod keys;
pub mod shard_dir;
