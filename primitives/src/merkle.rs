//! Merkle trees over shards: the shard root (a leaf of its piece's tree, see
//! [`piece`](crate::piece)) and the leaf proofs that audits check.
//!
//! A shard is cut into [`LEAF_SIZE`]-byte leaves (the last may be shorter).
//! Hashes are SHA-256 with domain separation, so that a leaf can never pass
//! for an inner node: `leaf = H(0x00 || bytes)`, `node = H(0x01 || left ||
//! right)`. A level with an odd count promotes its last hash unchanged.
//!
//! A proof is the leaf's bytes plus one sibling hash per level where the leaf's
//! ancestor has a sibling: at most [`MAX_PROOF_DEPTH`] hashes, so a proof is at
//! most [`MAX_PROOF_SIZE`] bytes (`1024 + 16 * 32 = 1536`) for shards up to
//! [`MAX_SHARD_SIZE`](crate::erasure::MAX_SHARD_SIZE). Verification needs the
//! root and the shard size (both on chain) and costs at most 17 hashes.

use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;
use sha2::{Digest, Sha256};

use crate::erasure::MAX_SHARD_SIZE;

mod pair;

/// Bytes per Merkle leaf.
pub const LEAF_SIZE: usize = 1024;
/// Most leaves a shard can have.
pub const MAX_LEAVES: u32 = MAX_SHARD_SIZE / LEAF_SIZE as u32;
/// Most sibling hashes in a proof: `log2(MAX_LEAVES)`.
pub const MAX_PROOF_DEPTH: usize = MAX_LEAVES.ilog2() as usize;
/// Largest encoded proof: a full leaf plus a full path (and SCALE prefixes).
pub const MAX_PROOF_SIZE: usize = LEAF_SIZE + MAX_PROOF_DEPTH * 32 + 8;

const LEAF_TAG: u8 = 0;
const NODE_TAG: u8 = 1;

/// A SHA-256 hash in the tree.
pub type Hash = [u8; 32];

/// Declares a named 32-byte root: SCALE-encoded as its bytes, printed in hex.
macro_rules! root_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            parity_scale_codec::Encode,
            parity_scale_codec::Decode,
            parity_scale_codec::DecodeWithMemTracking,
            scale_info::TypeInfo,
            parity_scale_codec::MaxEncodedLen,
        )]
        pub struct $name(pub $crate::merkle::Hash);

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!(stringify!($name), "("))?;
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
                write!(f, ")")
            }
        }
    };
}
pub(crate) use root_type;

root_type!(
    /// The Merkle root of one shard: a leaf of its piece's upper tree.
    ShardRoot
);

/// A leaf and the sibling hashes from it up to the root.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct MerkleProof {
    /// The leaf's bytes.
    pub leaf: Vec<u8>,
    /// Sibling hashes, nearest the leaf first.
    pub path: Vec<Hash>,
}

/// Why a proof was not produced or did not verify.
/// The input of the proof fuzzer (`fuzz/fuzz_targets/proof_verify.rs`),
/// here so that the crate's tests check its seeds.
#[doc(hidden)]
#[derive(Debug, Decode, Encode)]
pub struct FuzzProofInput {
    /// Shard bytes the root is built from (kept small by the fuzzer).
    pub shard: Vec<u8>,
    /// Claimed shard size.
    pub shard_size: u64,
    /// The leaf proven.
    pub index: u32,
    /// The proof.
    pub proof: MerkleProof,
    /// A root to check against instead of the shard's.
    pub root: Option<[u8; 32]>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The shard size is zero or above the maximum.
    #[error("shard size {0} is not between 1 and {MAX_SHARD_SIZE}")]
    ShardSize(u64),
    /// The leaf index is past the shard's last leaf.
    #[error("leaf {index} is out of range for {leaves} leaves")]
    IndexOutOfRange {
        /// The requested leaf.
        index: u32,
        /// Leaves in the shard.
        leaves: u32,
    },
    /// The leaf has the wrong length for its index.
    #[error("leaf is {actual} bytes, expected {expected}")]
    LeafLength {
        /// Length given.
        actual: usize,
        /// Length the shard size implies.
        expected: usize,
    },
    /// The path has the wrong number of hashes for this index.
    #[error("path has {actual} hashes, expected {expected}")]
    PathLength {
        /// Length given.
        actual: usize,
        /// Length the tree shape implies.
        expected: usize,
    },
    /// The leaf is past the piece's last leaf.
    #[error("piece leaf {leaf} is out of range for {leaves} leaves")]
    PieceLeafOutOfRange {
        /// The requested leaf.
        leaf: u64,
        /// Leaves in the piece.
        leaves: u64,
    },
    /// A piece's shard-root list does not have one root per segment.
    #[error("{actual} shard roots for a piece of {expected} segments")]
    ShardRootCount {
        /// Roots given.
        actual: usize,
        /// Segments of the piece.
        expected: usize,
    },
    /// Everything is well formed but the hashes do not lead to the root.
    #[error("proof does not match the shard root")]
    RootMismatch,
}

