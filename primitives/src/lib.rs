//! Mosaic primitives: the data path and the types every other crate shares.
//!
//! Pure code: no I/O beyond [`std::io::Read`] and [`std::io::Write`], no
//! clocks, no network. The put path, in the order data flows:
//!
//! 1. [`encryption`]: a random file key encrypts the bytes as authenticated
//!    frames (AES-256-GCM where the CPU has AES instructions, else
//!    ChaCha20-Poly1305); the key is wrapped to each reader's X25519 public
//!    key with HPKE. Public files skip this step.
//! 2. [`erasure`]: the stored bytes are cut into segments and each segment is
//!    Reed-Solomon coded into `k` data and `m` parity shards.
//! 3. [`merkle`]: every shard gets a SHA-256 Merkle root; [`piece`]: shard `i`
//!    of every segment forms piece `i`, named on chain by the root over its
//!    shard roots; piece leaf proofs answer audits.
//! 4. [`unixfs`]: the stored bytes get an IPFS-compatible CIDv1; directory
//!    trees get Kubo's directory DAG (basic or HAMT-sharded), whose blocks
//!    [`unixfs`] also decodes and walks by path.
//! 5. [`manifest`]: a versioned SCALE record of the CID, size, coding, cipher
//!    suite and wrapped keys, and the `k + m` piece roots, with its own CID. Each piece's list of
//!    shard roots is stored beside its shards.
//!
//! [`pipeline`] runs put and get over a stream in bounded memory on several
//! threads; get checks each piece's shard-root list against its piece root,
//! and every shard against that list, before use.
//! [`memory`] has in-memory shard stores for tests, caches and dry runs.

pub mod encryption;
pub mod erasure;
pub mod manifest;
pub mod memory;
pub mod merkle;
pub mod pack;
pub(crate) mod parallel;
pub mod piece;
pub mod pipeline;
pub mod unixfs;
