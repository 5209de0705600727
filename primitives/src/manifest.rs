//! The manifest: everything needed to find, check and rebuild a stored object.
//!
//! A manifest records the object's CID (the IPFS CID of a public file, the
//! CID of the piece roots for an encrypted one), its plaintext size, the
//! coding parameters, how it is encrypted (the frames' cipher suite and the
//! file key wrapped to each reader), and the root of each of the object's
//! `k + m` [pieces](crate::piece). The segment layout
//! follows from these: segment `s` holds stored bytes `s * segment_size ..`
//! and each of its `k + m` shards is `shard_size(segment_len)` bytes. Shard
//! roots are not in the manifest: each piece's list of them is kept beside
//! its shards and checked against the piece root before use, so a manifest
//! has a fixed size whatever the object's.
//!
//! On the wire a manifest is a version byte followed by the SCALE encoding of
//! that version's fields. Its own CID is the raw CIDv1 of those bytes.
//! Decoding checks size, version and every bound before anything is used.
//! Version 4 added the size of a public object's DAG index, version 3 the
//! cipher suite; versions 2 (ChaCha20-Poly1305 was the only suite then) and 3
//! are still read (as objects without a DAG index), so objects encoded before
//! stay readable.

use cid::Cid;
use parity_scale_codec::{Decode, DecodeAll, Encode};
use sha2::{Digest, Sha256};

use crate::encryption::{ciphertext_len, CipherSuite, Encryption, WrappedKey};
use crate::erasure::{
    CodingParams, ParamsError, MAX_DATA_SHARDS, MAX_PARITY_SHARDS, MAX_SEGMENT_SIZE,
};
use crate::piece::{self, Layout, LayoutError, PieceRoot, MAX_SEGMENTS};
use crate::unixfs::{cid_v1, DAG_PB_CODEC, RAW_CODEC, SHA2_256};

/// The manifest format this code writes; it also reads versions 2 and 3.
pub const MANIFEST_VERSION: u8 = 4;
/// Most readers a file key may be wrapped to.
pub const MAX_RECIPIENTS: usize = 16;
/// Most pieces an object may have: `k + m` at the widest coding.
pub const MAX_PIECES: usize = MAX_DATA_SHARDS as usize + MAX_PARITY_SHARDS as usize;
/// Largest object: [`MAX_SEGMENTS`] of the largest segments, 64 TiB. Its
/// coding bounds an object more tightly ([`Layout::max_stored_size`]); this
/// bound is checked first and keeps size arithmetic far from overflow.
pub const MAX_OBJECT_SIZE: u64 = MAX_SEGMENTS as u64 * MAX_SEGMENT_SIZE as u64;
/// Largest encoded manifest: piece roots, wrapped keys and fixed fields.
pub const MAX_MANIFEST_SIZE: usize = MAX_PIECES * 32 + MAX_RECIPIENTS * 112 + 1024;
/// An older manifest format still read: version 4 without the DAG index.
const MANIFEST_VERSION_3: u8 = 3;
/// The oldest manifest format still read: version 3 without the suite.
const MANIFEST_VERSION_2: u8 = 2;

/// One shard of an object: segment and position within the segment, which
/// is also the piece it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct ShardId {
    /// Segment number, from 0.
    pub segment: u32,
    /// Shard number within the segment, and so its piece: `0..k` data,
    /// `k..k+m` parity.
    pub index: u8,
}

