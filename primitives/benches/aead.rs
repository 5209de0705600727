//! The frame cipher suites over 64 KiB frames, 8 MiB per iteration: `ring`'s
//! AES-256-GCM and ChaCha20-Poly1305 (used) against RustCrypto's
//! `chacha20poly1305` (the candidate).

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mosaic_primitives::encryption::{CipherSuite, FileKey, FRAME_PAYLOAD, FRAME_SIZE};

const SIZE: usize = 128 * FRAME_PAYLOAD;

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("aead/64KiB-frames");
    group.throughput(Throughput::Bytes(SIZE as u64));
    let plaintext = vec![7u8; SIZE];

    let key = FileKey::generate().unwrap();
    let mut strided = vec![7u8; SIZE / FRAME_PAYLOAD * FRAME_SIZE];
    for suite in CipherSuite::ALL {
        let cipher = key.cipher(suite);
        group.bench_function(format!("ring/{suite}"), |b| {
            b.iter(|| cipher.encrypt(0, &mut strided, SIZE, true))
        });
    }

    let rust_crypto = ChaCha20Poly1305::new(&[9u8; 32].into());
    let mut buf = plaintext.clone();
    group.bench_function("chacha20poly1305", |b| {
        b.iter(|| {
            for (i, frame) in buf.chunks_mut(FRAME_PAYLOAD).enumerate() {
                let mut nonce = [0u8; 12];
                nonce[3..11].copy_from_slice(&(i as u64).to_be_bytes());
                rust_crypto
                    .encrypt_inout_detached(&nonce.into(), &[], frame.into())
                    .unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
