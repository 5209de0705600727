//! Answering a parsed request: the name or CID to an object, the path to an
//! entry, the entry to a response (file bytes, raw block, CAR, index page
//! or listing), and every failure to the status the specs name with a
//! short plain-text reason.

use std::error::Error;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cid::Cid;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::channel::{Channel, Sender};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use mosaic_api::chain::{Access, Order, OrderId};
use mosaic_primitives::pack::{Entry, FileSpan, Leaf, Pack, PackError};
use mosaic_primitives::unixfs::{chunk_digest, RAW_CODEC};
use tokio::sync::{Notify, OwnedSemaphorePermit};

use super::car;
use super::content::{by_extension, content_type};
use super::dag::{self, Selection};
use super::listing;
use super::range::{parse_range, ByteRange};
use super::request::{Format, GatewayRequest, Namespace, Reject, Scope};
use super::State;
use crate::get::{is_live, newest_order};
use crate::public_blocks::{BlockError, OpenObject};

/// A response body: whole, or streamed through a bounded channel.
pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// `Cache-Control` of immutable content.
const IMMUTABLE: &str = "public, max-age=29030400, immutable";
/// `Cache-Control` of content reached through a name.
const MUTABLE: &str = "public, max-age=60";
/// The multihash code of identity CIDs (`bafkqaaa`, the probe CID).
const IDENTITY: u64 = 0x00;
/// Seconds a client is told to wait after a provider timeout.
const TIMEOUT_RETRY_SECS: u64 = 30;

/// A request that fails: its status and a short reason.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    reason: String,
    retry_after: Option<u64>,
    /// Headers that go with a failure (`Content-Range` of a 416).
    content_range: Option<String>,
}

impl Failure {
    fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Failure {
            status,
            reason: reason.into(),
            retry_after: None,
            content_range: None,
        }
    }

    fn not_found(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason)
    }

    fn bad_gateway(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, reason)
    }

    /// The gateway is at its request bound.
    pub(crate) fn busy(reason: &str, retry_after: u64) -> Self {
        Failure {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, reason)
        }
    }

    /// Nothing answered within `after`.
    pub(crate) fn timeout(after: Duration) -> Self {
        Failure {
            retry_after: Some(TIMEOUT_RETRY_SECS),
            ..Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                format!("the providers did not answer within {} s", after.as_secs()),
            )
        }
    }
}

impl From<Reject> for Failure {
    fn from(reject: Reject) -> Self {
        Failure::new(reject.status, reject.reason)
    }
}

impl From<BlockError> for Failure {
    fn from(error: BlockError) -> Self {
        // A failed open is shared by the requests that waited for it.
        let cause = match &error {
            BlockError::Open(cause) => cause.as_ref(),
            error => error,
        };
        let reason = match cause {
            BlockError::Chain(_) => format!("the chain node failed: {}", chain_of(&error)),
            _ => chain_of(&error),
        };
        Failure::bad_gateway(reason)
    }
}

/// An error and its sources, `: `-separated.
fn chain_of(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The response to a failure.
pub(crate) fn failure(failure: Failure) -> Response<Body> {
    let mut response = Response::builder()
        .status(failure.status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store");
    if let Some(seconds) = failure.retry_after {
        response = response.header(header::RETRY_AFTER, seconds);
    }
    if let Some(range) = failure.content_range {
        response = response.header(header::CONTENT_RANGE, range);
    }
    if failure.status == StatusCode::METHOD_NOT_ALLOWED {
        response = response.header(header::ALLOW, "GET, HEAD");
    }
    response
        .body(full(format!("{}\n", failure.reason)))
        .expect("static headers and numbers are valid; qed")
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// What was resolved: the entry at the path's end, the blocks walked to
/// it, and the CID each path segment names (`X-Ipfs-Roots`).
struct Target {
    entry: Entry,
    walked: Vec<Cid>,
    roots: Vec<Cid>,
}

/// Headers every content response carries.
struct Common<'a> {
    request: &'a GatewayRequest,
    roots: &'a [Cid],
    immutable: bool,
}

impl Common<'_> {
    fn builder(&self, status: StatusCode, etag: &str) -> http::response::Builder {
        let roots: Vec<String> = self.roots.iter().map(Cid::to_string).collect();
        let path = HeaderValue::from_str(&self.request.content_path)
            .unwrap_or_else(|_| HeaderValue::from_static("/"));
        Response::builder()
            .status(status)
            .header(header::ETAG, etag)
            .header(
                header::CACHE_CONTROL,
                if self.immutable { IMMUTABLE } else { MUTABLE },
            )
            .header("x-ipfs-path", path)
            .header("x-ipfs-roots", roots.join(","))
            .header(header::VARY, "Accept")
    }

    /// `304` if the client holds `etag` already.
    fn not_modified(&self, etag: &str) -> Option<Response<Body>> {
        let held = self.request.if_none_match.as_deref()?;
        let matches = held
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == etag || tag == "*");
        matches.then(|| {
            self.builder(StatusCode::NOT_MODIFIED, etag)
                .body(empty())
                .expect("valid headers; qed")
        })
    }
}

