//! Storing a file on the network.
//!
//! 1. A dry run of the put pipeline learns the CID and the piece roots
//!    (nothing is kept; the file key is drawn here and used again below).
//! 2. The quote, refused above the caller's highest price.
//! 3. `market.store`, signed by the owner; the block that includes it
//!    places the pieces, so the providers are read from the order there.
//! 4. The pipeline runs again with the same key and hands each segment's
//!    shards to one upload task per piece over bounded channels (a few
//!    segments in flight): memory stays at about `IN_FLIGHT × (k + m)`
//!    shards whatever the file's size. Each task offers its piece (the
//!    shard-root list), then sends the segments the worker still lacks,
//!    trying a failed request again; a provider that stalls (takes a shard
//!    and does not answer in [`stall_timeout`]) is given up on, so the
//!    other pieces go on.
//! 5. Waits until every provider confirmed and the order is live. A piece
//!    whose upload failed, or whose provider took it and never confirmed,
//!    is moved by the chain to another provider at the confirm deadline
//!    (the owner's bond share for it is lost, as is the provider's): the
//!    pipeline then runs again for the moved pieces alone and uploads them
//!    to their new providers, round after round until the order is live or
//!    the chain cancels it (`ConfirmRounds`). When more uploads of a round
//!    fail than the parity could stand, the fault is most likely this
//!    machine's network, and when no provider outside the order could take
//!    the pieces, nothing would move: in both cases the put stops at once
//!    and names the pieces and providers still pending, rather than waiting
//!    for a deadline that can only cost a bond.

use std::convert::Infallible;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Duration;

use mosaic_api::chain::{Access, ChainClient, ChainError, Order, OrderId, OrderState};
use mosaic_api::keys::AccountKey;
use mosaic_primitives::encryption::{CipherSuite, FileKey, RandomError};
use mosaic_primitives::erasure::CodingParams;
use mosaic_primitives::manifest::{Manifest, ShardId};
use mosaic_primitives::merkle::ShardRoot;
use mosaic_primitives::pipeline::{self, PutOptions, ShardSink};
use mosaic_runtime::{Balance, BlockNumber, Hash, RuntimeCall, RuntimeEvent};
use mosaic_shard_net::{Answer, NetConfig, NetError, Request, ShardClient};
use tokio::sync::mpsc;

use crate::get::{is_live, newest_order};
use crate::pack_input::{InputError, PublicInput};
use crate::progress::Progress;
use crate::providers::{endpoints, Endpoint, ReachError};
use crate::tree::ScanOptions;

/// Segments queued per piece between the pipeline and its upload.
const IN_FLIGHT: usize = 4;
/// Tries per request.
const ATTEMPTS: u32 = 4;
/// The slowest a provider may take a shard (after [`STALL_GRACE`]) before it
/// counts as stalled and its piece is reported pending.
const STALL_RATE: u64 = 64 * 1024;
/// Time a provider has for any shard, on top of its size at [`STALL_RATE`].
const STALL_GRACE: Duration = Duration::from_secs(20);

/// How long a provider may take to store a shard of `shard_size` bytes.
fn stall_timeout(shard_size: u64) -> Duration {
    STALL_GRACE + Duration::from_secs(shard_size / STALL_RATE)
}
/// The longest a round waits for the order to go live or for its
/// unconfirmed pieces to move: past the longest confirm window (production:
/// 10 minutes).
const LIVE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Blocks past an order's confirm deadline that its pieces may take to move
/// (the block hook handles deadlines within a weight budget, so a crowded
/// block may leave some for the next).
const DEADLINE_GRACE: BlockNumber = 20;

/// What to store and how.
pub struct PutRequest {
    /// The file, or (public only) the directory.
    pub file: PathBuf,
    /// Include names starting with `.` when storing a directory.
    pub hidden: bool,
    /// Store a public CID again though a live order already stores it.
    pub force: bool,
    /// The owner: signs and pays, and (unless public) reads.
    pub owner: AccountKey,
    /// The cipher suite to encrypt the file's frames with, for the owner to
    /// read; `None` stores it unencrypted, under the file's IPFS CID.
    pub encryption: Option<CipherSuite>,
    /// Coding parameters.
    pub coding: CodingParams,
    /// Periods paid for.
    pub periods: u32,
    /// Highest price per byte per block accepted.
    pub max_price: Balance,
    /// Draw progress bars.
    pub progress: bool,
}

