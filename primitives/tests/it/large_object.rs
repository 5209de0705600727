//! A multi-gigabyte object through put and get, streamed: the input is made
//! on the fly and only the pieces kept are held in memory.

use std::convert::Infallible;
use std::io::{self, Read, Write};
use std::time::Instant;

use mosaic_primitives::erasure::{CodingParams, MAX_SEGMENT_SIZE};
use mosaic_primitives::manifest::ShardId;
use mosaic_primitives::memory::MemoryShards;
use mosaic_primitives::merkle::ShardRoot;
use mosaic_primitives::piece;
use mosaic_primitives::pipeline::{self, default_threads, PutOptions, ShardSink, ShardSource};
use sha2::{Digest, Sha256};

/// Bytes of the object: 2 GiB and a short last segment.
const SIZE: u64 = (2 << 30) + 12_345;

/// `len` seeded pseudo-random bytes (xorshift64), hashed as they are read.
struct SeededInput {
    state: u64,
    /// Bytes of `state` not handed out yet, lowest first.
    pending: [u8; 8],
    pending_len: usize,
    left: u64,
    hash: Sha256,
}

impl SeededInput {
    fn new(seed: u64, len: u64) -> Self {
        SeededInput {
            state: seed,
            pending: [0; 8],
            pending_len: 0,
            left: len,
            hash: Sha256::new(),
        }
    }

    fn next_word(&mut self) -> [u8; 8] {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state.to_le_bytes()
    }
}

impl Read for SeededInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let out = &mut buf[..n];
        // The stream does not depend on how it is cut into reads: leftover
        // bytes of a word come first.
        let from_pending = self.pending_len.min(n);
        let start = 8 - self.pending_len;
        out[..from_pending].copy_from_slice(&self.pending[start..start + from_pending]);
        self.pending_len -= from_pending;
        let mut words = out[from_pending..].chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&self.next_word());
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            self.pending = self.next_word();
            tail.copy_from_slice(&self.pending[..tail.len()]);
            self.pending_len = 8 - tail.len();
        }
        self.hash.update(&*out);
        self.left -= n as u64;
        Ok(n)
    }
}

/// Hashes what is written to it.
struct HashingOutput(Sha256, u64);

impl Write for HashingOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        self.1 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Keeps every piece but one.
struct DropPiece {
    dropped: u8,
    kept: MemoryShards,
}

impl ShardSink for DropPiece {
    type Error = Infallible;

    fn put_shard(&mut self, id: ShardId, shard: &[u8]) -> Result<(), Infallible> {
        if id.index != self.dropped {
            self.kept.put_shard(id, shard)?;
        }
        Ok(())
    }

    fn put_shard_roots(&mut self, piece: u8, roots: &[ShardRoot]) -> Result<(), Infallible> {
        if piece != self.dropped {
            self.kept.put_shard_roots(piece, roots)?;
        }
        Ok(())
    }
}

#[test]
fn the_seeded_input_does_not_depend_on_read_sizes() {
    let mut whole = vec![0u8; 1000];
    SeededInput::new(7, 1000).read_exact(&mut whole).unwrap();
    let mut input = SeededInput::new(7, 1000);
    let mut cut = Vec::new();
    for len in [1, 3, 8, 13, 100, 875] {
        let mut buf = vec![0u8; len];
        input.read_exact(&mut buf).unwrap();
        cut.extend(buf);
    }
    assert_eq!(cut, whole);
    assert_eq!(input.read(&mut [0; 4]).unwrap(), 0);
}

#[test]
fn a_two_gib_object_rebuilds_from_two_of_its_three_pieces() {
    let started = Instant::now();
    let coding = CodingParams::with_segment_size(2, 1, MAX_SEGMENT_SIZE).unwrap();
    let options = PutOptions {
        coding,
        ..PutOptions::public()
    };
    let mut input = SeededInput::new(0x2545_F491_4F6C_DD1D, SIZE);
    let mut sink = DropPiece {
        dropped: 0,
        kept: MemoryShards::default(),
    };
    let manifest = pipeline::put(&mut input, &options, &mut sink).unwrap();
    let put_time = started.elapsed();
    assert_eq!(manifest.size, SIZE);
    assert_eq!(manifest.segment_count(), 33);
    let store = sink.kept;
    let layout = manifest.layout().unwrap();
    for piece in 1..3u8 {
        let roots = store.shard_roots(piece).unwrap();
        assert!(piece::verify_shard_roots(
            &manifest.piece_roots[usize::from(piece)],
            &layout,
            &roots
        ));
    }

    let mut output = HashingOutput(Sha256::new(), 0);
    pipeline::get(&manifest, None, &store, &mut output, default_threads()).unwrap();
    assert_eq!(output.1, SIZE);
    assert_eq!(output.0.finalize(), input.hash.finalize());
    eprintln!(
        "{SIZE} bytes: put {:.1} s, get (rebuilding every segment) {:.1} s",
        put_time.as_secs_f64(),
        (started.elapsed() - put_time).as_secs_f64()
    );
}
