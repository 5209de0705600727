//! Getting a file back from the network with nothing but the owner's key.
//!
//! The order on chain says everything beyond the pieces: coding, size, the
//! piece roots, and (for an encrypted file) the wrapped file keys. The get
//! pipeline asks the providers for the shards it still needs of a segment
//! at once, in parallel (data pieces first), keeps each one whose Merkle
//! root is in its piece's shard-root list (itself checked against the
//! on-chain piece root), stops at `k` per segment, decodes, decrypts and
//! writes. The output goes to a temporary file beside the
//! target, renamed into place only once the whole file is verified.
//!
//! A provider that fails (unreachable, refuses, or serves bytes that do not
//! verify) is not asked again during this get, and is named if too few
//! shards of a segment were left. One that answers but much slower than the
//! fastest is asked after the others.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mosaic_api::chain::{Access, ChainClient, ChainError, Order, OrderId, OrderState};
use mosaic_primitives::encryption::{plaintext_len, Encryption, SecretKey};
use mosaic_primitives::manifest::{parse_object_cid, Manifest, ShardId};
use mosaic_primitives::merkle::{self, ShardRoot};
use mosaic_primitives::pack::{Pack, PackError};
use mosaic_primitives::pipeline::{self, default_threads, GetError as PipelineError, ShardSource};
use mosaic_shard_net::{Answer, NetConfig, NetError, Request, ShardClient};

use crate::pack_output::{ExtractError, Extraction, RunWriter};
use crate::progress::Progress;
use crate::providers::{endpoints, Endpoint};

/// Tries per request.
const ATTEMPTS: u32 = 2;
/// How long one shard may take.
const SHARD_TIMEOUT: Duration = Duration::from_secs(30);

/// What to get.
#[derive(Clone, Debug)]
pub enum Target {
    /// An order by id.
    Order(OrderId),
    /// A CID, found through the chain's CID index, and a path inside it
    /// (empty for the whole object).
    Cid {
        /// The CID's text.
        cid: String,
        /// `a/b/c` below a stored directory.
        path: String,
    },
}

impl Target {
    /// The path below the object, empty for the whole of it.
    pub fn path(&self) -> &str {
        match self {
            Target::Order(_) => "",
            Target::Cid { path, .. } => path,
        }
    }
}

impl std::str::FromStr for Target {
    type Err = std::convert::Infallible;
    /// An order id, or `CID[/path]` (also as `/ipfs/CID[/path]`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(id) = text.parse() {
            return Ok(Target::Order(id));
        }
        let text = text.strip_prefix("/ipfs/").unwrap_or(text);
        let (cid, path) = text.split_once('/').unwrap_or((text, ""));
        Ok(Target::Cid {
            cid: cid.into(),
            path: path.trim_matches('/').into(),
        })
    }
}

/// A file got back.
#[derive(Clone, Debug)]
pub struct GetReport {
    /// The order read.
    pub order: OrderId,
    /// The object's CID.
    pub cid: String,
    /// Bytes written.
    pub size: u64,
    /// Providers that failed, and how.
    pub failed: Vec<(Endpoint, String)>,
}

