//! CARv1 framing (the IPLD spec's content-addressable archive): a varint
//! length and a DAG-CBOR header `{roots: [CID], version: 1}`, then one
//! section per block, each a varint length followed by the CID's bytes and
//! the block's.
//!
//! Written by hand rather than with a CAR crate: the header has one fixed
//! shape (a map of two keys in DAG-CBOR's canonical order, `roots` before
//! `version` as shorter keys sort first, the CID as tag 42 over its bytes
//! behind a 0x00 multibase prefix), so its encoding is a few lines, and the
//! sections are a varint and two copies.

use cid::Cid;
use mosaic_primitives::unixfs::put_varint;

/// The stream's opening: the header, with `root` as its only root.
pub(crate) fn header(root: &Cid) -> Vec<u8> {
    let cid = root.to_bytes();
    let mut cbor = Vec::with_capacity(cid.len() + 24);
    cbor.push(0xa2); // map of 2
    cbor.push(0x65); // text of 5
    cbor.extend_from_slice(b"roots");
    cbor.push(0x81); // array of 1
    cbor.extend_from_slice(&[0xd8, 0x2a]); // tag 42: a CID
    cbor_bytes_head(&mut cbor, cid.len() + 1);
    cbor.push(0x00); // the identity multibase prefix DAG-CBOR puts before a CID
    cbor.extend_from_slice(&cid);
    cbor.push(0x67); // text of 7
    cbor.extend_from_slice(b"version");
    cbor.push(0x01);
    let mut out = Vec::with_capacity(cbor.len() + 2);
    put_varint(&mut out, cbor.len() as u64);
    out.extend_from_slice(&cbor);
    out
}

/// One section: `block` under `cid`.
pub(crate) fn section(cid: &Cid, block: &[u8]) -> Vec<u8> {
    let cid = cid.to_bytes();
    let mut out = Vec::with_capacity(cid.len() + block.len() + 10);
    put_varint(&mut out, (cid.len() + block.len()) as u64);
    out.extend_from_slice(&cid);
    out.extend_from_slice(block);
    out
}

/// A CBOR byte-string head (major type 2) for `len` bytes.
fn cbor_bytes_head(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=23 => out.push(0x40 | len as u8),
        24..=0xff => out.extend_from_slice(&[0x58, len as u8]),
        _ => {
            out.push(0x59);
            // A CID is far shorter than 64 KiB.
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use mosaic_primitives::unixfs::{Block, CidBuilder};

    /// Reads a multiformats unsigned varint.
    fn varint(bytes: &[u8]) -> (u64, usize) {
        let mut value = 0;
        for (i, byte) in bytes.iter().enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return (value, i + 1);
            }
        }
        panic!("unterminated varint")
    }

    /// Splits a CAR into its header's CBOR and its (CID, block) sections.
    pub(crate) fn read_car(mut car: &[u8]) -> (Vec<u8>, Vec<(Cid, Vec<u8>)>) {
        let (len, used) = varint(car);
        let header = car[used..used + len as usize].to_vec();
        car = &car[used + len as usize..];
        let mut sections = Vec::new();
        while !car.is_empty() {
            let (len, used) = varint(car);
            let section = &car[used..used + len as usize];
            let mut reader = std::io::Cursor::new(section);
            let cid = Cid::read_bytes(&mut reader).unwrap();
            let at = reader.position() as usize;
            sections.push((cid, section[at..].to_vec()));
            car = &car[used + len as usize..];
        }
        (header, sections)
    }

    #[test]
    fn the_header_is_canonical_dag_cbor() {
        let root = Block::dag_pb(vec![0x0a, 0x02, 0x08, 0x01]).cid;
        let car = header(&root);
        let (cbor, sections) = read_car(&car);
        assert!(sections.is_empty());
        let cid = root.to_bytes();
        assert_eq!(cid.len(), 36);
        let mut expected = vec![0xa2, 0x65];
        expected.extend_from_slice(b"roots");
        expected.extend_from_slice(&[0x81, 0xd8, 0x2a, 0x58, 37, 0x00]);
        expected.extend_from_slice(&cid);
        expected.push(0x67);
        expected.extend_from_slice(b"version");
        expected.push(0x01);
        assert_eq!(cbor, expected);
        // The length prefix is one byte here: 61 bytes of CBOR.
        assert_eq!(car[0] as usize, expected.len());
    }

    #[test]
    fn the_identity_probe_cid_fits_a_short_byte_string() {
        let probe: Cid = "bafkqaaa".parse().unwrap();
        let (cbor, _) = read_car(&header(&probe));
        let cid = probe.to_bytes();
        // tag 42, a byte string of 1 + |cid| < 24 bytes in the head's byte.
        let at = cbor.windows(2).position(|w| w == [0xd8, 0x2a]).unwrap();
        assert_eq!(cbor[at + 2], 0x40 | (cid.len() as u8 + 1));
        assert_eq!(&cbor[at + 4..at + 4 + cid.len()], cid.as_slice());
    }

    #[test]
    fn sections_carry_each_block_under_its_cid() {
        let mut builder = CidBuilder::keeping_blocks();
        builder.update(b"hello");
        let (leaf, _) = builder.finish_dag();
        let big = vec![7u8; 300];
        let blocks = [
            (leaf.cid, b"hello".to_vec()),
            (Block::dag_pb(big.clone()).cid, big),
        ];
        let mut car = header(&blocks[0].0);
        for (cid, block) in &blocks {
            car.extend(section(cid, block));
        }
        let (_, sections) = read_car(&car);
        assert_eq!(sections, blocks);
    }
}