/// The CID of an encrypted object: the raw CIDv1 of SHA-256 over its `k + m`
/// piece roots concatenated in piece order. Each piece root commits to its
/// piece's shard roots, and each shard root to every byte of its shard, so
/// this commits to the whole ciphertext. (The ciphertext has no use outside
/// Mosaic, so it is not worth a second hash pass to give it an IPFS CID.)
pub fn roots_cid(piece_roots: &[PieceRoot]) -> Cid {
    let mut hasher = Sha256::new();
    for root in piece_roots {
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
    /// an encrypted one, [`roots_cid`] of its piece roots.
    pub cid: Cid,
    /// Size of the plaintext in bytes.
    pub size: u64,
    /// How the stored bytes were cut and coded.
    pub coding: CodingParams,
    /// How the object is encrypted, or `None` for a public file.
    pub encryption: Option<Encryption>,
    /// For a public object stored as a [UnixFS pack](crate::pack):
    /// the bytes of its DAG index at the end of the stored bytes. 0 for an
    /// encrypted object, and for a public one that is a single file's bytes
    /// and nothing else.
    pub dag_index: u64,
    /// The root of each piece, `k + m` of them: [`piece::piece_root`] of the
    /// piece's shard roots in segment order.
    pub piece_roots: Vec<PieceRoot>,
}

#[derive(Encode, Decode)]
struct WireV4 {
    cid: Vec<u8>,
    size: u64,
    coding: CodingParams,
    encryption: Option<(CipherSuite, Vec<WrappedKey>)>,
    dag_index: u64,
    piece_roots: Vec<PieceRoot>,
}

#[derive(Decode)]
struct WireV3 {
    cid: Vec<u8>,
    size: u64,
    coding: CodingParams,
    encryption: Option<(CipherSuite, Vec<WrappedKey>)>,
    piece_roots: Vec<PieceRoot>,
}

impl From<WireV3> for WireV4 {
    fn from(v3: WireV3) -> Self {
        WireV4 {
            cid: v3.cid,
            size: v3.size,
            coding: v3.coding,
            encryption: v3.encryption,
            dag_index: 0,
            piece_roots: v3.piece_roots,
        }
    }
}

#[derive(Decode)]
struct WireV2 {
    cid: Vec<u8>,
    size: u64,
    coding: CodingParams,
    recipients: Option<Vec<WrappedKey>>,
    piece_roots: Vec<PieceRoot>,
}

impl From<WireV2> for WireV4 {
    fn from(v2: WireV2) -> Self {
        WireV4 {
            cid: v2.cid,
            size: v2.size,
            coding: v2.coding,
            encryption: v2
                .recipients
                .map(|keys| (CipherSuite::ChaCha20Poly1305, keys)),
            dag_index: 0,
            piece_roots: v2.piece_roots,
        }
    }
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
    /// Written by an older, newer or unknown format.
    #[error("manifest version {0} is not supported (this build reads versions 2 to {MANIFEST_VERSION}); decode it with the release that wrote it")]
    UnsupportedVersion(u8),
    /// The bytes are not a SCALE-encoded manifest.
    #[error("manifest is malformed")]
    Malformed(#[from] parity_scale_codec::Error),
    /// The CID does not parse or is not a CIDv1 over SHA-256 of raw or dag-pb
    /// data, or (encrypted objects) is not the CID of the piece roots.
    #[error("manifest names an invalid object CID")]
    Cid,
    /// The object is larger than any manifest can describe.
    #[error("object size {0} exceeds the limit of {MAX_OBJECT_SIZE} bytes")]
    Size(u64),
    /// Coding parameters out of bounds.
    #[error("manifest coding parameters are invalid")]
    Params(#[from] ParamsError),
    /// The object has more segments than a piece may span.
    #[error("manifest describes an object its coding cannot hold")]
    Layout(#[source] LayoutError),
    /// An encrypted manifest without readers, or with too many.
    #[error("an encrypted object needs between 1 and {MAX_RECIPIENTS} wrapped keys, got {0}")]
    Recipients(usize),
    /// Not one root per piece.
    #[error("manifest has {actual} piece roots, its coding needs {expected}")]
    PieceCount {
        /// Roots present.
        actual: usize,
        /// `k + m`.
        expected: usize,
    },
    /// An empty public object has no segments, so each of its pieces has the
    /// root of an empty list; this manifest names others.
    #[error("an empty object's piece roots must be those of empty pieces")]
    EmptyPieces,
    /// A DAG index on an encrypted object, under a root that is not dag-pb,
    /// or longer than the object.
    #[error("manifest names a DAG index of {0} bytes its object cannot have")]
    DagIndex(u64),
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
        match self.encryption {
            Some(_) => ciphertext_len(self.size),
            None => self.size,
        }
    }

    /// The shape of the object's pieces, or `None` for an empty public file,
    /// which stores no bytes and has no segments. (An empty encrypted file
    /// has one segment: the tag of its empty frame.)
    pub fn layout(&self) -> Option<Layout> {
        Layout::new(self.coding, self.stored_size()).ok()
    }

    /// Number of segments, 0 for an empty public file.
    pub fn segment_count(&self) -> u32 {
        self.layout().map_or(0, |layout| layout.segment_count())
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

    /// The root of piece `piece`, if the object has that piece.
    pub fn piece_root(&self, piece: u8) -> Option<PieceRoot> {
        self.piece_roots.get(usize::from(piece)).copied()
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
        if let Some(Encryption { recipients, .. }) = &self.encryption {
            if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
                return Err(ManifestError::Recipients(recipients.len()));
            }
        }
        let empty = match Layout::new(self.coding, self.stored_size()) {
            Ok(_) => false,
            Err(LayoutError::Empty) => true,
            Err(e) => return Err(ManifestError::Layout(e)),
        };
        let expected = self.coding.total_shards();
        if self.piece_roots.len() != expected {
            return Err(ManifestError::PieceCount {
                actual: self.piece_roots.len(),
                expected,
            });
        }
        // One object, one manifest: the roots of no segments are fixed.
        if empty
            && self
                .piece_roots
                .iter()
                .any(|r| *r != piece::piece_root(&[]))
        {
            return Err(ManifestError::EmptyPieces);
        }
        if self.encryption.is_some() && self.cid != roots_cid(&self.piece_roots) {
            return Err(ManifestError::Cid);
        }
        if self.dag_index > 0
            && (self.encryption.is_some()
                || self.dag_index > self.size
                || self.cid.codec() != DAG_PB_CODEC)
        {
            return Err(ManifestError::DagIndex(self.dag_index));
        }
        Ok(())
    }

    /// The encoded manifest.
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = WireV4 {
            cid: self.cid.to_bytes(),
            size: self.size,
            coding: self.coding,
            encryption: self
                .encryption
                .as_ref()
                .map(|e| (e.suite, e.recipients.clone())),
            dag_index: self.dag_index,
            piece_roots: self.piece_roots.clone(),
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
        let wire = match version {
            MANIFEST_VERSION => WireV4::decode_all(&mut body)?,
            MANIFEST_VERSION_3 => WireV3::decode_all(&mut body)?.into(),
            MANIFEST_VERSION_2 => WireV2::decode_all(&mut body)?.into(),
            _ => return Err(ManifestError::UnsupportedVersion(version)),
        };
        let cid = parse_object_cid(&wire.cid).ok_or(ManifestError::Cid)?;
        let manifest = Manifest {
            cid,
            size: wire.size,
            coding: wire.coding,
            encryption: wire
                .encryption
                .map(|(suite, recipients)| Encryption { suite, recipients }),
            dag_index: wire.dag_index,
            piece_roots: wire.piece_roots,
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
    use crate::encryption::{FileKey, SecretKey};
    use crate::unixfs::file_cid;

    fn sample() -> Manifest {
        let coding = CodingParams::with_segment_size(2, 1, 256 * 1024).unwrap();
        Manifest {
            cid: file_cid(b"hello"),
            size: 600 * 1024,
            coding,
            encryption: None,
            dag_index: 0,
            piece_roots: (0..3u8).map(|i| PieceRoot([i; 32])).collect(),
        }
    }

    fn wrapped_key() -> WrappedKey {
        let owner = SecretKey::from_seed(&[1; 32]).public();
        FileKey::generate().unwrap().wrap(&owner)
    }

    fn encrypted(recipients: Vec<WrappedKey>) -> Option<Encryption> {
        Some(Encryption {
            suite: CipherSuite::Aes256Gcm,
            recipients,
        })
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
        let layout = m.layout().unwrap();
        assert_eq!(layout.segment_count(), 3);
        assert_eq!(layout.shard_size(2), m.segment(2).shard_size);
        assert_eq!(m.piece_root(2), Some(PieceRoot([2; 32])));
        assert_eq!(m.piece_root(3), None);
    }

    #[test]
    fn the_suite_round_trips_and_version_2_reads_as_chacha() {
        let mut m = sample();
        m.size = 600 * 1024 - 10 * 16;
        m.cid = roots_cid(&m.piece_roots);
        for suite in CipherSuite::ALL {
            m.encryption = Some(Encryption {
                suite,
                recipients: vec![wrapped_key()],
            });
            assert_eq!(Manifest::from_bytes(&m.to_bytes()).unwrap(), m);
        }

        // Version 2: the same fields, the wrapped keys without a suite.
        let recipients = vec![wrapped_key()];
        let mut v2 = vec![MANIFEST_VERSION_2];
        (
            m.cid.to_bytes(),
            m.size,
            m.coding,
            Some(recipients.clone()),
            m.piece_roots.clone(),
        )
            .encode_to(&mut v2);
        let read = Manifest::from_bytes(&v2).unwrap();
        let expected = Encryption {
            suite: CipherSuite::ChaCha20Poly1305,
            recipients,
        };
        assert_eq!(read.encryption, Some(expected));
        assert_eq!(read.dag_index, 0);
        // Written again, it is the current version.
        assert_eq!(read.to_bytes()[0], MANIFEST_VERSION);
    }

    #[test]
    fn the_dag_index_round_trips_and_version_3_has_none() {
        let mut m = sample();
        m.cid = crate::unixfs::file_cid(&[7; 3 * 256 * 1024]);
        m.dag_index = 300;
        assert_eq!(Manifest::from_bytes(&m.to_bytes()).unwrap(), m);

        // Version 3: the same fields without the index.
        let mut v3 = vec![MANIFEST_VERSION_3];
        (
            m.cid.to_bytes(),
            m.size,
            m.coding,
            None::<(CipherSuite, Vec<WrappedKey>)>,
            m.piece_roots.clone(),
        )
            .encode_to(&mut v3);
        assert_eq!(Manifest::from_bytes(&v3).unwrap().dag_index, 0);

        // An index longer than the object, under a raw root, or on an
        // encrypted object is refused.
        for bad in [
            Manifest {
                dag_index: m.size + 1,
                ..m.clone()
            },
            Manifest {
                cid: file_cid(b"one raw leaf"),
                ..m.clone()
            },
            Manifest {
                cid: roots_cid(&m.piece_roots),
                encryption: encrypted(vec![wrapped_key()]),
                ..m.clone()
            },
        ] {
            assert!(matches!(
                Manifest::from_bytes(&bad.to_bytes()),
                Err(ManifestError::DagIndex(_))
            ));
        }
    }

    #[test]
    fn an_empty_public_file_has_no_segments_and_empty_pieces() {
        let mut m = sample();
        m.size = 0;
        m.cid = file_cid(b"");
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::EmptyPieces)
        ));
        m.piece_roots = vec![piece::piece_root(&[]); 3];
        let m = Manifest::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(m.layout(), None);
        assert_eq!(m.segment_count(), 0);
        assert_eq!(m.segments().count(), 0);

        // An empty encrypted file stores one frame's tag: one segment.
        let mut m = m;
        m.encryption = encrypted(vec![wrapped_key()]);
        m.piece_roots = (0..3u8).map(|i| PieceRoot([i; 32])).collect();
        m.cid = roots_cid(&m.piece_roots);
        let m = Manifest::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(m.segment_count(), 1);
        assert_eq!(m.segment(0).len, 16);
    }

    #[test]
    fn the_largest_manifest_fits_its_bound() {
        let coding =
            CodingParams::with_segment_size(MAX_DATA_SHARDS, MAX_PARITY_SHARDS, MAX_SEGMENT_SIZE)
                .unwrap();
        let piece_roots: Vec<PieceRoot> =
            (0..MAX_PIECES).map(|i| PieceRoot([i as u8; 32])).collect();
        let mut m = Manifest {
            cid: roots_cid(&piece_roots),
            // The largest plaintext whose ciphertext the coding holds.
            size: Layout::max_stored_size(&coding) / crate::encryption::FRAME_SIZE as u64
                * crate::encryption::FRAME_PAYLOAD as u64,
            coding,
            encryption: encrypted(vec![wrapped_key(); MAX_RECIPIENTS]),
            dag_index: 0,
            piece_roots,
        };
        let bytes = m.to_bytes();
        assert!(bytes.len() <= MAX_MANIFEST_SIZE, "{}", bytes.len());
        assert_eq!(Manifest::from_bytes(&bytes).unwrap(), m);
        assert_eq!(m.segment_count(), MAX_SEGMENTS);
        // One more byte of plaintext needs one more segment.
        m.size += 1;
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Layout(LayoutError::TooManySegments { segments }))
                if segments == u64::from(MAX_SEGMENTS) + 1
        ));
    }

    #[test]
    fn bad_manifests_are_named_errors() {
        assert!(matches!(
            Manifest::from_bytes(&[]),
            Err(ManifestError::Empty)
        ));
        // Version 1 (a root per shard) is no longer read, nor any other.
        for version in [1, MANIFEST_VERSION + 1] {
            let mut bytes = sample().to_bytes();
            bytes[0] = version;
            assert!(matches!(
                Manifest::from_bytes(&bytes),
                Err(ManifestError::UnsupportedVersion(v)) if v == version
            ));
        }
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
        m.piece_roots.pop();
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::PieceCount {
                actual: 2,
                expected: 3
            })
        ));
        let mut m = sample();
        m.piece_roots.push(PieceRoot([9; 32]));
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::PieceCount {
                actual: 4,
                expected: 3
            })
        ));

        let mut m = sample();
        m.coding.segment_size = 1000;
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Params(ParamsError::SegmentSize(1000)))
        ));

        // More segments than a piece may span, at the smallest segments.
        let mut m = sample();
        m.size = u64::from(MAX_SEGMENTS) * 256 * 1024 + 1;
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Layout(LayoutError::TooManySegments { .. }))
        ));

        let mut m = sample();
        m.size = u64::MAX;
        m.encryption = encrypted(vec![]);
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Size(u64::MAX))
        ));
        m.size = 600 * 1024;
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Recipients(0))
        ));

        // An encrypted object's CID must commit to its piece roots.
        let mut m = sample();
        m.size = 600 * 1024 - 10 * 16;
        m.encryption = encrypted(vec![wrapped_key()]);
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Cid)
        ));
        m.cid = roots_cid(&m.piece_roots);
        Manifest::from_bytes(&m.to_bytes()).unwrap();
        m.piece_roots[1].0[0] ^= 1;
        assert!(matches!(
            Manifest::from_bytes(&m.to_bytes()),
            Err(ManifestError::Cid)
        ));

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