/// Number of leaves of a shard of `shard_size` bytes.
pub fn leaf_count(shard_size: u64) -> Result<u32, ProofError> {
    if shard_size == 0 || shard_size > u64::from(MAX_SHARD_SIZE) {
        return Err(ProofError::ShardSize(shard_size));
    }
    Ok(u32::try_from(shard_size.div_ceil(LEAF_SIZE as u64)).expect("bounded by MAX_LEAVES; qed"))
}

pub(crate) fn hash_leaf(leaf: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([LEAF_TAG])
        .chain_update(leaf)
        .finalize()
        .into()
}

/// The two children of a node, one after the other.
fn children(left: &Hash, right: &Hash) -> [u8; 64] {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(left);
    both[32..].copy_from_slice(right);
    both
}

fn hash_node(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([NODE_TAG])
        .chain_update(children(left, right))
        .finalize()
        .into()
}

/// Hashes one level up in place, two parents at a time; returns the new
/// length.
fn reduce(level: &mut [Hash]) -> usize {
    let parents = level.len().div_ceil(2);
    let mut i = 0;
    while 2 * i + 4 <= level.len() {
        let [left, right] = [2 * i, 2 * i + 2].map(|c| children(&level[c], &level[c + 1]));
        [level[i], level[i + 1]] = pair::tagged_pair(NODE_TAG, &left, &right);
        i += 2;
    }
    for i in i..parents {
        level[i] = match level.get(2 * i + 1) {
            Some(right) => hash_node(&level[2 * i], right),
            None => level[2 * i],
        };
    }
    parents
}

/// The leaf hashes of a shard, two leaves at a time.
fn leaf_hashes(shard: &[u8]) -> Vec<Hash> {
    let mut hashes = Vec::with_capacity(shard.len().div_ceil(LEAF_SIZE));
    let mut pairs = shard.chunks_exact(2 * LEAF_SIZE);
    for leaves in &mut pairs {
        let (a, b) = leaves.split_at(LEAF_SIZE);
        hashes.extend(pair::tagged_pair(LEAF_TAG, a, b));
    }
    hashes.extend(pairs.remainder().chunks(LEAF_SIZE).map(hash_leaf));
    hashes
}

/// The root of the tree over a non-empty level of hashes (consumed as scratch).
pub(crate) fn root_of(mut level: Vec<Hash>) -> Hash {
    let mut len = level.len();
    while len > 1 {
        len = reduce(&mut level[..len]);
    }
    level[0]
}

/// The sibling hashes from `index` of a non-empty level up to its root.
pub(crate) fn path_of(level: Vec<Hash>, index: usize) -> Vec<Hash> {
    paths_of(level, &[index]).pop().unwrap_or_default()
}

/// The sibling hashes from each of `indices` of a non-empty level up to its
/// root, hashing the tree once.
pub(crate) fn paths_of(mut level: Vec<Hash>, indices: &[usize]) -> Vec<Vec<Hash>> {
    let mut len = level.len();
    let mut positions = indices.to_vec();
    let mut paths = vec![Vec::new(); indices.len()];
    while len > 1 {
        for (position, path) in positions.iter_mut().zip(&mut paths) {
            let sibling = *position ^ 1;
            if sibling < len {
                path.push(level[sibling]);
            }
            *position /= 2;
        }
        len = reduce(&mut level[..len]);
    }
    paths
}

