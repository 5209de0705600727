//! The manifest: everything needed to find, check and rebuild a stored object.
//!
//! A manifest records the object's CID (the IPFS CID of a public file, the
//! CID of the shard roots for an encrypted one), its plaintext size, the coding
//! parameters, the file key wrapped to each reader, and the Merkle root of
//! every shard, segment by segment. The segment layout follows from these:
//! segment `s` holds stored bytes `s * segment_size ..` and each of its
//! `k + m` shards is `shard_size(segment_len)` bytes.
//!
//! On the wire a manifest is a version byte followed by the SCALE encoding of
//! that version's fields. Its own CID is the raw CIDv1 of those bytes.
//! Decoding checks size, version and every bound before anything is used.

use cid::Cid;
use parity_scale_codec::{Decode, DecodeAll, Encode};
use sha2::{Digest, Sha256};

use crate::encryption::{ciphertext_len, WrappedKey};
use crate::erasure::{CodingParams, ParamsError, MAX_SEGMENT_SIZE};
use crate::merkle::ShardRoot;
use crate::unixfs::{cid_v1, DAG_PB_CODEC, RAW_CODEC, SHA2_256};

/// The manifest format this code writes.
pub const MANIFEST_VERSION: u8 = 1;
/// Most readers a file key may be wrapped to.
pub const MAX_RECIPIENTS: usize = 16;
/// Most shards one object may have (all segments together).
pub const MAX_SHARDS: usize = 65_536;
/// Largest object: every shard of the largest segments (the shard count
/// bound is stricter for any real coding; this one keeps size arithmetic far
/// from overflow before that is checked).
pub const MAX_OBJECT_SIZE: u64 = MAX_SHARDS as u64 * MAX_SEGMENT_SIZE as u64;
/// Largest encoded manifest: roots, wrapped keys and fixed fields.
pub const MAX_MANIFEST_SIZE: usize = MAX_SHARDS * 32 + MAX_RECIPIENTS * 112 + 1024;

/// One shard of an object: segment and position within the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct ShardId {
    /// Segment number, from 0.
    pub segment: u32,
    /// Shard number within the segment: `0..k` data, `k..k+m` parity.
    pub index: u8,
}

/// The CID of an encrypted object: the raw CIDv1 of its shard roots
/// concatenated in manifest order. (Its ciphertext has no use outside Mosaic,
/// so it is not worth a second hash pass to give it an IPFS CID; the roots
/// already commit to every byte.)
pub fn roots_cid(roots: &[ShardRoot]) -> Cid {
    let mut hasher = Sha256::new();
    for root in roots {
        hasher.update(root.0);
    }
    cid_v1(RAW_CODEC, hasher.finalize().into())
}

/// Whether `cid` can name an object: CIDv1, SHA-256, raw or dag-pb.
pub fn is_object_cid(cid: &Cid) -> bool {
    let hash = cid.hash();
    cid.version() == cid::Version::V1
        && hash.code() == SHA2_256
        && hash.size() == 32
        && [RAW_CODEC, DAG_PB_CODEC].contains(&cid.codec())
}

/// Parses an object CID from its binary form, as orders on chain carry it.
/// Only the canonical encoding is accepted: the cid crate would ignore
/// trailing bytes, and one object must have one byte string.
pub fn parse_object_cid(bytes: &[u8]) -> Option<Cid> {
    let cid = Cid::try_from(bytes).ok()?;
    (cid.to_bytes() == bytes && is_object_cid(&cid)).then_some(cid)
}

/// A decoded, validated manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The object's name: for a public file, the IPFS CID of its bytes; for
    /// an encrypted one, [`roots_cid`].
    pub cid: Cid,
    /// Size of the plaintext in bytes.
    pub size: u64,
    /// How the stored bytes were cut and coded.
    pub coding: CodingParams,
    /// The file key wrapped to each reader, or `None` for a public file.
    pub recipients: Option<Vec<WrappedKey>>,
    /// Shard roots, segment-major: `k + m` per segment.
    pub shard_roots: Vec<ShardRoot>,
}

#[derive(Encode, Decode)]
struct WireV1 {
    cid: Vec<u8>,
    size: u64,
    coding: CodingParams,
    recipients: Option<Vec<WrappedKey>>,
    shard_roots: Vec<ShardRoot>,
}

