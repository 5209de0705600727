//! The put and get pipelines over a byte stream and a shard store.
//!
//! **put**: read the input a segment at a time → encrypt its frames (unless
//! public) → hash its 256 KiB chunks for the CID (a public file; a
//! [UnixFS pack](crate::pack) comes with its root) → erasure-code it → Merkle
//! root of every shard → hand the shards to a [`ShardSink`] in order. Shard
//! `i` of every segment belongs to piece `i` ([`piece`]); at the end each
//! piece's shard-root list goes to the sink too, and the result is the
//! [`Manifest`], which names each piece by the root over that list.
//!
//! **get**: for each segment, fetch shards from a [`ShardSource`] (data shards
//! first, so an intact object needs no decoding), keep each one whose Merkle
//! root matches its piece's shard-root list, stop at `k`, decode, decrypt,
//! write in order. A piece's list is fetched the first time a segment needs
//! that piece and used only if it adds up to the manifest's piece root; a
//! piece without a good list is unavailable as a whole. **read_range** does
//! the same for the segments under a byte range of a public object: how the
//! files of a pack are read one by one.
//!
//! Segments are independent (frame nonces come from the segment's position),
//! so both pipelines spread segments over threads with
//! [`ordered_map`](crate::parallel); memory stays at about
//! `in_flight × 2.5 × segment_size` whatever the object's size, plus 32
//! bytes per shard for the shard-root lists put collects.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::ops::Range;
use std::sync::OnceLock;

use cid::Cid;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::encryption::{
    CipherSuite, DecryptError, Encryption, FileKey, FrameCipher, PublicKey, RandomError, SecretKey,
    FRAME_PAYLOAD, FRAME_SIZE,
};
use crate::erasure::{CodingParams, ErasureCoder, NotEnoughShards, ParamsError};
use crate::manifest::{roots_cid, Manifest, Segment, ShardId, MAX_RECIPIENTS};
use crate::merkle::{self, ShardRoot};
use crate::parallel::ordered_map;
use crate::piece::{self, Layout, MAX_SEGMENTS};
use crate::unixfs::{chunk_digest, CidBuilder, CHUNK_SIZE};

/// Where put sends shards and the pieces' shard-root lists.
pub trait ShardSink {
    /// Why storing failed.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Stores one shard; called once per shard, in segment order.
    fn put_shard(&mut self, id: ShardId, shard: &[u8]) -> Result<(), Self::Error>;
    /// Stores the shard-root list of `piece`: the root of its shard of each
    /// segment, in segment order (empty for an empty public file). Called
    /// once per piece, after every shard and before put returns.
    fn put_shard_roots(&mut self, piece: u8, roots: &[ShardRoot]) -> Result<(), Self::Error>;
}

/// Where get fetches shards and shard-root lists. Called from several
/// threads at once.
pub trait ShardSource: Sync {
    /// The shard's bytes, or `None` if it cannot be had. The bytes need not
    /// be correct: get checks each against its piece's shard-root list.
    fn shard(&self, id: ShardId) -> Option<Vec<u8>>;
    /// Shards `indices` of `segment`, in that order: get asks for as many
    /// as it still needs at once, so a source over a network fetches them
    /// in parallel. By default, one [`shard`](Self::shard) after another.
    fn shards(&self, segment: u32, indices: &[u8]) -> Vec<Option<Vec<u8>>> {
        indices
            .iter()
            .map(|&index| self.shard(ShardId { segment, index }))
            .collect()
    }
    /// The pieces in the order to ask for them (every one of `0..pieces`,
    /// once): by default data pieces first, whose shards decode by a copy.
    /// A source over a network may put slow providers last.
    fn preference(&self, pieces: u8) -> Vec<u8> {
        (0..pieces).collect()
    }
    /// The shard-root list of `piece`, or `None` if it cannot be had. It
    /// need not be correct: get checks it against the manifest's piece root
    /// and, if it does not match, uses no shard of that piece.
    fn shard_roots(&self, piece: u8) -> Option<Vec<ShardRoot>>;
}

/// How to store an object.
#[derive(Clone, Debug)]
pub struct PutOptions {
    /// Coding parameters.
    pub coding: CodingParams,
    /// Readers to wrap the file key to; empty stores the file public
    /// (unencrypted, with its IPFS CID).
    pub recipients: Vec<PublicKey>,
    /// The cipher suite of an encrypted object's frames.
    pub suite: CipherSuite,
    /// A public object whose input is a [UnixFS pack](crate::pack):
    /// its DAG's root and the size of its index. `None` stores a public
    /// input as one file, named by the IPFS CID the pipeline computes.
    pub pack: Option<PackRoot>,
    /// The file key to encrypt with; `None` draws a fresh one. Give the key
    /// of an earlier put only to store the *same input* again: it then gives
    /// the same ciphertext, shards and piece roots (a dry run into
    /// [`DiscardShards`](crate::memory::DiscardShards) learns the roots
    /// before the real put). Frame nonces depend only on the position, so one
    /// key over two different inputs would expose both.
    pub key: Option<FileKey>,
    /// Worker threads; 1 runs everything on the calling thread.
    pub threads: usize,
}

impl PutOptions {
    /// Encrypted to `owner` with default coding, on every core.
    pub fn encrypted_to(owner: PublicKey) -> Self {
        PutOptions {
            recipients: vec![owner],
            ..Self::public()
        }
    }