/// Climbs from `hash` at `index` of a level of `width` hashes to the root,
/// with `path`; checks the path's length against the tree's shape before
/// any hashing. `index < width` is the caller's to check.
pub(crate) fn climb(width: u32, index: u32, hash: Hash, path: &[Hash]) -> Result<Hash, ProofError> {
    let (mut len, mut position, mut depth) = (width as usize, index as usize, 0);
    while len > 1 {
        if position ^ 1 < len {
            depth += 1;
        }
        len = len.div_ceil(2);
        position /= 2;
    }
    if path.len() != depth {
        return Err(ProofError::PathLength {
            actual: path.len(),
            expected: depth,
        });
    }
    let mut hash = hash;
    let (mut len, mut position) = (width as usize, index as usize);
    let mut siblings = path.iter();
    while len > 1 {
        if position ^ 1 < len {
            let sibling = siblings.next().expect("path length checked above; qed");
            hash = if position % 2 == 0 {
                hash_node(&hash, sibling)
            } else {
                hash_node(sibling, &hash)
            };
        }
        len = len.div_ceil(2);
        position /= 2;
    }
    Ok(hash)
}

/// The root of a non-empty shard of at most [`MAX_SHARD_SIZE`] bytes.
pub fn root(shard: &[u8]) -> Result<ShardRoot, ProofError> {
    leaf_count(shard.len() as u64)?;
    Ok(ShardRoot(root_of(leaf_hashes(shard))))
}

/// A proof for leaf `index` of `shard`.
pub fn prove(shard: &[u8], index: u32) -> Result<MerkleProof, ProofError> {
    let leaves = leaf_count(shard.len() as u64)?;
    if index >= leaves {
        return Err(ProofError::IndexOutOfRange { index, leaves });
    }
    let start = index as usize * LEAF_SIZE;
    let leaf = shard[start..shard.len().min(start + LEAF_SIZE)].to_vec();
    let path = path_of(leaf_hashes(shard), index as usize);
    Ok(MerkleProof { leaf, path })
}

/// The root that `proof` leads to as leaf `index` of a shard of `shard_size`
/// bytes, once its leaf length and path length fit that shape.
pub(crate) fn proof_root(
    shard_size: u64,
    index: u32,
    leaf: &[u8],
    path: &[Hash],
) -> Result<Hash, ProofError> {
    let leaves = leaf_count(shard_size)?;
    if index >= leaves {
        return Err(ProofError::IndexOutOfRange { index, leaves });
    }
    let start = u64::from(index) * LEAF_SIZE as u64;
    let expected = (shard_size - start).min(LEAF_SIZE as u64) as usize;
    if leaf.len() != expected {
        return Err(ProofError::LeafLength {
            actual: leaf.len(),
            expected,
        });
    }
    climb(leaves, index, hash_leaf(leaf), path)
}