/// Why a manifest was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// More bytes than any valid manifest has.
    #[error("manifest of {0} bytes exceeds the limit of {MAX_MANIFEST_SIZE}")]
    TooLarge(usize),
    /// No bytes at all.
    #[error("manifest is empty")]
    Empty,
    /// Written by a newer (or unknown) format.
    #[error("manifest version {0} is not supported (this build reads version {MANIFEST_VERSION})")]
    UnsupportedVersion(u8),
    /// The bytes are not a SCALE-encoded manifest.
    #[error("manifest is malformed")]
    Malformed(#[from] parity_scale_codec::Error),
    /// The CID does not parse or is not a CIDv1 over SHA-256 of raw or dag-pb
    /// data, or (encrypted objects) is not the CID of the shard roots.
    #[error("manifest names an invalid object CID")]
    Cid,
    /// The object is larger than any manifest can describe.
    #[error("object size {0} exceeds the limit of {MAX_OBJECT_SIZE} bytes")]
    Size(u64),
    /// Coding parameters out of bounds.
    #[error("manifest coding parameters are invalid")]
    Params(#[from] ParamsError),
    /// An encrypted manifest without readers, or with too many.
    #[error("an encrypted object needs between 1 and {MAX_RECIPIENTS} wrapped keys, got {0}")]
    Recipients(usize),
    /// The roots do not match the segment layout, or there are too many.
    #[error(
        "manifest has {actual} shard roots, its layout needs {expected} (at most {MAX_SHARDS})"
    )]
    ShardCount {
        /// Roots present.
        actual: usize,
        /// Roots the size and coding imply.
        expected: u64,
    },
}

/// Where a segment lies and how big its shards are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Segment number.
    pub index: u32,
    /// Offset of its first byte in the stored data.
    pub offset: u64,
    /// Stored bytes in this segment.
    pub len: usize,
    /// Bytes of each of its shards.
    pub shard_size: usize,
}

impl Manifest {
    /// Bytes actually stored: the ciphertext for encrypted files.
    pub fn stored_size(&self) -> u64 {
        match self.recipients {
            Some(_) => ciphertext_len(self.size),
            None => self.size,
        }
    }

    /// Number of segments.
    pub fn segment_count(&self) -> u32 {
        u32::try_from(self.coding.segment_count(self.stored_size()))
            .expect("bounded by MAX_SHARDS through validation; qed")
    }

    /// Layout of segment `index` (`index < segment_count()`).
    pub fn segment(&self, index: u32) -> Segment {
        let len = self
            .coding
            .segment_len(self.stored_size(), u64::from(index));
        Segment {
            index,
            offset: u64::from(index) * u64::from(self.coding.segment_size),
            len,
            shard_size: self.coding.shard_size(len),
        }
    }

