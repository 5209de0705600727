//! Pieces: what one provider holds of an object, and how the chain names and
//! audits it.
//!
//! An object of `S` segments coded `k + m` has `k + m` **pieces**: piece `i`
//! is shard `i` of every segment, in segment order. Every piece of an object
//! has the same size (the shards of one segment are equally long), so the
//! chain records `k + m` pieces per order whatever the object's size.
//!
//! **The piece root** is a two-level Merkle tree with the hashing of
//! [`merkle`](crate::merkle) at both levels:
//!
//! ```text
//!                 piece root                    upper tree: one leaf per segment,
//!               /            \                  the shard roots themselves
//!       shard root 0  …  shard root S-1
//!        /       \
//!   H(0‖leaf) … H(0‖leaf)                       lower trees: 1 KiB leaves of a shard
//! ```
//!
//! A worker receiving a piece checks each segment's shard as it arrives
//! against the piece's **shard-root list** (`S` hashes, verified once against
//! the piece root with [`verify_shard_roots`]); a reader does the same.
//!
//! **A leaf of a piece** is numbered across its shards: leaves `0..L` are
//! those of segment 0's shard, and so on (`L` leaves per full shard; only the
//! last segment's shard may have fewer). A [`PieceProof`] of a leaf is its
//! bytes, the path to its shard root and the path from that shard root to the
//! piece root. The chain checks it with [`verify`], knowing only the piece
//! root, the coding and the stored size: at most 16 + 20 sibling hashes and
//! 37 hashes (89 SHA-256 compressions: 17 for a full leaf, 2 for each inner
//! node); its encoding is at most [`MAX_PIECE_PROOF_SIZE`] (2 188) bytes.
//!
//! **Bounds.** An object has at most [`MAX_SEGMENTS`] segments (2^20): 8 TiB
//! of stored bytes at the default 8 MiB segments, 64 TiB at 64 MiB. The
//! upper path is then at most 20 hashes.
//!
//! **Pieces are plain**, the same bytes for whoever holds them (first or
//! repaired), not provider-unique encodings: `docs/replica-format.md` weighs
//! the alternatives and gives the figures.

use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;

use crate::erasure::{CodingParams, ParamsError};
use crate::merkle::{self, Hash, ProofError, ShardRoot, MAX_PROOF_DEPTH};

/// Most segments an object may have.
pub const MAX_SEGMENTS: u32 = 1 << 20;
/// Most sibling hashes from a shard root to its piece root.
pub const MAX_PIECE_PATH: usize = MAX_SEGMENTS.ilog2() as usize;
/// Largest encoded [`PieceProof`]: a full leaf, both paths at full depth,
/// and their SCALE length prefixes.
pub const MAX_PIECE_PROOF_SIZE: usize =
    merkle::LEAF_SIZE + (MAX_PROOF_DEPTH + MAX_PIECE_PATH) * 32 + 12;

merkle::root_type!(
    /// The root of a piece: what the chain records for it and audits against.
    PieceRoot
);

/// Why an object's layout is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The coding parameters are out of bounds.
    #[error("invalid coding parameters")]
    Params(#[from] ParamsError),
    /// Nothing to store.
    #[error("an object of zero stored bytes has no pieces")]
    Empty,
    /// More segments than [`MAX_SEGMENTS`].
    #[error("{segments} segments exceed the limit of {MAX_SEGMENTS}; use larger segments")]
    TooManySegments {
        /// Segments the size and segment size imply.
        segments: u64,
    },
}

/// The shape of an object's pieces: how many segments, how big each shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    coding: CodingParams,
    stored_size: u64,
    segments: u32,
}

impl Layout {
    /// The layout of `stored_size` bytes coded with `coding`, if within bounds.
    pub fn new(coding: CodingParams, stored_size: u64) -> Result<Self, LayoutError> {
        coding.validate()?;
        if stored_size == 0 {
            return Err(LayoutError::Empty);
        }
        let segments = coding.segment_count(stored_size);
        if segments > u64::from(MAX_SEGMENTS) {
            return Err(LayoutError::TooManySegments { segments });
        }
        Ok(Layout {
            coding,
            stored_size,
            segments: segments as u32,
        })
    }

    /// Largest stored size `coding` allows.
    pub fn max_stored_size(coding: &CodingParams) -> u64 {
        u64::from(MAX_SEGMENTS) * u64::from(coding.segment_size)
    }

    /// The coding parameters.
    pub fn coding(&self) -> CodingParams {
        self.coding
    }

    /// Stored bytes.
    pub fn stored_size(&self) -> u64 {
        self.stored_size
    }

    /// Segments, at least one.
    pub fn segment_count(&self) -> u32 {
        self.segments
    }