/// Answers `request`; `permit` is held until the body is sent, and
/// `drop_connection` is notified if the client stalls.
pub(crate) async fn respond(
    state: Arc<State>,
    request: GatewayRequest,
    permit: OwnedSemaphorePermit,
    drop_connection: Arc<Notify>,
) -> Result<Response<Body>, Failure> {
    let (root, immutable) = match &request.namespace {
        Namespace::Ipfs(cid) => (*cid, true),
        Namespace::Ipns { name, .. } if request.only_if_cached => {
            return Err(Failure::new(
                StatusCode::PRECONDITION_FAILED,
                format!("/ipns/{name} is resolved on chain at each request, never from memory alone (Cache-Control: only-if-cached); ask without only-if-cached"),
            ))
        }
        Namespace::Ipns { name, version } => (resolve_name(&state, name, *version).await?, false),
    };
    if root.hash().code() == IDENTITY {
        return identity(&request, root);
    }
    let stream = Stream {
        state: state.clone(),
        permit,
        drop_connection,
    };
    // A raw block needs no object: any block of one opened before, or a
    // root found on chain.
    if request.format == Format::Raw && request.path.is_empty() {
        let common = Common {
            request: &request,
            roots: &[root],
            immutable,
        };
        return raw(&state, &common, root).await;
    }
    // The root of an object, or any block of one opened before (a file or
    // directory inside a stored directory, a leaf).
    let held = match request.only_if_cached {
        true => Some(
            state
                .blocks
                .holder_in_memory(&root)
                .ok_or_else(|| not_cached(root))?,
        ),
        false => state.blocks.holder(&root).await?,
    };
    let Some(open) = held else {
        return Err(not_found(&state, &root).await);
    };
    let target = resolve(&open, root, &request.path)?;
    let common = Common {
        request: &request,
        roots: &target.roots,
        immutable,
    };
    match request.format {
        Format::Raw => raw(&state, &common, target.entry.cid()).await,
        Format::Car(params) => {
            let (scope, bytes) = match (&target.entry, params.entity_bytes) {
                (Entry::File(span), Some(asked)) => {
                    if asked.starts_past(span.size) {
                        return Err(Failure::new(
                            StatusCode::BAD_REQUEST,
                            format!(
                                "entity-bytes={} starts past the end of {} ({} bytes)",
                                asked.text(),
                                span.cid,
                                span.size
                            ),
                        ));
                    }
                    match asked.resolve(span.size) {
                        Some(bytes) => (Scope::Entity, Some(bytes)),
                        None => (Scope::Block, None),
                    }
                }
                _ => (params.scope, None),
            };
            let selection = Selection {
                scope,
                bytes,
                dups: params.dups,
            };
            let tag = format!(
                "{}|{}|{}|{}",
                request.content_path,
                scope.name(),
                params.entity_bytes.map(|e| e.text()).unwrap_or_default(),
                params.dups
            );
            let etag = format!(
                "\"{}.car.{}\"",
                target.entry.cid(),
                hex::encode(&chunk_digest(tag.as_bytes())[..8])
            );
            car_response(&common, &etag, root, open, &target, &selection, stream)
        }
        Format::Deserialized => match &target.entry {
            Entry::File(span) => {
                let name = request.path.last().map(String::as_str);
                file(&common, open, *span, name, stream).await
            }
            Entry::Symlink { cid, target } => {
                let etag = format!("\"{cid}\"");
                if let Some(response) = common.not_modified(&etag) {
                    return Ok(response);
                }
                let body = if request.head {
                    empty()
                } else {
                    full(target.clone())
                };
                Ok(common
                    .builder(StatusCode::OK, &etag)
                    .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                    .header(header::CONTENT_LENGTH, target.len())
                    .body(body)
                    .expect("valid headers; qed"))
            }
            Entry::Directory(dir) => directory(&common, open, *dir, stream).await,
        },
    }
}

