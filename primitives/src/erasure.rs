//! Reed-Solomon erasure coding of segments into `k` data and `m` parity shards.
//!
//! A segment of `len` bytes is zero-padded to `k * shard_size` and cut into `k`
//! data shards (the code is systematic: data shards are the segment's bytes);
//! `m` parity shards are computed from them. Any `k` of the `k + m` shards
//! rebuild the segment.
//!
//! The code is Reed-Solomon over GF(2^8) from `reed-solomon-erasure` with its
//! SIMD kernels. It was measured against the Leopard (GF(2^16), FFT) code of
//! `reed-solomon-simd` on this project's machines (`benches/erasure.rs`;
//! figures in the README): it encodes 1.6 to 2× faster up to `m = 4` and
//! within 25% at `16 + 8` and `10 + 20`, and it decodes 3 to 18× faster at
//! every shape, so it is the one kept.

use parity_scale_codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use reed_solomon_erasure::galois_8::ReedSolomon;
use scale_info::TypeInfo;

use crate::merkle::LEAF_SIZE;

/// Fewest data shards a segment may have.
pub const MIN_DATA_SHARDS: u8 = 1;
/// Most data shards a segment may have.
pub const MAX_DATA_SHARDS: u8 = 64;
/// Fewest parity shards: a stored object always survives one lost shard.
pub const MIN_PARITY_SHARDS: u8 = 1;
/// Most parity shards a segment may have.
pub const MAX_PARITY_SHARDS: u8 = 64;
/// Segment sizes are multiples of this: it is both the IPFS chunk size (so a
/// segment holds whole UnixFS leaves) and a multiple of the encryption frame.
pub const SEGMENT_ALIGN: u32 = crate::unixfs::CHUNK_SIZE as u32;
/// Smallest segment size.
pub const MIN_SEGMENT_SIZE: u32 = SEGMENT_ALIGN;
/// Largest segment size; bounds the memory a segment takes in the pipeline.
pub const MAX_SEGMENT_SIZE: u32 = 64 * 1024 * 1024;
/// Segment size used unless the client asks for another.
pub const DEFAULT_SEGMENT_SIZE: u32 = 8 * 1024 * 1024;
/// Data shards used unless the client asks for another count.
pub const DEFAULT_DATA_SHARDS: u8 = 4;
/// Parity shards used unless the client asks for another count.
pub const DEFAULT_PARITY_SHARDS: u8 = 2;
/// Largest shard: a whole maximal segment in one data shard.
pub const MAX_SHARD_SIZE: u32 = MAX_SEGMENT_SIZE;

/// How an object is cut and coded. Recorded in the manifest and on chain.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
)]
pub struct CodingParams {
    /// `k`: shards that carry the segment's bytes.
    pub data_shards: u8,
    /// `m`: redundant shards; any `m` shards of a segment may be lost.
    pub parity_shards: u8,
    /// Bytes of stored (possibly encrypted) data per segment; the last segment
    /// may be shorter.
    pub segment_size: u32,
}

/// Coding parameters out of bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// `k` outside `MIN_DATA_SHARDS..=MAX_DATA_SHARDS`.
    #[error("data shards must be between {MIN_DATA_SHARDS} and {MAX_DATA_SHARDS}, got {0}")]
    DataShards(u8),
    /// `m` outside `MIN_PARITY_SHARDS..=MAX_PARITY_SHARDS`.
    #[error("parity shards must be between {MIN_PARITY_SHARDS} and {MAX_PARITY_SHARDS}, got {0}")]
    ParityShards(u8),
    /// Segment size out of range or not aligned.
    #[error(
        "segment size must be a multiple of {SEGMENT_ALIGN} between {MIN_SEGMENT_SIZE} and {MAX_SEGMENT_SIZE}, got {0}"
    )]
    SegmentSize(u32),
}

impl CodingParams {
    /// Parameters with the default segment size.
    pub fn new(data_shards: u8, parity_shards: u8) -> Result<Self, ParamsError> {
        Self::with_segment_size(data_shards, parity_shards, DEFAULT_SEGMENT_SIZE)
    }

    /// Parameters with an explicit segment size.
    pub fn with_segment_size(
        data_shards: u8,
        parity_shards: u8,
        segment_size: u32,
    ) -> Result<Self, ParamsError> {
        let params = CodingParams {
            data_shards,
            parity_shards,
            segment_size,
        };
        params.validate()?;
        Ok(params)
    }