    /// Every segment in order.
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        (0..self.segment_count()).map(|i| self.segment(i))
    }

    /// The root of one shard, if it exists.
    pub fn shard_root(&self, id: ShardId) -> Option<ShardRoot> {
        let per_segment = self.coding.total_shards();
        if usize::from(id.index) >= per_segment {
            return None;
        }
        self.shard_roots
            .get(id.segment as usize * per_segment + usize::from(id.index))
            .copied()
    }

    /// Checks every invariant; `from_bytes` runs this, builders should too.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.size > MAX_OBJECT_SIZE {
            return Err(ManifestError::Size(self.size));
        }
        if !is_object_cid(&self.cid) {
            return Err(ManifestError::Cid);
        }
        self.coding.validate()?;
        if let Some(recipients) = &self.recipients {
            if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
                return Err(ManifestError::Recipients(recipients.len()));
            }
        }
        let expected = self
            .coding
            .segment_count(self.stored_size())
            .saturating_mul(self.coding.total_shards() as u64);
        if expected > MAX_SHARDS as u64 || self.shard_roots.len() as u64 != expected {
            return Err(ManifestError::ShardCount {
                actual: self.shard_roots.len(),
                expected,
            });
        }
        if self.recipients.is_some() && self.cid != roots_cid(&self.shard_roots) {
            return Err(ManifestError::Cid);
        }
        Ok(())
    }

    /// The encoded manifest.
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = WireV1 {
            cid: self.cid.to_bytes(),
            size: self.size,
            coding: self.coding,
            recipients: self.recipients.clone(),
            shard_roots: self.shard_roots.clone(),
        };
        let mut out = vec![MANIFEST_VERSION];
        wire.encode_to(&mut out);
        out
    }

    /// Decodes and validates a manifest from untrusted bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ManifestError> {
        if bytes.len() > MAX_MANIFEST_SIZE {
            return Err(ManifestError::TooLarge(bytes.len()));
        }
        let (&version, mut body) = bytes.split_first().ok_or(ManifestError::Empty)?;
        if version != MANIFEST_VERSION {
            return Err(ManifestError::UnsupportedVersion(version));
        }
        let wire = WireV1::decode_all(&mut body)?;
        let cid = parse_object_cid(&wire.cid).ok_or(ManifestError::Cid)?;
        let manifest = Manifest {
            cid,
            size: wire.size,
            coding: wire.coding,
            recipients: wire.recipients,
            shard_roots: wire.shard_roots,
        };
        manifest.validate()?;
        Ok(manifest)
    }

    /// The manifest's own CID: raw CIDv1 of its encoding.
    pub fn cid_of_bytes(bytes: &[u8]) -> Cid {
        cid_v1(RAW_CODEC, Sha256::digest(bytes).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unixfs::file_cid;

    fn sample() -> Manifest {
        let coding = CodingParams::with_segment_size(2, 1, 256 * 1024).unwrap();
        Manifest {
            cid: file_cid(b"hello"),
            size: 600 * 1024,
            coding,
            recipients: None,
            shard_roots: (0..9u8).map(|i| ShardRoot([i; 32])).collect(),
        }
    }

    #[test]
    fn round_trips_and_lays_out_segments() {
        let m = sample();
        let bytes = m.to_bytes();
        assert_eq!(bytes[0], MANIFEST_VERSION);
        assert_eq!(Manifest::from_bytes(&bytes).unwrap(), m);
        assert_eq!(m.segment_count(), 3);
        assert_eq!(m.segment(2).len, 88 * 1024);
        assert_eq!(m.segment(2).shard_size, 44 * 1024);
        assert_eq!(
            m.shard_root(ShardId {
                segment: 2,
                index: 1
            }),
            Some(ShardRoot([7; 32]))
        );
        assert_eq!(
            m.shard_root(ShardId {
                segment: 2,
                index: 3
            }),
            None
        );
    }

    #[test]
    fn bad_manifests_are_named_errors() {
        assert!(matches!(
            Manifest::from_bytes(&[]),
            Err(ManifestError::Empty)
        ));
        let mut bytes = sample().to_bytes();
        bytes[0] = 2;
        assert!(matches!(
            Manifest::from_bytes(&bytes),
            Err(ManifestError::UnsupportedVersion(2))
        ));
        let mut trailing = sample().to_bytes();
        trailing.push(0);
        assert!(matches!(
            Manifest::from_bytes(&trailing),
            Err(ManifestError::Malformed(_))
        ));
        let big = vec![1u8; MAX_MANIFEST_SIZE + 1];
        assert!(matches!(
            Manifest::from_bytes(&big),
            Err(ManifestError::TooLarge(_))
        ));

        let mut m = sample();
        m.shard_roots.pop();
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::ShardCount {
                actual: 8,
                expected: 9
            })
        ));

        let mut m = sample();
        m.coding.segment_size = 1000;
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Params(ParamsError::SegmentSize(1000)))
        ));

        let mut m = sample();
        m.size = u64::MAX;
        m.recipients = Some(vec![]);
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Size(u64::MAX))
        ));
        m.size = 600 * 1024;
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Recipients(0))
        ));

        // An encrypted object's CID must commit to its roots.
        let mut m = sample();
        let owner = crate::encryption::SecretKey::from_seed(&[1; 32]).public();
        m.size = 600 * 1024 - 10 * 16;
        m.recipients = Some(vec![crate::encryption::FileKey::generate()
            .unwrap()
            .wrap(&owner)]);
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Cid)
        ));
        m.cid = roots_cid(&m.shard_roots);
        Manifest::from_bytes(&m.to_bytes()).unwrap();

        // Trailing bytes after the CID, inside its length prefix (found by
        // the fuzzer).
        let m = sample();
        let mut wire = m.to_bytes();
        wire[1] += 4;
        wire.insert(2 + 36, 0x55);
        assert!(matches!(
            Manifest::from_bytes(&wire),
            Err(ManifestError::Cid)
        ));

        let m = sample();
        let mut wire = m.to_bytes();
        // The CID's first byte (after the version and its length prefix).
        wire[2] = 0x00;
        assert!(matches!(
            Manifest::from_bytes(&wire),
            Err(ManifestError::Cid)
        ));
    }
}