    /// `k + m`.
    pub fn piece_count(&self) -> u8 {
        self.coding.data_shards + self.coding.parity_shards
    }

    /// Bytes of each shard of `segment` (`segment < segment_count()`).
    pub fn shard_size(&self, segment: u32) -> usize {
        self.coding.shard_size(
            self.coding
                .segment_len(self.stored_size, u64::from(segment)),
        )
    }

    /// Bytes of every piece: the sum of one shard per segment.
    pub fn piece_size(&self) -> u64 {
        let last = self.segments - 1;
        u64::from(last) * self.shard_size(0) as u64 + self.shard_size(last) as u64
    }

    /// Leaves of every piece.
    pub fn piece_leaves(&self) -> u64 {
        self.piece_size() / merkle::LEAF_SIZE as u64
    }

    /// Offset of `segment`'s shard within a piece.
    pub fn shard_offset(&self, segment: u32) -> u64 {
        u64::from(segment) * self.shard_size(0) as u64
    }

    /// The segment and the leaf within its shard of piece leaf `leaf`, if
    /// there is such a leaf.
    pub fn locate(&self, leaf: u64) -> Option<(u32, u32)> {
        if leaf >= self.piece_leaves() {
            return None;
        }
        let per_shard = (self.shard_size(0) / merkle::LEAF_SIZE) as u64;
        let segment = u32::try_from(leaf / per_shard).ok()?;
        Some((segment, (leaf % per_shard) as u32))
    }
}

/// The root over a piece's shard roots, segment order. An empty list (a
/// public empty file, which has no segments) gives the hash of an empty leaf.
pub fn piece_root(shard_roots: &[ShardRoot]) -> PieceRoot {
    if shard_roots.is_empty() {
        return PieceRoot(merkle::hash_leaf(&[]));
    }
    PieceRoot(merkle::root_of(shard_roots.iter().map(|r| r.0).collect()))
}

/// Whether `shard_roots` is the full, correct shard-root list of a piece of
/// `layout` with root `root`.
pub fn verify_shard_roots(root: &PieceRoot, layout: &Layout, shard_roots: &[ShardRoot]) -> bool {
    shard_roots.len() == layout.segment_count() as usize && piece_root(shard_roots) == *root
}

/// A leaf of a piece with the paths from it to the piece root.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct PieceProof {
    /// The leaf's bytes.
    pub leaf: Vec<u8>,
    /// Sibling hashes from the leaf to its shard root, nearest first.
    pub shard_path: Vec<Hash>,
    /// Sibling hashes from the shard root to the piece root, nearest first.
    pub piece_path: Vec<Hash>,
}

/// A proof of leaf `leaf` (within the shard) of `segment`'s `shard`, given
/// the piece's shard-root list.
pub fn prove(
    shard: &[u8],
    shard_roots: &[ShardRoot],
    segment: u32,
    leaf: u32,
) -> Result<PieceProof, ProofError> {
    let width = shard_roots.len() as u64;
    if u64::from(segment) >= width {
        return Err(ProofError::IndexOutOfRange {
            index: segment,
            leaves: width.min(u64::from(u32::MAX)) as u32,
        });
    }
    let lower = merkle::prove(shard, leaf)?;
    Ok(PieceProof {
        leaf: lower.leaf,
        shard_path: lower.path,
        piece_path: merkle::path_of(shard_roots.iter().map(|r| r.0).collect(), segment as usize),
    })
}