/// `Cache-Control: only-if-cached` asked for `what`, which is not in
/// memory.
fn not_cached(what: impl std::fmt::Display) -> Failure {
    Failure::new(
        StatusCode::PRECONDITION_FAILED,
        format!("{what} is not in this gateway's memory (Cache-Control: only-if-cached); ask without only-if-cached to have it fetched from the providers"),
    )
}

/// The CID a name points to: its latest version, or `version`.
async fn resolve_name(state: &State, name: &str, version: Option<u32>) -> Result<Cid, Failure> {
    if !pallet_mosaic_names::is_valid_name(name.as_bytes()) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format!("{name:?} is not a valid Mosaic name"),
        ));
    }
    let resolution = state
        .blocks
        .chain()
        .resolve(name, version)
        .await
        .map_err(|e| Failure::bad_gateway(format!("the chain node failed: {}", chain_of(&e))))?
        .ok_or_else(|| Failure::not_found(format!("no name {name} is registered")))?;
    let entry = resolution.entry.ok_or_else(|| {
        Failure::not_found(match version {
            Some(v) => format!(
                "version {v} of {name} is not kept (versions {} to {} are)",
                resolution.oldest, resolution.latest
            ),
            None => format!("{name} points to nothing yet"),
        })
    })?;
    Cid::try_from(entry.cid.as_slice())
        .map_err(|_| Failure::bad_gateway(format!("{name} points to bytes that are not a CID")))
}

/// Why `cid` is not served: an encrypted object, or nothing public.
async fn not_found(state: &State, cid: &Cid) -> Failure {
    match encrypted_order(state, cid).await {
        Ok(Some(order)) => Failure::not_found(format!(
            "{cid} is stored encrypted (order {order}): it is not public content, and this \
             gateway serves only public content"
        )),
        Ok(None) => Failure::not_found(format!("no live public order stores {cid}")),
        Err(error) => Failure::bad_gateway(format!("the chain node failed: {}", chain_of(&error))),
    }
}

/// A live encrypted order of `cid`, if there is one.
async fn encrypted_order(
    state: &State,
    cid: &Cid,
) -> Result<Option<OrderId>, mosaic_api::chain::ChainError> {
    let encrypted =
        |order: &Order| is_live(order) && !matches!(order.access, Access::Public { .. });
    Ok(newest_order(state.blocks.chain(), cid, encrypted)
        .await?
        .map(|(id, _)| id))
}

/// The entry `path` names below `from`, a block of `open`.
fn resolve(open: &OpenObject, from: Cid, path: &[String]) -> Result<Target, Failure> {
    let below_a_file = || {
        Failure::not_found(format!(
            "{from} is a file, not a directory: it has no {}",
            path.join("/")
        ))
    };
    let whole = |span: FileSpan| Target {
        entry: Entry::File(span),
        walked: Vec::new(),
        roots: vec![from],
    };
    let Some(pack) = open.pack() else {
        if !path.is_empty() {
            return Err(below_a_file());
        }
        return Ok(whole(FileSpan {
            cid: open.root,
            offset: 0,
            size: open.data_size(),
        }));
    };
    // A raw leaf inside a file is served as a file of its own.
    if from.codec() == RAW_CODEC && !pack.files().iter().any(|f| f.cid == from) {
        if !path.is_empty() {
            return Err(below_a_file());
        }
        return leaf_span(pack, from).map(whole).ok_or_else(|| {
            Failure::bad_gateway(format!("{from} is not placed in the DAG of {}", open.root))
        });
    }
    let pack_failure = |error: PackError| match error {
        PackError::NotFound(_) | PackError::NotADirectory(_) => {
            Failure::not_found(error.to_string())
        }
        error => Failure::bad_gateway(format!("the DAG of {} cannot be read: {error}", open.root)),
    };
    let mut walked = Vec::new();
    let entry = pack
        .resolve_from(from, &path.join("/"), &mut walked)
        .map_err(pack_failure)?;
    let mut roots = vec![from];
    for end in 1..path.len() {
        let prefix = pack.resolve_from(from, &path[..end].join("/"), &mut Vec::new());
        roots.push(prefix.map_err(pack_failure)?.cid());
    }
    if !path.is_empty() {
        roots.push(entry.cid());
    }
    Ok(Target {
        entry,
        walked,
        roots,
    })
}

