//! File CIDs must equal those of an independent IPFS implementation (the
//! JavaScript `ipfs-unixfs-importer` with Kubo's `ipfs add --cid-version=1`
//! defaults); see `tests/fixtures/ipfs/README.md` for how they were made.

use mosaic_primitives::unixfs::CidBuilder;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    name: String,
    size: u64,
    seed: u32,
    cid: String,
}

/// The fixtures' input: a xorshift32 byte stream.
pub(crate) struct Xorshift32(pub(crate) u32);

impl Xorshift32 {
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        for byte in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 17;
            self.0 ^= self.0 << 5;
            *byte = self.0 as u8;
        }
    }
}

#[test]
fn file_cids_match_the_ipfs_importer() {
    let fixtures: Vec<Fixture> =
        serde_json::from_str(include_str!("../fixtures/ipfs/cids.json")).unwrap();
    assert!(fixtures.len() >= 10);
    for fixture in fixtures {
        let mut stream = Xorshift32(fixture.seed);
        let mut builder = CidBuilder::new();
        // Odd-sized pieces so that chunk boundaries fall inside them.
        let mut buf = vec![0u8; 1_000_003];
        let mut left = fixture.size;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            stream.fill(&mut buf[..n]);
            builder.update(&buf[..n]);
            left -= n as u64;
        }
        assert_eq!(
            builder.finish().to_string(),
            fixture.cid,
            "{}",
            fixture.name
        );
    }
}

#[test]
fn generator_matches_the_fixture_readme() {
    let mut first = [0u8; 16];
    Xorshift32(1).fill(&mut first);
    assert_eq!(
        first,
        *b"\x21\x01\xc5\x4f\xd1\xd0\x1a\xb2\x25\x74\xcb\x37\x8a\xae\xf5\xb1"
    );
}