    /// Checks every bound; parameters from the network or disk go through this.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if !(MIN_DATA_SHARDS..=MAX_DATA_SHARDS).contains(&self.data_shards) {
            return Err(ParamsError::DataShards(self.data_shards));
        }
        if !(MIN_PARITY_SHARDS..=MAX_PARITY_SHARDS).contains(&self.parity_shards) {
            return Err(ParamsError::ParityShards(self.parity_shards));
        }
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&self.segment_size)
            || !self.segment_size.is_multiple_of(SEGMENT_ALIGN)
        {
            return Err(ParamsError::SegmentSize(self.segment_size));
        }
        Ok(())
    }

    /// `k + m`.
    pub fn total_shards(&self) -> usize {
        usize::from(self.data_shards) + usize::from(self.parity_shards)
    }

    /// Size of each shard of a segment of `segment_len` bytes: the segment
    /// split `k` ways, rounded up to whole Merkle leaves.
    pub fn shard_size(&self, segment_len: usize) -> usize {
        let k = usize::from(self.data_shards);
        segment_len.div_ceil(k).div_ceil(LEAF_SIZE).max(1) * LEAF_SIZE
    }

    /// Number of segments for `stored_size` bytes of stored data.
    pub fn segment_count(&self, stored_size: u64) -> u64 {
        stored_size.div_ceil(u64::from(self.segment_size))
    }

    /// Length of segment `index` of an object of `stored_size` bytes.
    pub fn segment_len(&self, stored_size: u64, index: u64) -> usize {
        let start = index * u64::from(self.segment_size);
        let len = stored_size
            .saturating_sub(start)
            .min(u64::from(self.segment_size));
        usize::try_from(len).expect("len <= segment_size, a u32; qed")
    }
}

impl Default for CodingParams {
    fn default() -> Self {
        Self::new(DEFAULT_DATA_SHARDS, DEFAULT_PARITY_SHARDS)
            .expect("the defaults are within bounds; qed")
    }
}

/// Not enough intact shards to rebuild a segment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{available} intact shards, {needed} needed")]
pub struct NotEnoughShards {
    /// Shards present.
    pub available: usize,
    /// Shards needed (`k`).
    pub needed: usize,
}

/// Encodes and decodes segments for one set of [`CodingParams`].
pub struct ErasureCoder {
    params: CodingParams,
    rs: ReedSolomon,
}

impl ErasureCoder {
    /// A coder for validated parameters.
    pub fn new(params: CodingParams) -> Result<Self, ParamsError> {
        params.validate()?;
        let rs = ReedSolomon::new(params.data_shards.into(), params.parity_shards.into())
            .expect("k + m <= 128 < 256, within GF(2^8), by validate; qed");
        Ok(ErasureCoder { params, rs })
    }

    /// The parameters this coder was built for.
    pub fn params(&self) -> &CodingParams {
        &self.params
    }

    /// Codes the segment held in `buf[..segment_len]` in place: `buf`
    /// becomes the `k + m` shards back to back (data shards zero-padded) and
    /// the shard size is returned. Whatever `buf` held past `segment_len` is
    /// overwritten, so buffers can be reused across segments.
    ///
    /// `segment_len` must be at most `segment_size` and `buf.len()`.
    pub fn encode(&self, buf: &mut Vec<u8>, segment_len: usize) -> usize {
        let shard_size = self.params.shard_size(segment_len);
        let k = usize::from(self.params.data_shards);
        buf.truncate(segment_len);
        buf.resize(self.params.total_shards() * shard_size, 0);
        let (data, parity) = buf.split_at_mut(k * shard_size);
        let data: Vec<&[u8]> = data.chunks_exact(shard_size).collect();
        let mut parity: Vec<&mut [u8]> = parity.chunks_exact_mut(shard_size).collect();
        self.rs
            .encode_sep(&data, &mut parity)
            .expect("shard counts and sizes match the coder; qed");
        shard_size
    }