/// Why a get failed.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// The chain has no such order.
    #[error("order {0} does not exist (it may have ended); `mosaic ls` lists yours")]
    NoOrder(OrderId),
    /// No live order stores the CID.
    #[error("no order on chain stores {0}")]
    NoOrderForCid(String),
    /// The text is neither an order id nor a Mosaic CID.
    #[error("`{0}` is neither an order id nor the CID of a stored object")]
    BadCid(String),
    /// The order's record is inconsistent.
    #[error("order {0} on chain does not describe a readable object")]
    BadOrder(OrderId),
    /// A path was given below a single file.
    #[error("{0} is a single file, not a directory: get it without a path")]
    NotADirectory(String),
    /// The object's DAG could not be read, or has no such path.
    #[error(transparent)]
    Pack(#[from] Box<PackError>),
    /// The entry cannot be written out.
    #[error(transparent)]
    Extract(#[from] ExtractError),
    /// The file is encrypted and no key was given.
    #[error("order {0} is encrypted; give the owner's (or a reader's) key with --key or --suri")]
    KeyRequired(OrderId),
    /// The node failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The shard network did not start.
    #[error(transparent)]
    Net(#[from] NetError),
    /// Too few shards, a wrong key, or the output failed.
    #[error("{source}{}", failures(failed))]
    Pipeline {
        /// The cause.
        #[source]
        source: PipelineError,
        /// The providers that failed, and how.
        failed: Vec<(Endpoint, String)>,
    },
    /// The output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

fn failures(failed: &[(Endpoint, String)]) -> String {
    failed
        .iter()
        .map(|(provider, why)| format!("\n  provider {provider}: {why}"))
        .collect()
}

/// Finds the order `target` names.
pub async fn resolve(chain: &ChainClient, target: &Target) -> Result<(OrderId, Order), GetError> {
    match target {
        Target::Order(id) => Ok((
            *id,
            chain
                .order(*id, None)
                .await?
                .ok_or(GetError::NoOrder(*id))?,
        )),
        Target::Cid { cid: text, .. } => {
            let cid = text
                .parse::<cid::Cid>()
                .ok()
                .filter(|cid| parse_object_cid(&cid.to_bytes()).is_some())
                .ok_or_else(|| GetError::BadCid(text.clone()))?;
            // A live order, else the newest (its state then says why the
            // object cannot be had).
            let found = match newest_order(chain, &cid, is_live).await? {
                Some(found) => Some(found),
                None => newest_order(chain, &cid, |_| true).await?,
            };
            found.ok_or_else(|| GetError::NoOrderForCid(text.clone()))
        }
    }
}

/// Whether `order` is live.
pub fn is_live(order: &Order) -> bool {
    matches!(order.state, OrderState::Live { .. })
}

/// The newest order storing `cid` that `wanted` accepts (through the
/// chain's CID index).
pub async fn newest_order(
    chain: &ChainClient,
    cid: &cid::Cid,
    wanted: impl Fn(&Order) -> bool,
) -> Result<Option<(OrderId, Order)>, ChainError> {
    for id in chain
        .orders_by_cid(&cid.to_bytes())
        .await?
        .into_iter()
        .rev()
    {
        if let Some(order) = chain.order(id, None).await?.filter(&wanted) {
            return Ok(Some((id, order)));
        }
    }
    Ok(None)
}

/// The manifest an order describes.
pub fn manifest_of(id: OrderId, order: &Order) -> Result<Manifest, GetError> {
    let bad = || GetError::BadOrder(id);
    let (size, encryption, dag_index) = match &order.access {
        Access::Public { dag_index } => (order.size, None, *dag_index),
        Access::Encrypted { suite, keys } => (
            plaintext_len(order.size).map_err(|_| bad())?,
            Some(Encryption {
                suite: *suite,
                recipients: keys.to_vec(),
            }),
            0,
        ),
    };
    let manifest = Manifest {
        cid: parse_object_cid(&order.cid).ok_or_else(bad)?,
        size,
        coding: order.coding,
        encryption,
        dag_index,
        piece_roots: order.pieces.iter().map(|p| p.root).collect(),
    };
    manifest.validate().map_err(|_| bad())?;
    Ok(manifest)
}

/// Fetches shards of an order's pieces from their providers, each checked
/// against its piece's shard-root list (itself checked against the piece
/// root on chain): the get pipeline's source, and a repairing worker's.
/// Its [`ShardSource`] methods block: call them off the async runtime.
pub struct PieceSource {
    runtime: tokio::runtime::Handle,
    net: ShardClient,
    providers: Vec<Endpoint>,
    roots: Vec<mosaic_primitives::piece::PieceRoot>,
    /// Each piece's shard-root list once fetched.
    lists: Vec<Mutex<Option<Vec<ShardRoot>>>>,
    /// Why each provider failed, once it did.
    failed: Vec<Mutex<Option<String>>>,
    /// Each provider's answer time (a moving average), once it answered.
    latency: Vec<Mutex<Option<Duration>>>,
    progress: Progress,
}

impl PieceSource {
    /// A source over `providers`, piece by piece, whose roots are `roots`;
    /// `progress` counts the bytes fetched. Runs its requests on the
    /// current tokio runtime.
    pub fn new(
        net: ShardClient,
        providers: Vec<Endpoint>,
        roots: Vec<mosaic_primitives::piece::PieceRoot>,
        progress: Progress,
    ) -> Self {
        let pieces = providers.len();
        PieceSource {
            runtime: tokio::runtime::Handle::current(),
            net,
            providers,
            roots,
            lists: (0..pieces).map(|_| Mutex::new(None)).collect(),
            failed: (0..pieces).map(|_| Mutex::new(None)).collect(),
            latency: (0..pieces).map(|_| Mutex::new(None)).collect(),
            progress,
        }
    }

    /// Never asks piece `piece`'s provider, for `why`.
    pub fn exclude(&self, piece: u8, why: &str) {
        self.fail::<()>(usize::from(piece), why.to_string());
    }

    fn ask(&self, piece: usize, request: Request) -> Option<Answer> {
        self.runtime.block_on(self.ask_async(piece, request))
    }

    /// Asks piece `piece`'s provider, unless it failed before; a failure
    /// is recorded and the provider not asked again.
    async fn ask_async(&self, piece: usize, request: Request) -> Option<Answer> {
        if self.failed[piece].lock().ok()?.is_some() {
            return None;
        }
        let provider = &self.providers[piece];
        let asked = Instant::now();
        let answer = tokio::time::timeout(
            SHARD_TIMEOUT,
            provider.request(&self.net, request, ATTEMPTS),
        )
        .await;
        match answer {
            Ok(Ok(answer)) => {
                if let Ok(mut latency) = self.latency[piece].lock() {
                    let now = asked.elapsed();
                    *latency = Some(latency.map_or(now, |before| (before * 3 + now) / 4));
                }
                Some(answer)
            }
            Ok(Err(e)) => self.fail(piece, e.to_string()),
            Err(_) => self.fail(piece, format!("no answer within {SHARD_TIMEOUT:?}")),
        }
    }

    /// Fetches shard `id` and checks it against its piece's list.
    async fn fetch(&self, id: ShardId) -> Option<Vec<u8>> {
        let piece = usize::from(id.index);
        let expected = (*self.lists[piece].lock().ok()?)
            .as_ref()?
            .get(id.segment as usize)
            .copied()?;
        let request = Request::Shard {
            root: self.roots[piece],
            segment: id.segment,
        };
        match self.ask_async(piece, request).await? {
            Answer::Bytes(shard) if merkle::root(&shard).ok() == Some(expected) => {
                self.progress.add(shard.len() as u64);
                Some(shard)
            }
            Answer::Bytes(_) => self.fail(
                piece,
                format!(
                    "served segment {} with bytes that do not match its root",
                    id.segment
                ),
            ),
            _ => self.fail(piece, "answered out of protocol".into()),
        }
    }

    fn fail<T>(&self, piece: usize, why: String) -> Option<T> {
        if let Ok(mut slot) = self.failed[piece].lock() {
            slot.get_or_insert(why);
        }
        None
    }

    /// The providers that failed, and how.
    pub fn failures(&self) -> Vec<(Endpoint, String)> {
        self.failed
            .iter()
            .enumerate()
            .filter_map(|(piece, why)| {
                let why = why.lock().ok()?.clone()?;
                Some((
                    self.providers[piece].clone(),
                    format!("piece {piece}: {why}"),
                ))
            })
            .collect()
    }
}

impl ShardSource for PieceSource {
    fn shard(&self, id: ShardId) -> Option<Vec<u8>> {
        self.runtime.block_on(self.fetch(id))
    }

    /// Data pieces first (they decode by a copy), but providers much slower
    /// than the fastest last.
    fn preference(&self, pieces: u8) -> Vec<u8> {
        let latencies: Vec<Option<Duration>> = self
            .latency
            .iter()
            .map(|l| l.lock().ok().and_then(|l| *l))
            .collect();
        slow_last(&latencies[..usize::from(pieces).min(latencies.len())])
    }

    /// The shards of one segment, asked of their providers all at once.
    fn shards(&self, segment: u32, indices: &[u8]) -> Vec<Option<Vec<u8>>> {
        let fetches = indices
            .iter()
            .map(|&index| self.fetch(ShardId { segment, index }));
        self.runtime.block_on(futures::future::join_all(fetches))
    }

    fn shard_roots(&self, piece: u8) -> Option<Vec<ShardRoot>> {
        let piece = usize::from(piece);
        if let Some(list) = self.lists[piece].lock().ok()?.clone() {
            return Some(list);
        }
        let list = match self.ask(
            piece,
            Request::Roots {
                root: self.roots[piece],
            },
        )? {
            Answer::Roots(list)
                if mosaic_primitives::piece::piece_root(&list) == self.roots[piece] =>
            {
                list
            }
            Answer::Roots(_) => {
                return self.fail(
                    piece,
                    "served a shard-root list that does not match the piece root on chain".into(),
                )
            }
            _ => return self.fail(piece, "answered out of protocol".into()),
        };
        *self.lists[piece].lock().ok()? = Some(list.clone());
        Some(list)
    }
}

/// A provider this many times slower than the fastest is asked last.
const SLOW_FACTOR: u32 = 4;
/// ... unless it answers within this anyway.
const SLOW_FLOOR: Duration = Duration::from_millis(100);

/// The pieces in order, those whose provider is slow (answers in over
/// [`SLOW_FACTOR`] times the fastest's time and over [`SLOW_FLOOR`]) last;
/// a provider not heard from yet is not slow.
fn slow_last(latencies: &[Option<Duration>]) -> Vec<u8> {
    let fastest = latencies.iter().flatten().min().copied();
    let slow = |latency: Option<Duration>| match (latency, fastest) {
        (Some(latency), Some(fastest)) => latency > (fastest * SLOW_FACTOR).max(SLOW_FLOOR),
        _ => false,
    };
    let mut order: Vec<u8> = (0..latencies.len() as u8).collect();
    order.sort_by_key(|&piece| slow(latencies[usize::from(piece)]));
    order
}

/// Gets `target` into `output`, reading it with `secret` if encrypted: a
/// file, or (a directory stored public) the tree below it.
pub async fn get(
    chain: &ChainClient,
    target: &Target,
    secret: Option<SecretKey>,
    output: &Path,
    progress: bool,
) -> Result<GetReport, GetError> {
    let (id, order) = resolve(chain, target).await?;
    let manifest = manifest_of(id, &order)?;
    if manifest.encryption.is_some() && secret.is_none() {
        return Err(GetError::KeyRequired(id));
    }
    let path = target.path().to_string();
    if manifest.dag_index == 0 && !path.is_empty() {
        return Err(GetError::NotADirectory(manifest.cid.to_string()));
    }
    let providers = endpoints(chain, order.pieces.iter().map(|p| p.provider.clone()), None).await?;
    let net = mosaic_shard_net::net::spawn(
        mosaic_shard_net::Keypair::generate_ed25519(),
        NetConfig::default(),
        None,
    )
    .await?;
    let source = PieceSource::new(
        net,
        providers,
        manifest.piece_roots.clone(),
        Progress::bytes(manifest.stored_size(), "get", progress),
    );
    let partial = partial_path(output);
    let work = {
        let partial = partial.clone();
        let manifest = manifest.clone();
        tokio::task::spawn_blocking(move || {
            let result = match manifest.dag_index {
                0 => get_whole(&manifest, secret.as_ref(), &source, &partial),
                _ => get_from_pack(&manifest, &path, &source, &partial),
            };
            source.progress.finish();
            (result, source.failures())
        })
    };
    let (result, failed) = work.await.expect("the decoder does not panic; qed");
    let size = match result {
        Ok(size) => size,
        Err(e) => {
            remove(&partial);
            return Err(match e {
                GetError::Pipeline { source, .. } => GetError::Pipeline { source, failed },
                other => other,
            });
        }
    };
    std::fs::rename(&partial, output).map_err(|source| {
        remove(&partial);
        GetError::Write {
            path: output.display().to_string(),
            source,
        }
    })?;
    Ok(GetReport {
        order: id,
        cid: manifest.cid.to_string(),
        size,
        failed,
    })
}

/// Removes a partial output, file or directory.
fn remove(partial: &Path) {
    let _ = std::fs::remove_file(partial).or_else(|_| std::fs::remove_dir_all(partial));
}

fn pipeline_error(source: PipelineError) -> GetError {
    GetError::Pipeline {
        source,
        failed: Vec::new(),
    }
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> GetError + '_ {
    move |source| GetError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// The whole object (a single file, encrypted or public) into `partial`.
fn get_whole(
    manifest: &Manifest,
    secret: Option<&SecretKey>,
    source: &PieceSource,
    partial: &Path,
) -> Result<u64, GetError> {
    let file = File::create(partial).map_err(write_error(partial))?;
    let mut out = BufWriter::new(file);
    pipeline::get(manifest, secret, source, &mut out, default_threads())
        .and_then(|()| {
            use std::io::Write;
            out.flush()
                .and_then(|()| out.get_ref().sync_all())
                .map_err(PipelineError::Write)
        })
        .map_err(pipeline_error)?;
    Ok(manifest.size)
}

/// The entry at `path` of a pack into `partial`: its index first, then its
/// files in runs of adjacent bytes, each leaf checked against its CID.
fn get_from_pack(
    manifest: &Manifest,
    path: &str,
    source: &PieceSource,
    partial: &Path,
) -> Result<u64, GetError> {
    let threads = default_threads();
    let data_size = manifest.size - manifest.dag_index;
    let mut index = Vec::new();
    pipeline::read_range(
        manifest,
        source,
        data_size..manifest.size,
        &mut index,
        threads,
    )
    .map_err(pipeline_error)?;
    let pack = Pack::open(manifest.cid, &index, data_size).map_err(Box::new)?;
    let entry = pack.resolve(path).map_err(Box::new)?;
    let plan = Extraction::plan(&pack, &entry, partial)?;
    for dir in &plan.dirs {
        std::fs::create_dir(dir).map_err(write_error(dir))?;
    }
    for (range, files) in plan.runs() {
        let mut writer = RunWriter::new(&pack, files);
        pipeline::read_range(manifest, source, range, &mut writer, threads)
            .map_err(pipeline_error)?;
        writer.finish().map_err(write_error(partial))?;
    }
    for (link, target) in &plan.symlinks {
        use std::os::unix::ffi::OsStrExt;
        std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), link)
            .map_err(write_error(link))?;
    }
    Ok(plan
        .files
        .iter()
        .map(|(span, paths)| span.size * paths.len() as u64)
        .sum())
}

/// `dir/.name.part` beside `output`.
fn partial_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(".{name}.part"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_providers_go_last_and_data_pieces_stay_first() {
        let ms = |n| Some(Duration::from_millis(n));
        // Nothing heard yet, or all alike: the pieces in order.
        assert_eq!(slow_last(&[None; 6]), [0, 1, 2, 3, 4, 5]);
        assert_eq!(
            slow_last(&[ms(20), ms(30), ms(25), ms(21), None, None]),
            [0, 1, 2, 3, 4, 5]
        );
        // Piece 1 answers in 900 ms where the fastest takes 20: last.
        assert_eq!(
            slow_last(&[ms(20), ms(900), ms(25), ms(21), None, None]),
            [0, 2, 3, 4, 5, 1]
        );
        // Four times the fastest but under the floor is not slow.
        assert_eq!(
            slow_last(&[ms(10), ms(90), ms(10), ms(10), None, None]),
            [0, 1, 2, 3, 4, 5]
        );
    }
}
