//! Reed-Solomon encode and decode throughput over the shapes storage networks
//! use, on one 8 MiB segment (input bytes per second): the codec in use
//! (`reed-solomon-erasure`, GF(2^8)) against the Leopard code of
//! `reed-solomon-simd` (GF(2^16)), the candidate it was chosen over.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mosaic_primitives::erasure::{CodingParams, ErasureCoder, DEFAULT_SEGMENT_SIZE};

const SHAPES: [(u8, u8); 5] = [(4, 2), (6, 3), (10, 4), (16, 8), (10, 20)];

fn coder(k: u8, m: u8) -> ErasureCoder {
    ErasureCoder::new(CodingParams::new(k, m).unwrap()).unwrap()
}

fn segment() -> Vec<u8> {
    (0..DEFAULT_SEGMENT_SIZE as u64)
        .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect()
}

/// `k + m` shards of the segment, with the first `min(k, m)` data shards lost.
fn damaged(coder: &ErasureCoder, input: &[u8]) -> Vec<Option<Vec<u8>>> {
    let mut buf = input.to_vec();
    let shard_size = coder.encode(&mut buf, input.len());
    let lost = usize::from(coder.params().parity_shards.min(coder.params().data_shards));
    buf.chunks(shard_size)
        .map(|s| Some(s.to_vec()))
        .enumerate()
        .map(|(i, s)| if i < lost { None } else { s })
        .collect()
}

fn erasure(c: &mut Criterion) {
    let input = segment();
    let mut encode = c.benchmark_group("erasure/encode");
    encode.throughput(Throughput::Bytes(DEFAULT_SEGMENT_SIZE.into()));
    encode.sample_size(20);
    for (k, m) in SHAPES {
        let coder = coder(k, m);
        let shape = format!("{k}+{m}");
        encode.bench_function(BenchmarkId::new("reed-solomon-erasure", &shape), |b| {
            let mut buf = input.clone();
            b.iter(|| coder.encode(&mut buf, input.len()))
        });
        let shard_size = coder.params().shard_size(input.len());
        let mut padded = input.clone();
        padded.resize(shard_size * usize::from(k), 0);
        encode.bench_function(BenchmarkId::new("reed-solomon-simd", &shape), |b| {
            b.iter(|| {
                reed_solomon_simd::encode(k.into(), m.into(), padded.chunks(shard_size)).unwrap()
            })
        });
    }
    encode.finish();

    let mut decode = c.benchmark_group("erasure/decode-min(k,m)-data-shards-lost");
    decode.throughput(Throughput::Bytes(DEFAULT_SEGMENT_SIZE.into()));
    decode.sample_size(20);
    for (k, m) in SHAPES {
        let coder = coder(k, m);
        let shape = format!("{k}+{m}");
        let shards = damaged(&coder, &input);
        decode.bench_function(BenchmarkId::new("reed-solomon-erasure", &shape), |b| {
            b.iter_batched(
                || shards.clone(),
                |shards| coder.decode(shards, input.len()).unwrap(),
                criterion::BatchSize::LargeInput,
            )
        });
        // The candidate's parity differs, so it decodes its own encoding.
        let shard_size = coder.params().shard_size(input.len());
        let mut padded = input.clone();
        padded.resize(shard_size * usize::from(k), 0);
        let parity =
            reed_solomon_simd::encode(k.into(), m.into(), padded.chunks(shard_size)).unwrap();
        let lost = usize::from(m.min(k));
        decode.bench_function(BenchmarkId::new("reed-solomon-simd", &shape), |b| {
            b.iter(|| {
                reed_solomon_simd::decode(
                    k.into(),
                    m.into(),
                    padded.chunks(shard_size).enumerate().skip(lost),
                    parity.iter().enumerate(),
                )
                .unwrap()
            })
        });
    }
    decode.finish();
}

criterion_group!(benches, erasure);
criterion_main!(benches);
