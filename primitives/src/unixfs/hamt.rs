//! HAMT-sharded directories as Kubo (boxo `ipld/unixfs/hamt`) builds and
//! reads them.
//!
//! A name's hash is the first 64 bits of murmur3-x64-128 (seed 0), read
//! big-endian; each level of the trie consumes the next `log2(fanout)` bits
//! (8 for Kubo's fanout of 256) as a slot index. A slot holding one entry
//! links to it under the name `XX` + entry name, where `XX` is the slot in
//! uppercase hex padded to the width of `fanout - 1`; a slot holding several
//! entries links to a sub-shard under `XX` alone. A shard's UnixFS `Data` is
//! `Type = HAMTShard`, `Data` = the bitfield of used slots (big-endian, bit
//! `i` for slot `i`, leading zero bytes dropped), `hashType = 0x22`,
//! `fanout`. Its links are in slot order.
//!
//! Built from insertions only, the trie depends only on the set of names: a
//! slot splits into a sub-shard exactly when two names share it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::dir::{node, DirError};
use super::pb::{PbLink, UnixfsData, UnixfsNode, UnixfsType};
use super::{Block, Root};

/// Slots per shard (boxo's `DefaultShardWidth`).
pub const HAMT_FANOUT: u64 = 256;
/// The `hashType` of murmur3-x64-64 (multicodec `murmur3-x64-64`).
pub const HAMT_HASH_MURMUR3: u64 = 0x22;
/// Bits of the hash one level consumes at [`HAMT_FANOUT`].
const BITS: u32 = 8;

/// The 64-bit hash that places `name` in the trie.
pub(super) fn hash(name: &[u8]) -> u64 {
    let full = murmur3::murmur3_x64_128(&mut std::io::Cursor::new(name), 0)
        .expect("reading from a slice cannot fail; qed");
    // The crate returns h2 << 64 | h1; Go's murmur3.Sum64 is h1.
    full as u64
}

/// Builds the HAMT over `entries`: its root and every shard's block,
/// children before parents, the root's last.
pub(super) fn build(entries: BTreeMap<String, Root>) -> Result<(Root, Vec<Block>), DirError> {
    let mut hashed: Vec<(u64, String, Root)> = entries
        .into_iter()
        .map(|(name, root)| (hash(name.as_bytes()), name, root))
        .collect();
    // Sorted by hash, each slot's entries are contiguous at every depth.
    hashed.sort_by_key(|(hash, ..)| *hash);
    if let Some(pair) = hashed.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(DirError::HashCollision(
            pair[0].1.clone(),
            pair[1].1.clone(),
        ));
    }
    let mut blocks = Vec::new();
    let root = shard(&hashed, 0, &mut blocks);
    Ok((root, blocks))
}

/// One shard over `entries` (sorted by hash, at least two, all hashes
/// distinct) at `depth`.
fn shard(entries: &[(u64, String, Root)], depth: u32, blocks: &mut Vec<Block>) -> Root {
    let mut links = Vec::new();
    let mut bitfield = [0u8; (HAMT_FANOUT / 8) as usize];
    let mut rest = entries;
    while let Some((first, ..)) = rest.first() {
        let slot = slot_index(*first, depth, BITS);
        let count = rest
            .iter()
            .take_while(|(hash, ..)| slot_index(*hash, depth, BITS) == slot)
            .count();
        let (group, tail) = rest.split_at(count);
        rest = tail;
        bitfield[bitfield.len() - 1 - slot / 8] |= 1 << (slot % 8);
        let mut label = String::new();
        write!(label, "{slot:02X}").expect("writing to a String cannot fail; qed");
        let link = match group {
            [(_, name, root)] => {
                label.push_str(name);
                PbLink {
                    cid: root.cid,
                    name: Some(label),
                    tsize: Some(root.tree_size),
                }
            }
            // Distinct 64-bit hashes part by depth 7 at the latest.
            _ => {
                let sub = shard(group, depth + 1, blocks);
                PbLink {
                    cid: sub.cid,
                    name: Some(label),
                    tsize: Some(sub.tree_size),
                }
            }
        };
        links.push(link);
    }
    let used = bitfield
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bitfield.len());
    let mut data = UnixfsData::new(UnixfsType::HamtShard);
    data.data = Some(bitfield[used..].to_vec());
    data.hash_type = Some(HAMT_HASH_MURMUR3);
    data.fanout = Some(HAMT_FANOUT);
    let (root, block) = node(links, data);
    blocks.push(block);
    root
}