/// Where raw leaf `leaf` lies in `pack`'s data, as a file of its own.
fn leaf_span(pack: &Pack, leaf: Cid) -> Option<FileSpan> {
    pack.files().iter().find_map(|file| {
        let mut offset = file.offset;
        for placed in pack.leaves(file.cid).ok()? {
            if placed.cid == leaf {
                return Some(FileSpan {
                    cid: leaf,
                    offset,
                    size: placed.len,
                });
            }
            offset += placed.len;
        }
        None
    })
}

/// The identity CID's block is its digest: the probe CID `bafkqaaa` is
/// the empty block.
fn identity(request: &GatewayRequest, cid: Cid) -> Result<Response<Body>, Failure> {
    if !request.path.is_empty() {
        return Err(Failure::not_found("an identity CID has no path below it"));
    }
    let data = cid.hash().digest().to_vec();
    let common = Common {
        request,
        roots: &[cid],
        immutable: true,
    };
    let (kind, bytes, etag) = match request.format {
        Format::Raw => (
            "application/vnd.ipld.raw".to_string(),
            data,
            format!("\"{cid}.raw\""),
        ),
        Format::Car(params) => (
            car_type(params.dups),
            car::header(&cid),
            format!("\"{cid}.car\""),
        ),
        Format::Deserialized => (
            "application/octet-stream".into(),
            data,
            format!("\"{cid}\""),
        ),
    };
    let length = bytes.len();
    let body = if request.head { empty() } else { full(bytes) };
    Ok(common
        .builder(StatusCode::OK, &etag)
        .header(header::CONTENT_TYPE, kind)
        .header(header::CONTENT_LENGTH, length)
        .body(body)
        .expect("valid headers; qed"))
}

/// One block, checked against its CID (`application/vnd.ipld.raw`).
async fn raw(state: &State, common: &Common<'_>, cid: Cid) -> Result<Response<Body>, Failure> {
    let etag = format!("\"{cid}.raw\"");
    if let Some(response) = common.not_modified(&etag) {
        return Ok(response);
    }
    if common.request.only_if_cached {
        let held = state.blocks.holder_in_memory(&cid);
        if !held.is_some_and(|open| state.blocks.block_in_memory(&open, &cid)) {
            return Err(not_cached(cid));
        }
    }
    let Some(block) = state.blocks.block(&cid).await? else {
        return Err(not_found(state, &cid).await);
    };
    let length = block.len();
    let body = if common.request.head {
        empty()
    } else {
        full(block)
    };
    Ok(common
        .builder(StatusCode::OK, &etag)
        .header(header::CONTENT_TYPE, "application/vnd.ipld.raw")
        .header(header::CONTENT_LENGTH, length)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{cid}.bin\""),
        )
        .header("x-content-type-options", "nosniff")
        .body(body)
        .expect("valid headers; qed"))
}

/// A CAR's `Content-Type`.
fn car_type(dups: bool) -> String {
    format!(
        "application/vnd.ipld.car; version=1; order=dfs; dups={}",
        if dups { "y" } else { "n" }
    )
}

/// A CAR of `target` under `root`, streamed block by block.
fn car_response(
    common: &Common<'_>,
    etag: &str,
    root: Cid,
    open: Arc<OpenObject>,
    target: &Target,
    selection: &Selection,
    stream: Stream,
) -> Result<Response<Body>, Failure> {
    if let Some(response) = common.not_modified(etag) {
        return Ok(response);
    }
    let blocks = dag::car_blocks(open.pack(), &target.walked, target.entry.cid(), selection)
        .map_err(|e| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                format!("{e}: ask for less with dag-scope or entity-bytes"),
            )
        })?;
    if common.request.only_if_cached {
        let blocks_held = &stream.state.blocks;
        if let Some(missing) = blocks
            .iter()
            .find(|cid| !blocks_held.block_in_memory(&open, cid))
        {
            return Err(not_cached(missing));
        }
    }
    let response = common
        .builder(StatusCode::OK, etag)
        .header(header::CONTENT_TYPE, car_type(selection.dups))
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.car\"", target.entry.cid()),
        )
        .header("x-content-type-options", "nosniff");
    if common.request.head {
        return Ok(response.body(empty()).expect("valid headers; qed"));
    }
    let body = stream.spawn(move |stream, mut sender| async move {
        let outcome = async {
            stream.send(&mut sender, car::header(&root).into()).await?;
            for cid in blocks {
                let block = match open.pack().and_then(|pack| pack.block(&cid)) {
                    Some(block) => block.to_vec(),
                    None => stream
                        .within(stream.state.blocks.block(&cid))
                        .await?
                        .map_err(|e| chain_of(&e))?
                        .ok_or_else(|| format!("block {cid} is no longer served"))?,
                };
                stream
                    .send(&mut sender, car::section(&cid, &block).into())
                    .await?;
            }
            Ok(())
        }
        .await;
        (sender, outcome)
    });
    Ok(response.body(body).expect("valid headers; qed"))
}

