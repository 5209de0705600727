//! The Mosaic client library behind the `mosaic` command-line tool.
//!
//! * [`shard_dir`]: a directory of shard files, each piece's shard-root list
//!   and a manifest, the offline
//!   form of a stored object that `mosaic encode` writes and `mosaic decode`
//!   reads.
//!
//! Account keys and the node connection are `mosaic-api`'s
//! ([`keys`], [`chain`]), shared with the worker.

pub mod shard_dir;

pub use mosaic_api::{amount, chain, keys};