/// The slot of `hash` at `depth` when each level takes `bits` bits; the
/// caller checks that `(depth + 1) * bits <= 64`.
fn slot_index(hash: u64, depth: u32, bits: u32) -> usize {
    ((hash << (depth * bits)) >> (64 - bits)) as usize
}

/// Where a name leads from one HAMT shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HamtStep<'a> {
    /// The entry itself: this link's CID is the named file, directory or
    /// symlink.
    Entry(&'a PbLink),
    /// A sub-shard: decode it and look again one level deeper.
    Shard(&'a PbLink),
    /// The directory has no entry of that name.
    Absent,
}

/// Why a node cannot be searched as a HAMT shard.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    /// The node's UnixFS type is not `HAMTShard`.
    #[error("not a hamt shard")]
    NotAShard,
    /// Only murmur3-x64-64 (0x22) is defined for UnixFS HAMTs.
    #[error("unsupported hamt hash type {0:?}")]
    HashType(Option<u64>),
    /// The fanout must be a power of two from 8 to 65 536.
    #[error("unsupported hamt fanout {0:?}")]
    Fanout(Option<u64>),
    /// The 64-bit hash has no bits left for this depth.
    #[error("hamt deeper than its hash ({0} levels)")]
    TooDeep(u32),
    /// The bitfield has more bytes than the fanout has slots.
    #[error("hamt bitfield of {0} bytes is too long")]
    Bitfield(usize),
    /// A slot marked used has no link, or a link whose label is another slot.
    #[error("hamt slot {0:02X} does not match the shard's links")]
    Slot(usize),
}

/// Which link of the HAMT shard `node`, found `depth` levels below the
/// directory's root shard (0 for the root), leads to the entry `name`.
pub fn hamt_lookup<'a>(
    node: &'a UnixfsNode,
    name: &str,
    depth: u32,
) -> Result<HamtStep<'a>, LookupError> {
    let data = &node.data;
    if data.kind != UnixfsType::HamtShard {
        return Err(LookupError::NotAShard);
    }
    if data.hash_type != Some(HAMT_HASH_MURMUR3) {
        return Err(LookupError::HashType(data.hash_type));
    }
    let fanout = data
        .fanout
        .filter(|f| f.is_power_of_two() && (8..=1 << 16).contains(f))
        .ok_or(LookupError::Fanout(data.fanout))?;
    let bits = fanout.trailing_zeros();
    if depth.saturating_add(1).saturating_mul(bits) > 64 {
        return Err(LookupError::TooDeep(depth));
    }
    let bitfield = data.data.as_deref().unwrap_or_default();
    if bitfield.len() as u64 > fanout / 8 {
        return Err(LookupError::Bitfield(bitfield.len()));
    }
    let slot = slot_index(hash(name.as_bytes()), depth, bits);
    let is_set = |i: usize| {
        bitfield
            .len()
            .checked_sub(1 + i / 8)
            .is_some_and(|byte| bitfield[byte] & (1 << (i % 8)) != 0)
    };
    if !is_set(slot) {
        return Ok(HamtStep::Absent);
    }
    // Links are the used slots in order: this one's is after every used
    // slot below it.
    let position = (0..slot).filter(|i| is_set(*i)).count();
    let link = node.links.get(position).ok_or(LookupError::Slot(slot))?;
    let width = format!("{:X}", fanout - 1).len();
    let label = link.name.as_deref().unwrap_or_default();
    let prefix = format!("{slot:0width$X}");
    match label.strip_prefix(&prefix) {
        Some("") => Ok(HamtStep::Shard(link)),
        Some(entry) if entry == name => Ok(HamtStep::Entry(link)),
        Some(_) => Ok(HamtStep::Absent),
        None => Err(LookupError::Slot(slot)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_gos_murmur3_sum64() {
        // h1 of murmur3-x64-128 (seed 0): the reference's first 64 bits,
        // which Go's `murmur3.Sum64` returns and boxo reads big-endian. The
        // directory fixtures check the byte order end to end.
        assert_eq!(hash(b""), 0);
        assert_eq!(hash(b"hello"), 0xcbd8a7b341bd9b02);
    }

    #[test]
    fn slots_take_bits_from_the_top() {
        let hash = 0xab_cd_00_00_00_00_00_12;
        assert_eq!(slot_index(hash, 0, 8), 0xab);
        assert_eq!(slot_index(hash, 1, 8), 0xcd);
        assert_eq!(slot_index(hash, 7, 8), 0x12);
        assert_eq!(slot_index(hash, 0, 4), 0xa);
        assert_eq!(slot_index(hash, 1, 4), 0xb);
    }
}