    /// Rebuilds a segment of `segment_len` bytes from its shards, indexed
    /// `0..k+m`, `None` where missing. Every present shard must already be
    /// verified and `shard_size(segment_len)` long.
    pub fn decode(
        &self,
        mut shards: Vec<Option<Vec<u8>>>,
        segment_len: usize,
    ) -> Result<Vec<u8>, NotEnoughShards> {
        let k = usize::from(self.params.data_shards);
        let shard_size = self.params.shard_size(segment_len);
        debug_assert_eq!(shards.len(), self.params.total_shards());
        debug_assert!(shards.iter().flatten().all(|s| s.len() == shard_size));
        let available = shards.iter().flatten().count();
        if available < k {
            return Err(NotEnoughShards {
                available,
                needed: k,
            });
        }
        if shards[..k].iter().any(Option::is_none) {
            self.rs
                .reconstruct_data(&mut shards)
                .expect("at least k shards of equal size are present; qed");
        }
        let mut segment = Vec::with_capacity(k * shard_size);
        for shard in shards.into_iter().take(k) {
            segment.extend_from_slice(&shard.expect("all data shards are present now; qed"));
        }
        segment.truncate(segment_len);
        Ok(segment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(k: u8, m: u8) -> CodingParams {
        CodingParams::with_segment_size(k, m, MIN_SEGMENT_SIZE).unwrap()
    }

    #[test]
    fn bounds_are_enforced() {
        assert_eq!(CodingParams::new(0, 2), Err(ParamsError::DataShards(0)));
        assert_eq!(CodingParams::new(65, 2), Err(ParamsError::DataShards(65)));
        assert_eq!(CodingParams::new(4, 0), Err(ParamsError::ParityShards(0)));
        assert_eq!(CodingParams::new(4, 65), Err(ParamsError::ParityShards(65)));
        for bad in [0, MIN_SEGMENT_SIZE + 1, MAX_SEGMENT_SIZE + SEGMENT_ALIGN] {
            assert_eq!(
                CodingParams::with_segment_size(4, 2, bad),
                Err(ParamsError::SegmentSize(bad))
            );
        }
        assert!(CodingParams::new(MAX_DATA_SHARDS, MAX_PARITY_SHARDS).is_ok());
    }

    #[test]
    fn shard_size_is_whole_leaves_covering_the_segment() {
        let p = params(3, 2);
        assert_eq!(p.shard_size(0), LEAF_SIZE);
        assert_eq!(p.shard_size(1), LEAF_SIZE);
        assert_eq!(p.shard_size(3 * LEAF_SIZE), LEAF_SIZE);
        assert_eq!(p.shard_size(3 * LEAF_SIZE + 1), 2 * LEAF_SIZE);
    }

    #[test]
    fn too_few_shards_is_an_error() {
        let coder = ErasureCoder::new(params(3, 2)).unwrap();
        let mut buf = vec![7u8; 5000];
        let shard_size = coder.encode(&mut buf, 5000);
        let mut shards: Vec<Option<Vec<u8>>> =
            buf.chunks(shard_size).map(|s| Some(s.to_vec())).collect();
        shards[0] = None;
        shards[2] = None;
        shards[4] = None;
        assert_eq!(
            coder.decode(shards, 5000),
            Err(NotEnoughShards {
                available: 2,
                needed: 3
            })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_k_of_k_plus_m_shards_decode(
            k in 1u8..=8,
            m in 1u8..=6,
            len in 0usize..40_000,
            seed in any::<u64>(),
            lost in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let coder = ErasureCoder::new(params(k, m)).unwrap();
            let original: Vec<u8> = (0..len as u64)
                .map(|i| (i.wrapping_mul(seed | 1) >> 7) as u8)
                .collect();
            // A reused buffer: stale bytes past the segment must not matter.
            let mut buf = original.clone();
            buf.extend_from_slice(&[0xAA; 3000]);
            let shard_size = coder.encode(&mut buf, len);
            let mut shards: Vec<Option<Vec<u8>>> =
                buf.chunks(shard_size).map(|s| Some(s.to_vec())).collect();
            prop_assert_eq!(shards.len(), usize::from(k + m));
            // Drop up to m shards, chosen by the strategy.
            for index in lost.iter().take(usize::from(m)) {
                let i = index.index(shards.len());
                shards[i] = None;
            }
            prop_assert_eq!(coder.decode(shards, len).unwrap(), original);
        }
    }
}
