//! Any bytes either decode to a dag-pb/UnixFS node that encodes to bytes
//! decoding to the same node, or give an error; HAMT lookups on whatever
//! decodes never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mosaic_primitives::unixfs::{hamt_lookup, PbNode, UnixfsData, UnixfsNode};

fuzz_target!(|data: &[u8]| {
    if let Ok(node) = PbNode::decode(data) {
        assert_eq!(PbNode::decode(&node.encode()).as_ref(), Ok(&node));
    }
    if let Ok(message) = UnixfsData::decode(data) {
        assert_eq!(UnixfsData::decode(&message.encode()).as_ref(), Ok(&message));
    }
    let Ok(node) = UnixfsNode::decode(data) else {
        return;
    };
    assert_eq!(UnixfsNode::decode(&node.encode()).as_ref(), Ok(&node));
    // Names a shard may hold, and depths past the hash's 64 bits.
    for link in &node.links {
        let name = link.name.as_deref().unwrap_or_default();
        for depth in [0, 1, 8, u32::MAX] {
            let _ = hamt_lookup(&node, name.get(2..).unwrap_or(name), depth);
        }
    }
});