/// A directory: its `index.html` if it has one, else a listing.
async fn directory(
    common: &Common<'_>,
    open: Arc<OpenObject>,
    dir: Cid,
    stream: Stream,
) -> Result<Response<Body>, Failure> {
    let request = common.request;
    if !request.trailing_slash {
        let mut location = format!("{}/", request.content_path);
        if let Some(query) = &request.query {
            location.push('?');
            location.push_str(query);
        }
        return Ok(common
            .builder(StatusCode::MOVED_PERMANENTLY, &format!("\"{dir}\""))
            .header(header::LOCATION, location)
            .body(empty())
            .expect("valid headers; qed"));
    }
    let pack = open.pack().expect("only a pack has directories; qed");
    if let Ok(Entry::File(index)) = pack.resolve_from(dir, "index.html", &mut Vec::new()) {
        return file(common, open.clone(), index, Some("index.html"), stream).await;
    }
    let etag = format!("\"DirIndex-{dir}\"");
    if let Some(response) = common.not_modified(&etag) {
        return Ok(response);
    }
    let entries = pack.list(dir).map_err(|e| {
        Failure::bad_gateway(format!("the DAG of {} cannot be read: {e}", open.root))
    })?;
    let page = listing::html(&request.content_path, &dir, &entries);
    let length = page.len();
    let body = if request.head { empty() } else { full(page) };
    Ok(common
        .builder(StatusCode::OK, &etag)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_LENGTH, length)
        .body(body)
        .expect("valid headers; qed"))
}

/// A file's bytes, whole or one range, leaf by leaf, each leaf checked
/// against its CID before any of it is sent.
async fn file(
    common: &Common<'_>,
    open: Arc<OpenObject>,
    span: FileSpan,
    name: Option<&str>,
    stream: Stream,
) -> Result<Response<Body>, Failure> {
    let request = common.request;
    let etag = format!("\"{}\"", span.cid);
    if let Some(response) = common.not_modified(&etag) {
        return Ok(response);
    }
    let size = span.size;
    let (status, bytes) = match request.range.as_deref().map(|r| parse_range(r, size)) {
        None | Some(ByteRange::Full) => (StatusCode::OK, 0..size),
        Some(ByteRange::Part(range)) => (StatusCode::PARTIAL_CONTENT, range),
        Some(ByteRange::Unsatisfiable) => {
            return Err(Failure {
                content_range: Some(format!("bytes */{size}")),
                ..Failure::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    format!("the range is outside the file's {size} bytes"),
                )
            })
        }
    };
    // The file's first bytes name its type when its name does not.
    let sniff = by_extension(name).is_none();
    if request.only_if_cached {
        let from = if sniff { 0 } else { bytes.start };
        let held = span.offset + from..span.offset + bytes.end;
        if !stream.state.blocks.in_memory(&open, held) {
            return Err(not_cached(span.cid));
        }
    }
    // A raw file is one leaf, wherever it lies.
    let leaves = match open.pack() {
        Some(pack) if span.cid.codec() != RAW_CODEC => pack.leaves(span.cid).map_err(|e| {
            Failure::bad_gateway(format!("the DAG of {} cannot be read: {e}", open.root))
        })?,
        _ => vec![Leaf {
            cid: span.cid,
            len: size,
        }],
    };
    let reader = LeafReader {
        open: open.clone(),
        base: span.offset,
    };
    let mut sniffed = None;
    let kind = match by_extension(name) {
        Some(kind) => kind,
        None => match leaves.iter().find(|leaf| leaf.len > 0) {
            None => "application/octet-stream",
            Some(first) => {
                // Leaves before the first non-empty one are empty: it is
                // at byte 0.
                let head = reader.read(&stream.state, *first, 0).await?;
                let kind = content_type(None, &head);
                sniffed = Some((first.cid, head));
                kind
            }
        },
    };
    // Each leaf with its offset in the file, only those under the range.
    let mut placed = Vec::new();
    let mut at = 0u64;
    for leaf in leaves {
        let end = at + leaf.len;
        if leaf.len > 0 && at < bytes.end && bytes.start < end {
            placed.push((leaf, at));
        }
        at = end;
    }
    // The first leaf is read before the head is sent, so that providers
    // that fail get a 502/504 rather than a cut body.
    let first = match placed.first() {
        Some((leaf, at)) if !request.head => match sniffed {
            Some((cid, head)) if cid == leaf.cid && *at == 0 => Some(head),
            _ => Some(reader.read(&stream.state, *leaf, *at).await?),
        },
        _ => None,
    };
    let mut response = common
        .builder(status, &etag)
        .header(header::CONTENT_TYPE, kind)
        .header(header::CONTENT_LENGTH, bytes.end - bytes.start)
        .header(header::ACCEPT_RANGES, "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", bytes.start, bytes.end - 1),
        );
    }
    if request.head || bytes.is_empty() {
        return Ok(response.body(empty()).expect("valid headers; qed"));
    }
    let body = stream.spawn(move |stream, mut sender| async move {
        let outcome = async {
            let mut first = first;
            for (leaf, at) in placed {
                let data = match first.take() {
                    Some(data) => data,
                    None => reader
                        .read(&stream.state, leaf, at)
                        .await
                        .map_err(|f| f.reason)?,
                };
                let from = bytes.start.saturating_sub(at) as usize;
                let to = (bytes.end - at).min(leaf.len) as usize;
                stream.send(&mut sender, data.slice(from..to)).await?;
            }
            Ok(())
        }
        .await;
        (sender, outcome)
    });
    Ok(response.body(body).expect("valid headers; qed"))
}