    /// Public (unencrypted) with default coding, on every core.
    pub fn public() -> Self {
        PutOptions {
            coding: CodingParams::default(),
            recipients: Vec::new(),
            suite: CipherSuite::preferred(),
            pack: None,
            key: None,
            threads: default_threads(),
        }
    }
}

/// What a public input stored as a [UnixFS pack](crate::pack) is
/// named by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackRoot {
    /// The DAG's root CID.
    pub cid: Cid,
    /// Bytes of the DAG index at the end of the input.
    pub dag_index: u64,
}

/// One worker per available core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Why put failed.
#[derive(Debug, thiserror::Error)]
pub enum PutError<S: std::error::Error + 'static> {
    /// Reading the input failed.
    #[error("reading the input failed")]
    Read(#[source] io::Error),
    /// The shard sink failed.
    #[error("storing a shard failed")]
    Sink(#[source] S),
    /// Coding parameters out of bounds.
    #[error("invalid coding parameters")]
    Params(#[from] ParamsError),
    /// More readers than a manifest can carry.
    #[error("at most {MAX_RECIPIENTS} readers, got {0}")]
    Recipients(usize),
    /// A file key was given for a public file.
    #[error("a file key was given but no readers; public files are not encrypted")]
    KeyWithoutRecipients,
    /// A pack is public; it was given with readers, or its DAG index does
    /// not fit in the input.
    #[error("a UnixFS pack must be public and hold its DAG index ({0} bytes)")]
    Pack(u64),
    /// The object needs more segments than a piece may span.
    #[error("the input needs more than {MAX_SEGMENTS} segments; use larger segments")]
    TooLarge,
    /// No randomness for the file key.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// Why get failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// Fewer than `k` shards of a segment passed verification.
    #[error("segment {segment} cannot be rebuilt: {source}")]
    Segment {
        /// The segment.
        segment: u32,
        /// How many shards were usable.
        #[source]
        source: NotEnoughShards,
    },
    /// The object is encrypted and no key was given.
    #[error("the object is encrypted; a key is needed")]
    KeyRequired,
    /// Decryption failed: wrong key or corrupted data.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// Writing the output failed.
    #[error("writing the output failed")]
    Write(#[source] io::Error),
    /// The public object's bytes do not have the CID its manifest names.
    #[error("the rebuilt data does not match the manifest's CID; the manifest is inconsistent")]
    CidMismatch,
    /// The object is a UnixFS pack, read through its DAG, not as a whole.
    #[error("the object is a UnixFS pack: read its files through its DAG index")]
    Pack,
    /// Byte ranges are read of public objects only, within their size.
    #[error("cannot read bytes {}..{} of this object", .0.start, .0.end)]
    Range(Range<u64>),
}

struct PutJob {
    segment: u32,
    /// The segment's input; frames at `FRAME_SIZE` strides when encrypting.
    buf: Vec<u8>,
    /// Input bytes in `buf`.
    len: usize,
    last: bool,
}

struct EncodedSegment {
    /// The `k + m` shards back to back.
    shards: Vec<u8>,
    shard_size: usize,
    roots: Vec<ShardRoot>,
    /// Digests and lengths of the segment's 256 KiB chunks (public objects).
    chunks: Vec<([u8; 32], usize)>,
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Segment buffers handed back by the consumer for the producer to refill,
/// so that steady state allocates (and page-faults) nothing.
struct BufferPool {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
}

impl BufferPool {
    fn new(capacity: usize) -> Self {
        let (tx, rx) = bounded(capacity);
        BufferPool { tx, rx }
    }

    /// A buffer of `len` bytes, contents unspecified.
    fn take(&self, len: usize) -> Vec<u8> {
        let mut buf = self.rx.try_recv().unwrap_or_default();
        buf.resize(len, 0);
        buf
    }

    fn give(&self, buf: Vec<u8>) {
        let _ = self.tx.try_send(buf);
    }
}

/// Stores `input` as shards and shard-root lists in `sink` and returns the
/// manifest.
pub fn put<R, S>(
    input: R,
    options: &PutOptions,
    sink: &mut S,
) -> Result<Manifest, PutError<S::Error>>
where
    R: Read + Send,
    S: ShardSink,
{
    let coding = options.coding;
    let coder = ErasureCoder::new(coding)?;
    if options.recipients.len() > MAX_RECIPIENTS {
        return Err(PutError::Recipients(options.recipients.len()));
    }
    if let (Some(pack), false) = (&options.pack, options.recipients.is_empty()) {
        return Err(PutError::Pack(pack.dag_index));
    }
    let key = match (options.recipients.is_empty(), &options.key) {
        (true, None) => None,
        (true, Some(_)) => return Err(PutError::KeyWithoutRecipients),
        (false, Some(key)) => Some(key.clone()),
        (false, None) => Some(FileKey::generate()?),
    };
    let cipher = key.as_ref().map(|key| key.cipher(options.suite));
    let encrypted = cipher.is_some();
    let segment_size = coding.segment_size as usize;
    let in_flight = options.threads + 2;
    let pool = BufferPool::new(in_flight + 1);

    // Frame-sized reads bypass a buffer of at most their size: the buffer
    // only serves the one-byte look-ahead that finds the last segment.
    let mut input = BufReader::with_capacity(FRAME_PAYLOAD, input);
    let mut segment = 0u32;
    let mut done = false;
    let mut size = 0u64;
    let produce = || -> Result<Option<PutJob>, PutError<S::Error>> {
        if done {
            return Ok(None);
        }
        let mut buf = pool.take(segment_size);
        let (len, full) = match encrypted {
            // Read each frame's plaintext to its place in the ciphertext.
            true => {
                let mut len = 0;
                let mut full = true;
                for frame in buf.chunks_exact_mut(FRAME_SIZE) {
                    let n = read_full(&mut input, &mut frame[..FRAME_PAYLOAD])
                        .map_err(PutError::Read)?;
                    len += n;
                    if n < FRAME_PAYLOAD {
                        full = false;
                        break;
                    }
                }
                (len, full)
            }
            false => {
                let n = read_full(&mut input, &mut buf).map_err(PutError::Read)?;
                (n, n == segment_size)
            }
        };
        let last = !full || input.fill_buf().map_err(PutError::Read)?.is_empty();
        // An empty public file has no segments; an empty encrypted one has
        // one, holding the tag of its single empty frame.
        if len == 0 && !(encrypted && segment == 0) {
            return Ok(None);
        }
        if segment >= MAX_SEGMENTS {
            return Err(PutError::TooLarge);
        }
        size += len as u64;
        done = last;
        let job = PutJob {
            segment,
            buf,
            len,
            last,
        };
        segment += 1;
        Ok(Some(job))
    };

    // A pack's CID is its DAG's root, not the hash of its bytes.
    let hash_chunks = !encrypted && options.pack.is_none();
    let work = |job: PutJob| -> Result<EncodedSegment, PutError<S::Error>> {
        Ok(encode_segment(&coder, cipher.as_ref(), hash_chunks, job))
    };

    let mut cid = CidBuilder::new();
    // Each piece's shard roots, segment order.
    let mut pieces: Vec<Vec<ShardRoot>> = vec![Vec::new(); coding.total_shards()];
    let mut segment = 0u32;
    let consume = |encoded: EncodedSegment| -> Result<(), PutError<S::Error>> {
        for (digest, len) in &encoded.chunks {
            cid.push_chunk(*digest, *len);
        }
        for (index, shard) in encoded.shards.chunks_exact(encoded.shard_size).enumerate() {
            let id = ShardId {
                segment,
                index: index as u8,
            };
            sink.put_shard(id, shard).map_err(PutError::Sink)?;
        }
        for (piece, root) in pieces.iter_mut().zip(encoded.roots) {
            piece.push(root);
        }
        segment += 1;
        pool.give(encoded.shards);
        Ok(())
    };

    ordered_map(options.threads, in_flight, produce, work, consume)?;

    let mut piece_roots = Vec::with_capacity(pieces.len());
    for (piece, roots) in pieces.iter().enumerate() {
        let piece = u8::try_from(piece).expect("k + m <= 128 by validation; qed");
        sink.put_shard_roots(piece, roots).map_err(PutError::Sink)?;
        piece_roots.push(piece::piece_root(roots));
    }
    if let Some(pack) = options.pack.filter(|pack| pack.dag_index > size) {
        return Err(PutError::Pack(pack.dag_index));
    }
    let manifest = Manifest {
        cid: match (encrypted, options.pack) {
            (true, _) => roots_cid(&piece_roots),
            (false, Some(pack)) => pack.cid,
            (false, None) => cid.finish(),
        },
        size,
        coding,
        encryption: key.map(|key| Encryption {
            suite: options.suite,
            recipients: options.recipients.iter().map(|r| key.wrap(r)).collect(),
        }),
        dag_index: options.pack.map_or(0, |pack| pack.dag_index),
        piece_roots,
    };
    debug_assert!(manifest.validate().is_ok());
    Ok(manifest)
}

fn encode_segment(
    coder: &ErasureCoder,
    cipher: Option<&FrameCipher>,
    hash_chunks: bool,
    job: PutJob,
) -> EncodedSegment {
    let PutJob {
        segment,
        mut buf,
        len,
        last,
    } = job;
    let (stored_len, chunks) = match cipher {
        Some(cipher) => {
            let frames_per_segment = coder.params().segment_size as usize / FRAME_SIZE;
            let first_frame = u64::from(segment) * frames_per_segment as u64;
            (cipher.encrypt(first_frame, &mut buf, len, last), Vec::new())
        }
        None if hash_chunks => {
            let chunks = buf[..len]
                .chunks(CHUNK_SIZE)
                .map(|c| (chunk_digest(c), c.len()))
                .collect();
            (len, chunks)
        }
        None => (len, Vec::new()),
    };
    let shard_size = coder.encode(&mut buf, stored_len);
    let roots = buf
        .chunks_exact(shard_size)
        .map(|shard| merkle::root(shard).expect("shard sizes are bounded and non-zero; qed"))
        .collect();
    EncodedSegment {
        shards: buf,
        shard_size,
        roots,
        chunks,
    }
}

/// Rebuilds the object described by `manifest` from `source` into `output`.
///
/// `secret` must be one of the readers for an encrypted object. Output is
/// written segment by segment; on error it holds a verified prefix. A
/// [UnixFS pack](crate::pack) is refused: its bytes are checked
/// against its DAG, file by file, through [`read_range`].
pub fn get<W: Write>(
    manifest: &Manifest,
    secret: Option<&SecretKey>,
    source: &impl ShardSource,
    mut output: W,
    threads: usize,
) -> Result<(), GetError> {
    if manifest.dag_index > 0 {
        return Err(GetError::Pack);
    }
    let cipher = match &manifest.encryption {
        Some(Encryption { suite, recipients }) => {
            let secret = secret.ok_or(GetError::KeyRequired)?;
            Some(secret.unwrap(recipients)?.cipher(*suite))
        }
        None => None,
    };
    let segment_count = manifest.segment_count();
    let mut cid = CidBuilder::new();
    each_segment(
        manifest,
        source,
        0..segment_count,
        threads,
        |segment, mut data| {
            let chunks = match &cipher {
                Some(cipher) => {
                    let frames_per_segment = manifest.coding.segment_size as usize / FRAME_SIZE;
                    let first_frame = u64::from(segment.index) * frames_per_segment as u64;
                    let last = segment.index + 1 == segment_count;
                    let len = cipher.decrypt(first_frame, &mut data, last)?;
                    data.truncate(len);
                    Vec::new()
                }
                None => data.chunks(CHUNK_SIZE).map(chunk_digest).collect(),
            };
            Ok((data, chunks))
        },
        |(plaintext, chunks): (Vec<u8>, Vec<[u8; 32]>)| {
            for (digest, chunk) in chunks.into_iter().zip(plaintext.chunks(CHUNK_SIZE)) {
                cid.push_chunk(digest, chunk.len());
            }
            output.write_all(&plaintext).map_err(GetError::Write)
        },
    )?;
    // Shards were checked against shard roots, and those against the piece
    // roots; for a public object the bytes must also add up to the CID it is
    // known by (for an encrypted one, manifest validation checked that the
    // CID commits to the piece roots).
    if cipher.is_none() && cid.finish() != manifest.cid {
        return Err(GetError::CidMismatch);
    }
    output.flush().map_err(GetError::Write)
}

/// Writes bytes `range` of a public object to `output`, fetching only the
/// segments under it. Every shard is checked against its piece's shard
/// roots, as in [`get`]; whether the bytes are the ones a CID names is for
/// the caller to check (a pack's files against its DAG).
pub fn read_range<W: Write>(
    manifest: &Manifest,
    source: &impl ShardSource,
    range: Range<u64>,
    mut output: W,
    threads: usize,
) -> Result<(), GetError> {
    if manifest.encryption.is_some() || range.start > range.end || range.end > manifest.size {
        return Err(GetError::Range(range));
    }
    if range.is_empty() {
        return Ok(());
    }
    let segment_size = u64::from(manifest.coding.segment_size);
    // Both fit in u32: the object has at most `MAX_SEGMENTS` segments.
    let first = (range.start / segment_size) as u32;
    let last = ((range.end - 1) / segment_size) as u32;
    each_segment(
        manifest,
        source,
        first..last + 1,
        threads,
        |segment, mut data| {
            let end = (range.end - segment.offset).min(data.len() as u64) as usize;
            data.truncate(end);
            data.drain(..range.start.saturating_sub(segment.offset) as usize);
            Ok(data)
        },
        |bytes| output.write_all(&bytes).map_err(GetError::Write),
    )?;
    output.flush().map_err(GetError::Write)
}

/// Fetches and decodes `segments` of the object over `threads`, hands each
/// segment's stored bytes to `work` and the results to `consume` in order.
fn each_segment<O: Send>(
    manifest: &Manifest,
    source: &impl ShardSource,
    segments: Range<u32>,
    threads: usize,
    work: impl Fn(&Segment, Vec<u8>) -> Result<O, GetError> + Sync,
    consume: impl FnMut(O) -> Result<(), GetError>,
) -> Result<(), GetError> {
    let coder = ErasureCoder::new(manifest.coding).expect("manifests are validated; qed");
    let lists = manifest
        .layout()
        .map(|layout| ShardRootLists::new(manifest, layout, source));
    let mut segments = segments.map(|index| manifest.segment(index));
    ordered_map(
        threads,
        threads + 2,
        || Ok(segments.next()),
        |segment| {
            let lists = lists
                .as_ref()
                .expect("an object without a layout has no segments; qed");
            let data = fetch_segment(manifest, &coder, source, lists, &segment)?;
            work(&segment, data)
        },
        consume,
    )
}

/// Each piece's shard-root list, fetched the first time a segment needs that
/// piece (so an intact object never fetches the parity pieces' lists) and
/// kept only if it adds up to the manifest's piece root.
struct ShardRootLists<'a, S> {
    manifest: &'a Manifest,
    layout: Layout,
    source: &'a S,
    pieces: Vec<OnceLock<Option<Vec<ShardRoot>>>>,
}

impl<'a, S: ShardSource> ShardRootLists<'a, S> {
    fn new(manifest: &'a Manifest, layout: Layout, source: &'a S) -> Self {
        ShardRootLists {
            manifest,
            layout,
            source,
            pieces: (0..layout.piece_count()).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The verified list of `piece`, or `None` if it is missing or wrong.
    fn get(&self, piece: u8) -> Option<&[ShardRoot]> {
        self.pieces[usize::from(piece)]
            .get_or_init(|| {
                let roots = self.source.shard_roots(piece)?;
                let root = self.manifest.piece_roots[usize::from(piece)];
                piece::verify_shard_roots(&root, &self.layout, &roots).then_some(roots)
            })
            .as_deref()
    }
}

/// Collects `k` verified shards of a segment and decodes it.
fn fetch_segment<S: ShardSource>(
    manifest: &Manifest,
    coder: &ErasureCoder,
    source: &S,
    lists: &ShardRootLists<'_, S>,
    segment: &Segment,
) -> Result<Vec<u8>, GetError> {
    let k = usize::from(manifest.coding.data_shards);
    let total = manifest.coding.total_shards();
    let mut shards: Vec<Option<Vec<u8>>> = vec![None; total];
    // Pieces in the source's order, each with its verified list; asked for
    // in batches of as many as are still missing. An order that is not a
    // permutation is made one: each piece once, in range, none left out.
    let mut seen = vec![false; total];
    let order = source.preference(total as u8);
    let mut candidates = order
        .into_iter()
        .chain(0..total as u8)
        .filter(|&index| {
            let fresh = seen.get(usize::from(index)) == Some(&false);
            if fresh {
                seen[usize::from(index)] = true;
            }
            fresh
        })
        .filter_map(|index| Some((index, lists.get(index)?)));
    let mut valid = 0;
    while valid < k {
        let batch: Vec<_> = candidates.by_ref().take(k - valid).collect();
        if batch.is_empty() {
            break;
        }
        let indices: Vec<u8> = batch.iter().map(|(index, _)| *index).collect();
        let fetched = source.shards(segment.index, &indices);
        for ((index, roots), bytes) in batch.into_iter().zip(fetched) {
            // A verified list has one root per segment.
            let root = roots[segment.index as usize];
            if let Some(bytes) =
                bytes.filter(|b| b.len() == segment.shard_size && merkle::root(b) == Ok(root))
            {
                shards[usize::from(index)] = Some(bytes);
                valid += 1;
            }
        }
    }
    coder
        .decode(shards, segment.len)
        .map_err(|source| GetError::Segment {
            segment: segment.index,
            source,
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use super::*;
    use crate::memory::MemoryShards as MemoryStore;

    fn data(len: usize) -> Vec<u8> {
        (0..len as u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57) as u8)
            .collect()
    }

    fn options(recipients: Vec<PublicKey>, threads: usize) -> PutOptions {
        PutOptions {
            coding: CodingParams::with_segment_size(3, 2, 256 * 1024).unwrap(),
            recipients,
            suite: CipherSuite::preferred(),
            pack: None,
            key: None,
            threads,
        }
    }

    /// Asserts that get found only 2 of the 3 shards segment 0 needs.
    fn assert_too_few_in_segment_0(result: Result<(), GetError>) {
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                GetError::Segment {
                    segment: 0,
                    source: NotEnoughShards {
                        available: 2,
                        needed: 3
                    }
                }
            ),
            "{err:?}"
        );
    }

    /// A source that records what get asked it for.
    struct Recording<'a> {
        inner: &'a MemoryStore,
        shards: Mutex<BTreeSet<ShardId>>,
        lists: Mutex<BTreeSet<u8>>,
        batches: Mutex<Vec<(u32, Vec<u8>)>>,
        preference: Option<Vec<u8>>,
    }

    impl<'a> Recording<'a> {
        fn new(inner: &'a MemoryStore) -> Self {
            Recording {
                inner,
                shards: Mutex::default(),
                lists: Mutex::default(),
                batches: Mutex::default(),
                preference: None,
            }
        }

        fn pieces_read(&self) -> BTreeSet<u8> {
            self.shards
                .lock()
                .unwrap()
                .iter()
                .map(|id| id.index)
                .collect()
        }
    }

    impl ShardSource for Recording<'_> {
        fn shard(&self, id: ShardId) -> Option<Vec<u8>> {
            self.shards.lock().unwrap().insert(id);
            self.inner.shard(id)
        }

        fn preference(&self, pieces: u8) -> Vec<u8> {
            self.preference
                .clone()
                .unwrap_or_else(|| (0..pieces).collect())
        }

        fn shards(&self, segment: u32, indices: &[u8]) -> Vec<Option<Vec<u8>>> {
            self.batches
                .lock()
                .unwrap()
                .push((segment, indices.to_vec()));
            indices
                .iter()
                .map(|&index| self.shard(ShardId { segment, index }))
                .collect()
        }

        fn shard_roots(&self, piece: u8) -> Option<Vec<ShardRoot>> {
            self.lists.lock().unwrap().insert(piece);
            self.inner.shard_roots(piece)
        }
    }

    #[test]
    fn round_trips_at_segment_edges_on_one_and_two_threads() {
        let owner = SecretKey::from_seed(&[9; 32]);
        let segment_plain = 256 * 1024 / FRAME_SIZE * FRAME_PAYLOAD;
        for len in [
            0,
            1,
            segment_plain - 1,
            segment_plain,
            segment_plain + 1,
            256 * 1024,
            3 * 256 * 1024 + 5,
        ] {
            let aes = CipherSuite::Aes256Gcm;
            let chacha = CipherSuite::ChaCha20Poly1305;
            for (recipients, threads, suite) in [
                (vec![], 1, aes),
                (vec![owner.public()], 1, aes),
                (vec![owner.public()], 2, chacha),
                (vec![], 2, chacha),
            ] {
                let input = data(len);
                let mut store = MemoryStore::default();
                let options = PutOptions {
                    suite,
                    ..options(recipients.clone(), threads)
                };
                let manifest = put(&input[..], &options, &mut store).unwrap();
                let recorded = manifest.encryption.as_ref().map(|e| e.suite);
                assert_eq!(recorded, (!recipients.is_empty()).then_some(suite));
                assert_eq!(manifest.size, len as u64);
                assert_eq!(
                    Manifest::from_bytes(&manifest.to_bytes()).unwrap(),
                    manifest
                );
                let mut out = Vec::new();
                get(&manifest, Some(&owner), &store, &mut out, threads).unwrap();
                assert_eq!(out, input, "len {len}, threads {threads}");
            }
        }
    }

    #[test]
    fn every_piece_gets_the_list_of_its_shard_roots() {
        let owner = SecretKey::from_seed(&[9; 32]);
        for (len, recipients) in [
            (0, vec![]),
            (0, vec![owner.public()]),
            (3 * 256 * 1024 + 5, vec![]),
            (3 * 256 * 1024 + 5, vec![owner.public()]),
        ] {
            let mut store = MemoryStore::default();
            let manifest = put(&data(len)[..], &options(recipients, 2), &mut store).unwrap();
            let segments = manifest.segment_count();
            assert_eq!(store.shard_roots_mut().len(), 5);
            for piece in 0..5u8 {
                let roots = store.shard_roots(piece).unwrap();
                assert_eq!(roots.len(), segments as usize);
                assert_eq!(
                    piece::piece_root(&roots),
                    manifest.piece_roots[usize::from(piece)]
                );
                for (segment, root) in (0..).zip(&roots) {
                    let shard = store.shard(ShardId {
                        segment,
                        index: piece,
                    });
                    assert_eq!(merkle::root(&shard.unwrap()).unwrap(), *root);
                }
            }
        }
    }

    #[test]
    fn round_trips_a_large_file_with_default_coding() {
        let owner = SecretKey::from_seed(&[4; 32]);
        let input = data(41 * 1024 * 1024 + 12_345);
        let mut store = MemoryStore::default();
        let manifest = put(
            &input[..],
            &PutOptions::encrypted_to(owner.public()),
            &mut store,
        )
        .unwrap();
        assert_eq!(manifest.segment_count(), 6);
        let mut out = Vec::with_capacity(input.len());
        get(&manifest, Some(&owner), &store, &mut out, default_threads()).unwrap();
        assert!(out == input, "large round trip differs");
    }

    #[test]
    fn public_objects_get_their_ipfs_cid() {
        let input = data(3 * CHUNK_SIZE + 100);
        let manifest = put(&input[..], &options(vec![], 2), &mut MemoryStore::default()).unwrap();
        assert_eq!(manifest.cid, crate::unixfs::file_cid(&input));
    }

    #[test]
    fn a_range_fetches_only_the_segments_under_it() {
        // Six segments of 256 KiB, the last short.
        let segment = 256 * 1024u64;
        let input = data(5 * segment as usize + 100);
        let len = input.len() as u64;
        let mut store = MemoryStore::default();
        let manifest = put(&input[..], &options(vec![], 2), &mut store).unwrap();
        for (range, segments) in [
            (0..1, vec![0]),
            (5..segment + 3, vec![0, 1]),
            (segment..2 * segment, vec![1]),
            (3 * segment + 7..len, vec![3, 4, 5]),
            (0..len, vec![0, 1, 2, 3, 4, 5]),
            (len..len, vec![]),
        ] {
            let source = Recording::new(&store);
            let mut out = Vec::new();
            read_range(&manifest, &source, range.clone(), &mut out, 2).unwrap();
            assert_eq!(out, input[range.start as usize..range.end as usize]);
            let read: BTreeSet<u32> = source
                .shards
                .lock()
                .unwrap()
                .iter()
                .map(|id| id.segment)
                .collect();
            assert_eq!(read, segments.into_iter().collect(), "{range:?}");
        }
        // Past the end, or of an encrypted object: refused.
        assert!(matches!(
            read_range(&manifest, &store, len - 1..len + 1, &mut Vec::new(), 1),
            Err(GetError::Range(_))
        ));
        let owner = SecretKey::from_seed(&[3; 32]);
        let encrypted = put(
            &input[..],
            &options(vec![owner.public()], 2),
            &mut MemoryStore::default(),
        )
        .unwrap();
        assert!(matches!(
            read_range(&encrypted, &store, 0..1, &mut Vec::new(), 1),
            Err(GetError::Range(_))
        ));
    }

    #[test]
    fn a_pack_is_named_by_its_root_and_read_by_range_only() {
        let input = data(3 * CHUNK_SIZE + 100);
        let root = crate::unixfs::file_cid(&data(3 * CHUNK_SIZE));
        let pack = PackRoot {
            cid: root,
            dag_index: 100,
        };
        let mut store = MemoryStore::default();
        let with_pack = PutOptions {
            pack: Some(pack),
            ..options(vec![], 2)
        };
        let manifest = put(&input[..], &with_pack, &mut store).unwrap();
        assert_eq!((manifest.cid, manifest.dag_index), (root, 100));
        assert!(matches!(
            get(&manifest, None, &store, &mut Vec::new(), 1),
            Err(GetError::Pack)
        ));
        let mut out = Vec::new();
        read_range(&manifest, &store, 0..3 * CHUNK_SIZE as u64, &mut out, 1).unwrap();
        assert_eq!(out, data(3 * CHUNK_SIZE));
        // An index longer than the input, or a pack with readers: refused.
        let too_long = PutOptions {
            pack: Some(PackRoot {
                dag_index: input.len() as u64 + 1,
                ..pack
            }),
            ..options(vec![], 2)
        };
        assert!(matches!(
            put(&input[..], &too_long, &mut crate::memory::DiscardShards),
            Err(PutError::Pack(_))
        ));
        let owner = SecretKey::from_seed(&[3; 32]);
        let encrypted = PutOptions {
            pack: Some(pack),
            ..options(vec![owner.public()], 2)
        };
        assert!(matches!(
            put(&input[..], &encrypted, &mut crate::memory::DiscardShards),
            Err(PutError::Pack(_))
        ));
    }

    #[test]
    fn missing_and_corrupt_shards_are_skipped_until_too_few_remain() {
        let input = data(700 * 1024);
        let mut store = MemoryStore::default();
        let manifest = put(&input[..], &options(vec![], 2), &mut store).unwrap();
        {
            let shards = store.shards_mut();
            // Segment 0: lose one data shard, corrupt another (m = 2 tolerated).
            shards.remove(&ShardId {
                segment: 0,
                index: 0,
            });
            shards
                .get_mut(&ShardId {
                    segment: 0,
                    index: 2,
                })
                .unwrap()[5] ^= 1;
            // Segment 1: a shard of the wrong length.
            shards
                .get_mut(&ShardId {
                    segment: 1,
                    index: 1,
                })
                .unwrap()
                .push(0);
        }
        let mut out = Vec::new();
        get(&manifest, None, &store, &mut out, 2).unwrap();
        assert_eq!(out, input);

        // A third bad shard in segment 0 leaves only 2 of the 3 needed.
        store.shards_mut().remove(&ShardId {
            segment: 0,
            index: 4,
        });
        assert_too_few_in_segment_0(get(&manifest, None, &store, &mut Vec::new(), 2));
    }

    #[test]
    fn an_intact_object_reads_only_its_data_pieces() {
        let input = data(700 * 1024);
        let mut store = MemoryStore::default();
        let manifest = put(&input[..], &options(vec![], 2), &mut store).unwrap();
        let source = Recording::new(&store);
        let mut out = Vec::new();
        get(&manifest, None, &source, &mut out, 2).unwrap();
        assert_eq!(out, input);
        assert_eq!(*source.lists.lock().unwrap(), BTreeSet::from([0, 1, 2]));
        assert_eq!(source.pieces_read(), BTreeSet::from([0, 1, 2]));
    }

    #[test]
    fn a_segment_is_asked_for_all_it_needs_at_once() {
        let input = data(700 * 1024);
        let mut store = MemoryStore::default();
        let manifest = put(&input[..], &options(vec![], 2), &mut store).unwrap();
        let segments = manifest.segment_count();
        // Piece 1's shard of segment 0 is damaged: one more is asked for.
        store
            .shards_mut()
            .get_mut(&ShardId {
                segment: 0,
                index: 1,
            })
            .unwrap()[0] ^= 1;
        let source = Recording::new(&store);
        get(&manifest, None, &source, &mut Vec::new(), 2).unwrap();
        let mut batches = source.batches.into_inner().unwrap();
        batches.sort();
        let mut expected = vec![(0, vec![0, 1, 2]), (0, vec![3])];
        expected.extend((1..segments).map(|segment| (segment, vec![0, 1, 2])));
        assert_eq!(batches, expected);

        // The source's order is followed, made a permutation: out of range
        // and repeated pieces dropped, missing ones appended.
        let mut source = Recording::new(&store);
        source.preference = Some(vec![4, 9, 4, 1]);
        let mut out = Vec::new();
        get(&manifest, None, &source, &mut out, 2).unwrap();
        assert_eq!(out, input);
        let mut batches = source.batches.into_inner().unwrap();
        batches.sort();
        let mut expected = vec![(0, vec![2]), (0, vec![4, 1, 0])];
        expected.extend((1..segments).map(|segment| (segment, vec![4, 1, 0])));
        assert_eq!(batches, expected);
    }

    #[test]
    fn a_lying_shard_root_list_makes_its_piece_unavailable() {
        let input = data(700 * 1024);
        let mut store = MemoryStore::default();
        let manifest = put(&input[..], &options(vec![], 2), &mut store).unwrap();
        let segments = manifest.segment_count();

        // Piece 0 is replaced by other bytes with a list that matches them
        // (but not the piece root); piece 3's list is one root too long.
        let mut forged = Vec::new();
        for segment in 0..segments {
            let id = ShardId { segment, index: 0 };
            let shard = store.shards_mut().get_mut(&id).unwrap();
            shard.iter_mut().for_each(|b| *b = !*b);
            forged.push(merkle::root(shard).unwrap());
        }
        store.shard_roots_mut().insert(0, forged);
        let long = store.shard_roots_mut().get_mut(&3).unwrap();
        long.push(long[0]);

        let source = Recording::new(&store);
        let mut out = Vec::new();
        get(&manifest, None, &source, &mut out, 2).unwrap();
        assert_eq!(out, input);
        // Every list was asked for; no shard of a piece with a bad list was.
        assert_eq!(
            *source.lists.lock().unwrap(),
            BTreeSet::from([0, 1, 2, 3, 4])
        );
        assert_eq!(source.pieces_read(), BTreeSet::from([1, 2, 4]));

        // A list with one wrong root costs its piece too, and then fewer than
        // k pieces remain.
        store.shard_roots_mut().get_mut(&4).unwrap()[1].0[0] ^= 1;
        assert_too_few_in_segment_0(get(&manifest, None, &store, &mut Vec::new(), 2));
        // So does a missing one.
        store.shard_roots_mut().get_mut(&4).unwrap()[1].0[0] ^= 1;
        get(&manifest, None, &store, &mut Vec::new(), 2).unwrap();
        store.shard_roots_mut().remove(&4);
        assert_too_few_in_segment_0(get(&manifest, None, &store, &mut Vec::new(), 2));
    }

    #[test]
    fn a_public_manifest_with_a_foreign_cid_is_caught() {
        let input = data(300 * 1024);
        let mut store = MemoryStore::default();
        let mut manifest = put(&input[..], &options(vec![], 2), &mut store).unwrap();
        manifest.cid = crate::unixfs::file_cid(b"something else");
        let err = get(&manifest, None, &store, Vec::new(), 2).unwrap_err();
        assert!(matches!(err, GetError::CidMismatch), "{err:?}");
    }

    #[test]
    fn encrypted_objects_are_named_by_their_piece_roots() {
        let owner = SecretKey::from_seed(&[1; 32]);
        let manifest = put(
            &data(5000)[..],
            &options(vec![owner.public()], 1),
            &mut MemoryStore::default(),
        )
        .unwrap();
        assert_eq!(manifest.cid, roots_cid(&manifest.piece_roots));
    }

    #[test]
    fn a_given_file_key_stores_the_same_input_identically() {
        let owner = SecretKey::from_seed(&[1; 32]);
        let input = data(700 * 1024);
        let options = PutOptions {
            key: Some(FileKey::generate().unwrap()),
            ..options(vec![owner.public()], 2)
        };
        let dry_run = put(&input[..], &options, &mut crate::memory::DiscardShards).unwrap();
        let mut store = MemoryStore::default();
        let manifest = put(&input[..], &options, &mut store).unwrap();
        assert_eq!(manifest.cid, dry_run.cid);
        assert_eq!(manifest.piece_roots, dry_run.piece_roots);
        // The first run's wrapped key opens the second run's shards.
        let mut out = Vec::new();
        get(&dry_run, Some(&owner), &store, &mut out, 2).unwrap();
        assert_eq!(out, input);

        // Without the key, a fresh one is drawn.
        let fresh = put(
            &input[..],
            &PutOptions {
                key: None,
                ..options.clone()
            },
            &mut crate::memory::DiscardShards,
        )
        .unwrap();
        assert_ne!(fresh.cid, manifest.cid);
        // A public file takes no key.
        let public = PutOptions {
            recipients: vec![],
            ..options
        };
        assert!(matches!(
            put(&input[..], &public, &mut crate::memory::DiscardShards),
            Err(PutError::KeyWithoutRecipients)
        ));
    }

    #[test]
    fn encrypted_objects_need_the_right_key() {
        let owner = SecretKey::from_seed(&[1; 32]);
        let other = SecretKey::from_seed(&[2; 32]);
        let mut store = MemoryStore::default();
        let manifest = put(
            &data(1000)[..],
            &options(vec![owner.public()], 1),
            &mut store,
        )
        .unwrap();
        assert!(matches!(
            get(&manifest, None, &store, Vec::new(), 1),
            Err(GetError::KeyRequired)
        ));
        assert!(matches!(
            get(&manifest, Some(&other), &store, Vec::new(), 1),
            Err(GetError::Decrypt(DecryptError::WrongKey))
        ));
    }

    #[test]
    fn swapped_segments_fail_authentication() {
        let owner = SecretKey::from_seed(&[1; 32]);
        let mut store = MemoryStore::default();
        let input = data(3 * 256 * 1024);
        let mut manifest = put(&input[..], &options(vec![owner.public()], 2), &mut store).unwrap();
        // Swap segments 0 and 1 consistently (shards, shard-root lists and
        // piece roots), as a malicious store with a forged manifest would.
        for index in 0..5 {
            let shards = store.shards_mut();
            let a = shards.remove(&ShardId { segment: 0, index }).unwrap();
            let b = shards.remove(&ShardId { segment: 1, index }).unwrap();
            shards.insert(ShardId { segment: 0, index }, b);
            shards.insert(ShardId { segment: 1, index }, a);
            let roots = store.shard_roots_mut().get_mut(&index).unwrap();
            roots.swap(0, 1);
            manifest.piece_roots[usize::from(index)] = piece::piece_root(roots);
        }
        manifest.cid = roots_cid(&manifest.piece_roots);
        manifest.validate().unwrap();
        let err = get(&manifest, Some(&owner), &store, Vec::new(), 2).unwrap_err();
        assert!(
            matches!(err, GetError::Decrypt(DecryptError::Frame(0))),
            "{err:?}"
        );
    }
}