/// A stored file.
#[derive(Clone, Debug)]
pub struct PutReport {
    /// The order.
    pub order: OrderId,
    /// The object's CID.
    pub cid: String,
    /// The file's size.
    pub size: u64,
    /// Bytes stored (the ciphertext for an encrypted file).
    pub stored_size: u64,
    /// The cipher suite of its frames, `None` for a public file.
    pub suite: Option<CipherSuite>,
    /// Who holds each piece.
    pub providers: Vec<Endpoint>,
    /// Escrow paid.
    pub escrow: Balance,
    /// The block that placed the order.
    pub block: Hash,
}

/// A piece that did not reach its provider.
#[derive(Debug)]
pub struct PendingPiece {
    /// The piece.
    pub piece: u8,
    /// Its provider.
    pub provider: Endpoint,
    /// Why, if its upload failed; `None` if delivered but not confirmed.
    pub failure: Option<ReachError>,
}

/// Why a put failed.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Encoding failed.
    #[error("encoding the input failed")]
    Encode(#[from] pipeline::PutError<Infallible>),
    /// The public file or directory could not be read into its DAG.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A live order already stores this public CID.
    #[error("{cid} is already stored by live order {order}; `mosaic extend {order}` keeps it longer, or --force stores a second copy")]
    AlreadyStored {
        /// The CID.
        cid: String,
        /// The order that stores it.
        order: OrderId,
    },
    /// No randomness for the file key.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The chain refused or the node failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The shard network did not start.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The including block holds no `Stored` event: not a Mosaic chain of
    /// this version.
    #[error("the chain accepted the order but reported no order id")]
    NoOrderId,
    /// Some pieces did not reach their providers or were not confirmed.
    #[error("order {order}: {} of its pieces are not stored:{}\n{advice}", pending.len(), list(pending))]
    Pending {
        /// The order.
        order: OrderId,
        /// The pieces still pending.
        pending: Vec<PendingPiece>,
        /// What the user can do.
        advice: String,
    },
}

fn list(pending: &[PendingPiece]) -> String {
    pending
        .iter()
        .map(|p| match &p.failure {
            Some(why) => format!("\n  piece {} at {}: {why}", p.piece, p.provider),
            None => format!(
                "\n  piece {} at {}: delivered, not confirmed",
                p.piece, p.provider
            ),
        })
        .collect()
}

/// Keeps each piece's shard-root list, discards the shards.
#[derive(Default)]
struct RootsOnly(Vec<Vec<ShardRoot>>);

impl ShardSink for RootsOnly {
    type Error = Infallible;
    fn put_shard(&mut self, _: ShardId, _: &[u8]) -> Result<(), Infallible> {
        Ok(())
    }
    fn put_shard_roots(&mut self, piece: u8, roots: &[ShardRoot]) -> Result<(), Infallible> {
        let piece = usize::from(piece);
        if self.0.len() <= piece {
            self.0.resize(piece + 1, Vec::new());
        }
        self.0[piece] = roots.to_vec();
        Ok(())
    }
}

/// Hands each shard to its piece's upload; a piece whose upload ended is
/// skipped.
struct UploadSink(Vec<Option<SegmentSender>>);

/// A segment's number and its shard of one piece.
type SegmentSender = mpsc::Sender<(u32, Vec<u8>)>;

impl ShardSink for UploadSink {
    type Error = Infallible;
    fn put_shard(&mut self, id: ShardId, shard: &[u8]) -> Result<(), Infallible> {
        let slot = &mut self.0[usize::from(id.index)];
        if let Some(sender) = slot {
            if sender.blocking_send((id.segment, shard.to_vec())).is_err() {
                *slot = None;
            }
        }
        Ok(())
    }
    fn put_shard_roots(&mut self, _: u8, _: &[ShardRoot]) -> Result<(), Infallible> {
        Ok(())
    }
}

/// What put reads: a file to encrypt, or a public file or directory.
#[derive(Clone)]
enum Input {
    Encrypted(PathBuf),
    Public(PublicInput),
}