/// Proofs of piece leaves `leaves` of a piece of `layout` with the shard
/// roots `shard_roots`, in order, hashing the shard-root tree once (a piece
/// may have a million segments): what a provider answers a challenge with.
/// `shard_of(segment)` gives a segment's shard, asked once per leaf.
pub fn prove_leaves<E: From<ProofError>>(
    layout: &Layout,
    shard_roots: &[ShardRoot],
    leaves: &[u64],
    mut shard_of: impl FnMut(u32) -> Result<Vec<u8>, E>,
) -> Result<Vec<PieceProof>, E> {
    if shard_roots.len() != layout.segment_count() as usize {
        return Err(ProofError::ShardRootCount {
            actual: shard_roots.len(),
            expected: layout.segment_count() as usize,
        }
        .into());
    }
    let located = leaves
        .iter()
        .map(|leaf| {
            layout.locate(*leaf).ok_or(ProofError::PieceLeafOutOfRange {
                leaf: *leaf,
                leaves: layout.piece_leaves(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let segments: Vec<usize> = located.iter().map(|(s, _)| *s as usize).collect();
    let upper = merkle::paths_of(shard_roots.iter().map(|r| r.0).collect(), &segments);
    located
        .into_iter()
        .zip(upper)
        .map(|((segment, leaf), piece_path)| {
            let lower = merkle::prove(&shard_of(segment)?, leaf)?;
            Ok(PieceProof {
                leaf: lower.leaf,
                shard_path: lower.path,
                piece_path,
            })
        })
        .collect()
}

/// Checks that `proof` shows piece leaf `leaf` of a piece of `layout` whose
/// root is `root`. Never panics, whatever the input; costs at most
/// `MAX_PROOF_DEPTH + MAX_PIECE_PATH + 1` hashes.
pub fn verify(
    root: &PieceRoot,
    layout: &Layout,
    leaf: u64,
    proof: &PieceProof,
) -> Result<(), ProofError> {
    let (segment, index) = layout.locate(leaf).ok_or(ProofError::PieceLeafOutOfRange {
        leaf,
        leaves: layout.piece_leaves(),
    })?;
    let shard_root = merkle::proof_root(
        layout.shard_size(segment) as u64,
        index,
        &proof.leaf,
        &proof.shard_path,
    )?;
    let top = merkle::climb(
        layout.segment_count(),
        segment,
        shard_root,
        &proof.piece_path,
    )?;
    if top == root.0 {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::erasure::MAX_SEGMENT_SIZE;
    use proptest::prelude::*;

    fn bytes(len: usize, seed: u64) -> Vec<u8> {
        (0..len as u64)
            .map(|i| ((i ^ seed << 40).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect()
    }

    /// The shards of one piece of `layout`, made up.
    fn piece(layout: &Layout, seed: u64) -> Vec<Vec<u8>> {
        (0..layout.segment_count())
            .map(|s| bytes(layout.shard_size(s), seed + u64::from(s)))
            .collect()
    }

    fn roots(shards: &[Vec<u8>]) -> Vec<ShardRoot> {
        shards.iter().map(|s| merkle::root(s).unwrap()).collect()
    }

    #[test]
    fn layouts_are_bounded() {
        let coding = CodingParams::default();
        assert_eq!(Layout::new(coding, 0), Err(LayoutError::Empty));
        let max = Layout::max_stored_size(&coding);
        assert_eq!(max, 8 << 40, "8 TiB at default coding");
        let layout = Layout::new(coding, max).unwrap();
        assert_eq!(layout.segment_count(), MAX_SEGMENTS);
        assert_eq!(layout.piece_size(), max / 4);
        assert_eq!(
            Layout::new(coding, max + 1),
            Err(LayoutError::TooManySegments {
                segments: u64::from(MAX_SEGMENTS) + 1
            })
        );
        let widest = CodingParams::with_segment_size(1, 1, MAX_SEGMENT_SIZE).unwrap();
        assert_eq!(Layout::max_stored_size(&widest), 64 << 40);
    }

    #[test]
    fn leaves_are_numbered_across_shards() {
        // 3 segments of 256 KiB coded 2 + 1, the last one short.
        let coding = CodingParams::with_segment_size(2, 1, 256 * 1024).unwrap();
        let layout = Layout::new(coding, 2 * 256 * 1024 + 3000).unwrap();
        assert_eq!(layout.segment_count(), 3);
        assert_eq!(layout.shard_size(0), 128 * 1024);
        assert_eq!(layout.shard_size(2), 2048);
        assert_eq!(layout.piece_size(), 2 * 128 * 1024 + 2048);
        assert_eq!(layout.piece_leaves(), 2 * 128 + 2);
        assert_eq!(layout.locate(0), Some((0, 0)));
        assert_eq!(layout.locate(128), Some((1, 0)));
        assert_eq!(layout.locate(257), Some((2, 1)));
        assert_eq!(layout.locate(258), None);
        assert_eq!(layout.shard_offset(2), 2 * 128 * 1024);
    }

    #[test]
    fn a_deep_leaf_of_the_largest_object_verifies_within_the_bound() {
        // Prove a leaf in the last segment of an object at MAX_SEGMENTS,
        // without building its shards: every other shard root is made up.
        let coding = CodingParams::with_segment_size(1, 1, MAX_SEGMENT_SIZE).unwrap();
        let layout = Layout::new(coding, Layout::max_stored_size(&coding)).unwrap();
        let shard = bytes(layout.shard_size(MAX_SEGMENTS - 1), 3);
        let mut shard_roots: Vec<ShardRoot> = (0..MAX_SEGMENTS)
            .map(|s| ShardRoot(crate::merkle::hash_leaf(&s.to_le_bytes())))
            .collect();
        let last = MAX_SEGMENTS - 1;
        shard_roots[last as usize] = merkle::root(&shard).unwrap();
        let root = piece_root(&shard_roots);
        let in_shard = merkle::MAX_LEAVES - 1;
        let proof = prove(&shard, &shard_roots, last, in_shard).unwrap();
        assert_eq!(proof.shard_path.len(), MAX_PROOF_DEPTH);
        assert_eq!(proof.piece_path.len(), MAX_PIECE_PATH);
        assert!(proof.encode().len() <= MAX_PIECE_PROOF_SIZE);
        let leaf = layout.piece_leaves() - 1;
        assert_eq!(layout.locate(leaf), Some((last, in_shard)));
        verify(&root, &layout, leaf, &proof).unwrap();
        assert!(verify(&root, &layout, leaf - 1, &proof).is_err());
    }

    #[test]
    fn several_leaves_prove_as_each_alone_and_bad_input_is_refused() {
        let coding = CodingParams::with_segment_size(2, 1, 256 * 1024).unwrap();
        let layout = Layout::new(coding, 4 * 256 * 1024 + 5000).unwrap();
        let shards = piece(&layout, 9);
        let shard_roots = roots(&shards);
        let root = piece_root(&shard_roots);
        let leaves = [0, 130, 300, layout.piece_leaves() - 1];
        let mut asked = Vec::new();
        let proofs = prove_leaves(&layout, &shard_roots, &leaves, |segment| {
            asked.push(segment);
            Ok::<_, ProofError>(shards[segment as usize].clone())
        })
        .unwrap();
        assert_eq!(asked, vec![0, 1, 2, 4]);
        for (leaf, proof) in leaves.iter().zip(&proofs) {
            let (segment, in_shard) = layout.locate(*leaf).unwrap();
            let alone = prove(&shards[segment as usize], &shard_roots, segment, in_shard).unwrap();
            assert_eq!(*proof, alone);
            assert_eq!(verify(&root, &layout, *leaf, proof), Ok(()));
        }
        let shard_of = |segment: u32| Ok::<_, ProofError>(shards[segment as usize].clone());
        assert_eq!(
            prove_leaves(&layout, &shard_roots[1..], &leaves, shard_of),
            Err(ProofError::ShardRootCount {
                actual: 4,
                expected: 5
            })
        );
        assert_eq!(
            prove_leaves(&layout, &shard_roots, &[layout.piece_leaves()], shard_of),
            Err(ProofError::PieceLeafOutOfRange {
                leaf: layout.piece_leaves(),
                leaves: layout.piece_leaves()
            })
        );
        // A shard that is not the segment's fails to prove, not to verify.
        let wrong = prove_leaves(&layout, &shard_roots, &[0], |_| {
            Ok::<_, ProofError>(vec![0; 10])
        })
        .unwrap();
        assert!(verify(&root, &layout, 0, &wrong[0]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn every_leaf_proves_and_any_change_fails(
            segments in 1u64..9,
            tail in 1u64..256 * 1024,
            seed in any::<u64>(),
            pick in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let coding = CodingParams::with_segment_size(2, 1, 256 * 1024).unwrap();
            let layout = Layout::new(coding, (segments - 1) * 256 * 1024 + tail).unwrap();
            let shards = piece(&layout, seed);
            let shard_roots = roots(&shards);
            let root = piece_root(&shard_roots);
            prop_assert!(verify_shard_roots(&root, &layout, &shard_roots));
            prop_assert!(!verify_shard_roots(&root, &layout, &shard_roots[1..]));

            let leaf = pick.index(layout.piece_leaves() as usize) as u64;
            let (segment, in_shard) = layout.locate(leaf).unwrap();
            let proof =
                prove(&shards[segment as usize], &shard_roots, segment, in_shard).unwrap();
            prop_assert_eq!(verify(&root, &layout, leaf, &proof), Ok(()));

            let mut bad = proof.clone();
            let at = flip.index(bad.leaf.len());
            bad.leaf[at] ^= 1 << bit;
            prop_assert_eq!(verify(&root, &layout, leaf, &bad), Err(ProofError::RootMismatch));

            if !proof.shard_path.is_empty() {
                let mut bad = proof.clone();
                let at = flip.index(bad.shard_path.len() * 32);
                bad.shard_path[at / 32][at % 32] ^= 1 << bit;
                prop_assert_eq!(verify(&root, &layout, leaf, &bad), Err(ProofError::RootMismatch));
            }
            if !proof.piece_path.is_empty() {
                let mut bad = proof.clone();
                let at = flip.index(bad.piece_path.len() * 32);
                bad.piece_path[at / 32][at % 32] ^= 1 << bit;
                prop_assert_eq!(verify(&root, &layout, leaf, &bad), Err(ProofError::RootMismatch));
            }
            let other = (leaf + 1) % layout.piece_leaves();
            if other != leaf {
                prop_assert!(verify(&root, &layout, other, &proof).is_err());
            }
            prop_assert!(verify(&root, &layout, layout.piece_leaves(), &proof).is_err());
        }
    }
}