/// Reads a file's leaves from its object and checks each.
struct LeafReader {
    open: Arc<OpenObject>,
    /// The file's first byte in the object.
    base: u64,
}

impl LeafReader {
    /// Leaf `leaf` at byte `at` of the file, checked against its CID.
    async fn read(&self, state: &State, leaf: Leaf, at: u64) -> Result<Bytes, Failure> {
        let start = self.base + at;
        let range: Range<u64> = start..start + leaf.len;
        let read = state.blocks.read(&self.open, range);
        let data = tokio::time::timeout(state.config.idle_timeout, read)
            .await
            .map_err(|_| Failure::timeout(state.config.idle_timeout))??;
        if leaf.cid.hash().digest() != chunk_digest(&data).as_slice() {
            return Err(Failure::bad_gateway(format!(
                "leaf {} does not match the bytes the providers served",
                leaf.cid
            )));
        }
        Ok(Bytes::from(data))
    }
}

/// The sending half of a streaming body.
type BodySender = Sender<Bytes, std::io::Error>;

/// What a streaming body's task holds: the request permit (released when
/// the body ends) and the connection to drop if the client stalls.
struct Stream {
    state: Arc<State>,
    permit: OwnedSemaphorePermit,
    drop_connection: Arc<Notify>,
}

impl Stream {
    /// A body fed by `produce` on a task of its own, through a channel of
    /// the configured number of chunks. `produce` hands the sender back
    /// with its outcome; an error cuts the body, so that the client sees
    /// an incomplete response rather than a short one.
    fn spawn<F, Fut>(self, produce: F) -> Body
    where
        F: FnOnce(Arc<Stream>, BodySender) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = (BodySender, Result<(), String>)> + Send + 'static,
    {
        let (sender, body) = Channel::new(self.state.config.body_chunks.max(1));
        let stream = Arc::new(self);
        tokio::spawn(async move {
            let (sender, outcome) = produce(stream.clone(), sender).await;
            if let Err(reason) = outcome {
                tracing::warn!(target: "mosaic::gateway", %reason, "response cut");
                sender.abort(std::io::Error::other(reason));
            }
            // The request permit goes with the task.
            drop(stream);
        });
        body.boxed_unsync()
    }

    /// Sends a chunk; a client that takes none for the idle timeout loses
    /// its connection.
    async fn send(&self, sender: &mut BodySender, chunk: Bytes) -> Result<(), String> {
        match tokio::time::timeout(self.state.config.idle_timeout, sender.send_data(chunk)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err("the client went away".into()),
            Err(_) => {
                self.drop_connection.notify_one();
                Err("the client took nothing for too long".into())
            }
        }
    }

    /// `work` within the idle timeout.
    async fn within<T>(&self, work: impl std::future::Future<Output = T>) -> Result<T, String> {
        let _ = &self.permit;
        tokio::time::timeout(self.state.config.idle_timeout, work)
            .await
            .map_err(|_| "the providers did not answer in time".to_string())
    }
}