/// Runs the put pipeline over the input on a blocking thread.
async fn encode<S: ShardSink<Error = Infallible> + Send + 'static>(
    input: Input,
    options: PutOptions,
    mut sink: S,
) -> Result<(Manifest, S), PutError> {
    tokio::task::spawn_blocking(move || {
        let manifest = match input {
            Input::Encrypted(path) => {
                let file = File::open(&path).map_err(|source| PutError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                pipeline::put(BufReader::new(file), &options, &mut sink)?
            }
            Input::Public(public) => pipeline::put(public.reader(), &options, &mut sink)?,
        };
        Ok((manifest, sink))
    })
    .await
    .expect("the encoder does not panic; qed")
}

/// Stores `request.file` and waits until its order is live.
pub async fn put(chain: &ChainClient, request: PutRequest) -> Result<PutReport, PutError> {
    let input = match request.encryption {
        None => {
            let options = ScanOptions {
                hidden: request.hidden,
            };
            let file = request.file.clone();
            let public = tokio::task::spawn_blocking(move || PublicInput::prepare(&file, &options))
                .await
                .expect("the scan does not panic; qed")?;
            let live = newest_order(chain, &public.cid, is_live).await?;
            if let (Some((order, _)), false) = (live, request.force) {
                return Err(PutError::AlreadyStored {
                    cid: public.cid.to_string(),
                    order,
                });
            }
            Input::Public(public)
        }
        Some(_) => Input::Encrypted(request.file.clone()),
    };
    let options = match request.encryption {
        None => PutOptions {
            pack: match &input {
                Input::Public(public) => public.pack,
                Input::Encrypted(_) => None,
            },
            ..PutOptions::public()
        },
        Some(suite) => PutOptions {
            suite,
            key: Some(FileKey::generate()?),
            ..PutOptions::encrypted_to(request.owner.encryption_public())
        },
    };
    let options = PutOptions {
        coding: request.coding,
        ..options
    };
    let (manifest, RootsOnly(shard_roots)) =
        encode(input.clone(), options.clone(), RootsOnly::default()).await?;
    let stored_size = manifest.stored_size();
    let recipients = manifest
        .encryption
        .as_ref()
        .map_or(0, |e| e.recipients.len()) as u32;
    chain
        .quote(
            stored_size,
            request.coding,
            recipients,
            request.periods,
            request.max_price,
        )
        .await?;

    let access = match &manifest.encryption {
        None => Access::Public {
            dag_index: manifest.dag_index,
        },
        Some(encryption) => Access::Encrypted {
            suite: encryption.suite,
            keys: encryption
                .recipients
                .clone()
                .try_into()
                .expect("a manifest has at most 16 readers, as the chain; qed"),
        },
    };
    let call = RuntimeCall::Market(pallet_mosaic_market::Call::store {
        cid: manifest
            .cid
            .to_bytes()
            .try_into()
            .expect("object CIDs are 36 bytes, under the chain's bound; qed"),
        size: stored_size,
        coding: request.coding,
        roots: manifest
            .piece_roots
            .clone()
            .try_into()
            .expect("a manifest has at most 128 pieces, as the chain; qed"),
        access,
        periods: request.periods,
        max_price: request.max_price,
    });
    let included = chain.sign_and_submit(&request.owner.pair(), call).await?;
    let (order, escrow) = included
        .events
        .iter()
        .find_map(|event| match event {
            RuntimeEvent::Market(pallet_mosaic_market::Event::Stored { order, escrow, .. }) => {
                Some((*order, *escrow))
            }
            _ => None,
        })
        .ok_or(PutError::NoOrderId)?;
    let record = chain
        .order(order, Some(included.block))
        .await?
        .ok_or(PutError::NoOrderId)?;
    let mut providers = endpoints(
        chain,
        record.pieces.iter().map(|p| p.provider.clone()),
        Some(included.block),
    )
    .await?;

    let net = mosaic_shard_net::net::spawn(
        mosaic_shard_net::Keypair::generate_ed25519(),
        NetConfig {
            request_timeout: stall_timeout(
                request
                    .coding
                    .shard_size(request.coding.segment_size as usize) as u64,
            ),
            ..NetConfig::default()
        },
        None,
    )
    .await?;
    let parity = usize::from(request.coding.parity_shards);
    let mut todo: Vec<u8> = (0..providers.len() as u8).collect();
    let mut record = record;
    loop {
        let failed = upload_round(
            &net,
            &request,
            &input,
            &options,
            order,
            record.piece_size,
            &providers,
            &shard_roots,
            &todo,
        )
        .await?;
        // More failures than the parity could stand point at this
        // machine's network, not at the providers: stop rather than let
        // every round's deadline cost the owner a bond. So does a network
        // with no provider the chain could move the pieces to.
        let stop = failed.len() > parity
            || (!failed.is_empty() && !can_move(chain, &record, &failed).await?);
        if stop {
            return Err(PutError::Pending {
                order,
                pending: failed,
                advice: format!(
                    "the order lapses at block {} unless they are stored by then; `mosaic rm {order}` gives the escrow back now, and a new `mosaic put` may be placed on other providers",
                    record.due
                ),
            });
        }
        match next_round(chain, order, &providers, failed, record.due).await? {
            None => break,
            Some((moved, newer)) => {
                providers =
                    endpoints(chain, newer.pieces.iter().map(|p| p.provider.clone()), None).await?;
                todo = moved;
                record = newer;
            }
        }
    }
    Ok(PutReport {
        order,
        cid: manifest.cid.to_string(),
        size: match &input {
            Input::Public(public) => public.data_size,
            Input::Encrypted(_) => manifest.size,
        },
        stored_size,
        suite: manifest.encryption.as_ref().map(|e| e.suite),
        providers,
        escrow,
        block: included.block,
    })
}

/// Encodes the file again and uploads the pieces `todo` to their
/// providers; returns the pieces whose upload failed.
#[allow(clippy::too_many_arguments)]
async fn upload_round(
    net: &ShardClient,
    request: &PutRequest,
    input: &Input,
    options: &PutOptions,
    order: OrderId,
    piece_size: u64,
    providers: &[Endpoint],
    shard_roots: &[Vec<ShardRoot>],
    todo: &[u8],
) -> Result<Vec<PendingPiece>, PutError> {
    let progress = Progress::bytes(piece_size * todo.len() as u64, "put", request.progress);
    let mut senders: Vec<Option<SegmentSender>> = vec![None; providers.len()];
    let mut uploads = Vec::new();
    for &piece in todo {
        let index = usize::from(piece);
        let (sender, receiver) = mpsc::channel(IN_FLIGHT);
        senders[index] = Some(sender);
        let task = tokio::spawn(upload(
            net.clone(),
            providers[index].clone(),
            order,
            piece,
            shard_roots[index].clone(),
            receiver,
            progress.clone(),
        ));
        uploads.push((piece, task));
    }
    encode(input.clone(), options.clone(), UploadSink(senders)).await?;
    let mut failed = Vec::new();
    for (piece, task) in uploads {
        if let Err(failure) = task.await.expect("uploads do not panic; qed") {
            failed.push(PendingPiece {
                piece,
                provider: providers[usize::from(piece)].clone(),
                failure: Some(failure),
            });
        }
    }
    progress.finish();
    Ok(failed)
}

/// Streams one piece to its provider: offer, then the segments it lacks./// Streams one piece to its provider: offer, then the segments it lacks.
async fn upload(
    net: ShardClient,
    provider: Endpoint,
    order: OrderId,
    piece: u8,
    shard_roots: Vec<ShardRoot>,
    mut segments: mpsc::Receiver<(u32, Vec<u8>)>,
    progress: Progress,
) -> Result<(), ReachError> {
    let offer = Request::Offer {
        order,
        piece,
        shard_roots,
    };
    let mut next = match provider.request(&net, offer.clone(), ATTEMPTS).await? {
        Answer::Accepted { next } => next,
        _ => return Err(unexpected()),
    };
    while let Some((segment, shard)) = segments.recv().await {
        let len = shard.len() as u64;
        if segment < next {
            progress.add(len);
            continue;
        }
        let put = Request::PutShard {
            order,
            piece,
            segment,
            shard,
        };
        next = match provider.request(&net, put.clone(), ATTEMPTS).await {
            Ok(Answer::Stored { next }) => next,
            // The worker restarted and forgot the upload: offer again and
            // resume from what it kept.
            Err(ReachError::Request(mosaic_shard_net::RequestError::Refused(
                mosaic_shard_net::Refusal::NotFound,
            ))) => match provider.request(&net, offer.clone(), ATTEMPTS).await? {
                Answer::Accepted { next } if next > segment => next,
                Answer::Accepted { next } if next == segment => {
                    match provider.request(&net, put, ATTEMPTS).await? {
                        Answer::Stored { next } => next,
                        _ => return Err(unexpected()),
                    }
                }
                _ => return Err(unexpected()),
            },
            Ok(_) => return Err(unexpected()),
            Err(e) => return Err(e),
        };
        progress.add(len);
    }
    Ok(())
}

fn unexpected() -> ReachError {
    ReachError::Request(mosaic_shard_net::RequestError::Refused(
        mosaic_shard_net::Refusal::Malformed,
    ))
}

/// Whether some active provider could take the `failed` pieces of `record`
/// at their deadline: one with room for a piece, at or below the piece's
/// price, that holds no other piece of the order and is not its owner.
async fn can_move(
    chain: &ChainClient,
    record: &Order,
    failed: &[PendingPiece],
) -> Result<bool, ChainError> {
    let price = failed
        .iter()
        .filter_map(|p| record.pieces.get(usize::from(p.piece)))
        .map(|p| p.price)
        .min()
        .unwrap_or_default();
    Ok(chain.providers().await?.iter().any(|(who, provider)| {
        matches!(
            provider.status,
            pallet_mosaic_providers::ProviderStatus::Active
        ) && *who != record.owner
            && !record.pieces.iter().any(|p| p.provider == *who)
            && provider.capacity.saturating_sub(provider.used) >= record.piece_size
            && provider.price <= price
    }))
}

/// Waits until the order is live (`None`), or until the chain moved some
/// pieces to other providers at a confirm deadline: `Some` of those pieces
/// and the order as it then is, to upload them again. `failed` are the
/// pieces whose upload failed: the chain moves them at the deadline handled
/// at block `due`, which is waited for (the owner's bond share for each is
/// lost, as it is for a provider that took a piece and never confirmed).
async fn next_round(
    chain: &ChainClient,
    order: OrderId,
    providers: &[Endpoint],
    failed: Vec<PendingPiece>,
    due: BlockNumber,
) -> Result<Option<(Vec<u8>, Order)>, PutError> {
    for pending in &failed {
        eprintln!(
            "piece {} at {}: {}; waiting for its confirm deadline (block {due}) to move it to another provider and upload it there (`mosaic rm {order}` cancels instead)",
            pending.piece,
            pending.provider,
            pending.failure.as_ref().map_or(String::new(), |e| e.to_string()),
        );
    }
    let mut heads = chain.new_heads().await?;
    let wait = async {
        loop {
            let Some(record) = chain.order(order, None).await? else {
                return Ok(Err("the order ended before it went live".to_string()));
            };
            if matches!(record.state, OrderState::Live { .. }) {
                return Ok(Ok(None));
            }
            let moved: Vec<u8> = record
                .pieces
                .iter()
                .zip(providers)
                .enumerate()
                .filter(|(_, (piece, endpoint))| piece.provider != endpoint.account)
                .map(|(number, _)| number as u8)
                .collect();
            if !moved.is_empty() {
                return Ok(Ok(Some((moved, record))));
            }
            let Some(head) = heads.next().await else {
                return Err(PutError::Chain(ChainError::Decode("head subscription")));
            };
            let head = head.map_err(|_| PutError::Chain(ChainError::Decode("block header")))?;
            if head.number > due.saturating_add(DEADLINE_GRACE) {
                return Ok(Err(format!(
                    "its confirm deadline (block {due}) passed and nothing moved"
                )));
            }
        }
    };
    let why = match tokio::time::timeout(LIVE_TIMEOUT, wait).await {
        Ok(result) => match result? {
            Ok(next) => return Ok(next),
            Err(why) => why,
        },
        Err(_) => format!("not live within {LIVE_TIMEOUT:?}"),
    };
    let record = chain.order(order, None).await?;
    let mut pending = failed;
    for (piece, provider) in providers.iter().enumerate() {
        let unconfirmed = record
            .as_ref()
            .and_then(|r| r.pieces.get(piece))
            .is_none_or(|p| !p.confirmed);
        if unconfirmed && !pending.iter().any(|p| usize::from(p.piece) == piece) {
            pending.push(PendingPiece {
                piece: piece as u8,
                provider: provider.clone(),
                failure: None,
            });
        }
    }
    Err(PutError::Pending {
        order,
        pending,
        advice: format!("{why}; `mosaic status {order}` shows where it stands"),
    })
}