/// Checks that `proof` shows leaf `index` of a shard of `shard_size` bytes
/// whose root is `root`. Never panics, whatever the input.
pub fn verify(
    root: &ShardRoot,
    shard_size: u64,
    index: u32,
    proof: &MerkleProof,
) -> Result<(), ProofError> {
    if proof_root(shard_size, index, &proof.leaf, &proof.path)? == root.0 {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shard(len: usize, seed: u8) -> Vec<u8> {
        (0..len as u64)
            .map(|i| ((i ^ u64::from(seed) << 40).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect()
    }

    #[test]
    fn single_leaf_root_is_the_leaf_hash() {
        let s = shard(100, 1);
        assert_eq!(root(&s).unwrap().0, hash_leaf(&s));
        let proof = prove(&s, 0).unwrap();
        assert!(proof.path.is_empty());
        verify(&root(&s).unwrap(), 100, 0, &proof).unwrap();
    }

    #[test]
    fn three_leaves_promote_the_odd_one() {
        let s = shard(3 * LEAF_SIZE, 2);
        let [a, b, c] = [0, 1, 2].map(|i| hash_leaf(&s[i * LEAF_SIZE..(i + 1) * LEAF_SIZE]));
        assert_eq!(root(&s).unwrap().0, hash_node(&hash_node(&a, &b), &c));
        assert_eq!(prove(&s, 2).unwrap().path, vec![hash_node(&a, &b)]);
    }

    #[test]
    fn roots_hashed_in_pairs_match_a_tree_hashed_one_at_a_time() {
        fn one_at_a_time(level: Vec<Hash>) -> Hash {
            match level[..] {
                [root] => root,
                _ => one_at_a_time(
                    level
                        .chunks(2)
                        .map(|c| c.get(1).map_or(c[0], |right| hash_node(&c[0], right)))
                        .collect(),
                ),
            }
        }
        for len in (1..42).map(|leaves| leaves * LEAF_SIZE - leaves % 3) {
            let s = shard(len, len as u8);
            let leaves = s.chunks(LEAF_SIZE).map(hash_leaf).collect();
            assert_eq!(root(&s).unwrap().0, one_at_a_time(leaves), "{len} bytes");
        }
    }

    #[test]
    fn bad_sizes_and_indices_are_errors() {
        assert_eq!(root(&[]), Err(ProofError::ShardSize(0)));
        let s = shard(2 * LEAF_SIZE, 0);
        assert_eq!(
            prove(&s, 2),
            Err(ProofError::IndexOutOfRange {
                index: 2,
                leaves: 2
            })
        );
        let r = root(&s).unwrap();
        let proof = prove(&s, 1).unwrap();
        assert_eq!(
            verify(&r, u64::from(MAX_SHARD_SIZE) + 1, 1, &proof),
            Err(ProofError::ShardSize(u64::from(MAX_SHARD_SIZE) + 1))
        );
        assert_eq!(
            verify(&r, 2 * LEAF_SIZE as u64 - 1, 1, &proof),
            Err(ProofError::LeafLength {
                actual: LEAF_SIZE,
                expected: LEAF_SIZE - 1
            })
        );
        let mut long = proof.clone();
        long.path.push([0; 32]);
        assert_eq!(
            verify(&r, 2 * LEAF_SIZE as u64, 1, &long),
            Err(ProofError::PathLength {
                actual: 2,
                expected: 1
            })
        );
    }

    #[test]
    fn largest_proof_fits_the_documented_bound() {
        let s = vec![9u8; MAX_SHARD_SIZE as usize];
        let proof = prove(&s, MAX_LEAVES - 1).unwrap();
        assert_eq!(proof.path.len(), MAX_PROOF_DEPTH);
        assert!(proof.encode().len() <= MAX_PROOF_SIZE);
        verify(&root(&s).unwrap(), s.len() as u64, MAX_LEAVES - 1, &proof).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn every_proof_verifies_and_any_change_fails(
            len in 1usize..20 * LEAF_SIZE,
            seed in any::<u8>(),
            pick in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let s = shard(len, seed);
            let r = root(&s).unwrap();
            let leaves = leaf_count(len as u64).unwrap();
            for index in 0..leaves {
                verify(&r, len as u64, index, &prove(&s, index).unwrap()).unwrap();
            }
            let index = pick.index(leaves as usize) as u32;
            let proof = prove(&s, index).unwrap();

            // A flipped bit in the leaf.
            let mut bad = proof.clone();
            let at = flip.index(bad.leaf.len());
            bad.leaf[at] ^= 1 << bit;
            prop_assert_eq!(verify(&r, len as u64, index, &bad), Err(ProofError::RootMismatch));

            // A flipped bit in the path.
            if !proof.path.is_empty() {
                let mut bad = proof.clone();
                let at = flip.index(bad.path.len() * 32);
                bad.path[at / 32][at % 32] ^= 1 << bit;
                prop_assert_eq!(verify(&r, len as u64, index, &bad), Err(ProofError::RootMismatch));
            }

            // The right proof claimed for another index.
            if leaves > 1 {
                let other = (index + 1) % leaves;
                prop_assert!(verify(&r, len as u64, other, &proof).is_err());
            }

            // Any flipped bit in the shard changes its root.
            let mut tampered = s.clone();
            tampered[flip.index(len)] ^= 1 << bit;
            prop_assert_ne!(root(&tampered).unwrap(), r);
        }
    }
}
