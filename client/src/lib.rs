//! The Mosaic client library behind the `mosaic` command-line tool.
//!
//! * [`shard_dir`]: a directory of shard files, each piece's shard-root list
//!   and a manifest, the offline
//!   form of a stored object that `mosaic encode` writes and `mosaic decode`
//!   reads.
//!
//! * [`put`] / [`get`]: storing a file on the network (quote, order,
//!   pieces streamed to the providers the chain placed them on, wait until
//!   live) and getting it back from any `k` providers per segment with
//!   nothing but the owner's key.
//! * [`providers`]: where an order's providers are, and asking them with
//!   retries; [`progress`]: progress bars on stderr.
//! * [`direct`]: writing files without copying them through the page
//!   cache (shard files, decoded outputs).
//! * [`gateway`]: `mosaic gateway`, the IPFS path and trustless HTTP
//!   gateway over public content, every byte checked against its CID.
//! * [`pack_input`] / [`pack_output`]: a public file or directory as the
//!   UnixFS pack put stores, and writing a pack's file or tree back out.
//! * [`public_blocks`]: public content by CID, block by block, read from
//!   the providers through a bounded segment cache (the gateway's store).
//! * [`ipfs_p2p`]: the gateway's libp2p host: Bitswap, Kademlia and
//!   Identify, so that IPFS nodes find and fetch public content by CID.
//! * [`tree`]: a directory on disk as the IPFS DAG `ipfs add -r` makes of
//!   it: its root CID, every dag-pb block and its files in DAG order.
//!
//! Account keys and the node connection are `mosaic-api`'s
//! ([`keys`], [`chain`]), shared with the worker.

pub mod direct;
pub mod gateway;
pub mod get;
pub mod ipfs_p2p;
pub mod pack_input;
pub mod pack_output;
pub mod progress;
pub mod providers;
pub mod public_blocks;
pub mod put;
pub mod shard_dir;
pub mod tree;

pub use mosaic_api::{amount, chain, keys};
