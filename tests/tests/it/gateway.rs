//! `mosaic gateway` over a real network (issue 14): a public directory with
//! a multi-chunk file is served over HTTP as the IPFS path and trustless
//! gateway specs say — whole files, a range, paths, HEAD, raw blocks that
//! hash to their CIDs, a CAR whose every block does, a listing, the error
//! statuses, a name — and an independent IPFS implementation
//! (`@helia/verified-fetch`, in `tests/js`) fetches files through it
//! block by block, checking each, with the gateway as its only source.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use mosaic_primitives::unixfs::{chunk_digest, cid_v1, UnixfsNode, RAW_CODEC};
use mosaic_tests::{run_js, write_sample, GatewayProcess, HttpResponse, Network};

/// The multi-chunk file: three leaves of 256 KiB, the last one short.
const BIG: usize = 700_000;
/// A name with bytes a URL and HTML must escape.
const ODD_NAME: &str = "a b & <c>.txt";
/// How long the IPFS client may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

/// The tree: `big.bin`, `docs/readme.txt`, the odd name, and `site/` with
/// an `index.html`; the top has no index, so it is listed.
fn write_tree(root: &Path) -> Result<()> {
    std::fs::create_dir_all(root.join("docs"))?;
    std::fs::create_dir_all(root.join("site"))?;
    write_sample(&root.join("big.bin"), BIG, 7)?;
    std::fs::write(root.join("docs/readme.txt"), b"read me\n")?;
    std::fs::write(root.join(ODD_NAME), b"odd\n")?;
    std::fs::write(root.join("site/index.html"), b"<p>the site</p>\n")?;
    Ok(())
}

/// Whether `bytes` hash to `cid` (CIDv1, SHA-256).
fn hashes_to(cid: &cid::Cid, bytes: &[u8]) -> bool {
    cid.hash().code() == 0x12 && cid.hash().digest() == chunk_digest(bytes).as_slice()
}

fn ensure_status(response: &HttpResponse, status: u16, what: &str) -> Result<()> {
    ensure!(
        response.status == status,
        "{what}: {} instead of {status}: {}",
        response.status,
        response.text()
    );
    Ok(())
}

/// Reads a multiformats varint.
fn varint(bytes: &[u8]) -> Result<(usize, usize)> {
    let mut value = 0usize;
    for (i, byte) in bytes.iter().enumerate().take(9) {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    anyhow::bail!("bad varint")
}

/// A CAR's sections: each block under its CID.
type Sections = Vec<(cid::Cid, Vec<u8>)>;

/// A CARv1's header bytes and its sections.
fn read_car(mut car: &[u8]) -> Result<(Vec<u8>, Sections)> {
    let (len, used) = varint(car)?;
    let header = car.get(used..used + len).context("short header")?.to_vec();
    car = &car[used + len..];
    let mut sections = Vec::new();
    while !car.is_empty() {
        let (len, used) = varint(car)?;
        let section = car.get(used..used + len).context("short section")?;
        let mut reader = std::io::Cursor::new(section);
        let cid = cid::Cid::read_bytes(&mut reader)?;
        sections.push((cid, section[reader.position() as usize..].to_vec()));
        car = &car[used + len..];
    }
    Ok((header, sections))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_serves_public_content_to_ipfs_clients() -> Result<()> {
    let net = Network::start(3, "1GiB").await?;
    let owner = net.funded_account("owner", "1000").await?;
    let owner = owner.to_str().context("UTF-8")?;
    let tree = net.path("tree");
    write_tree(&tree)?;
    let tree_text = tree.to_str().context("UTF-8")?;
    let put = net.put_public(tree_text, owner).await?;
    let root = put["cid"]
        .as_str()
        .context("put names the CID")?
        .to_string();
    let big = std::fs::read(tree.join("big.bin"))?;
    let big_cid = net
        .mosaic(&["cid", tree.join("big.bin").to_str().context("UTF-8")?])
        .await?
        .trim()
        .to_string();

    // An encrypted object: stored, but not public content.
    let secret = net.path("secret.bin");
    write_sample(&secret, 1_000, 3)?;
    let sealed = net
        .mosaic_json(&[
            "put",
            secret.to_str().context("UTF-8")?,
            "--key",
            owner,
            "--data-shards",
            "2",
            "--parity-shards",
            "1",
        ])
        .await?;
    let sealed = sealed["cid"]
        .as_str()
        .context("put names the CID")?
        .to_string();

    let gateway = net.start_gateway(&[]).await?;
    ensure!(
        gateway.p2p_addr.starts_with("/ip4/127.0.0.1/tcp/") && gateway.p2p_addr.contains("/p2p/"),
        "the libp2p address is not in full: {}",
        gateway.p2p_addr
    );
    check_files(&gateway, &root, &big_cid, &big).await?;
    check_directories(&gateway, &root).await?;
    check_blocks(&gateway, &root, &big_cid, &big).await?;
    check_errors(&gateway, &sealed).await?;
    check_http2(&gateway, &net.path("h2"), &root, &big).await?;

    // A name leads to the same bytes, and says which CID it resolved.
    net.mosaic(&["name", "register", "site.gw", "--key", owner])
        .await?;
    net.mosaic(&["name", "set", "site.gw", &root, "--key", owner])
        .await?;
    let named = gateway.get("/ipns/site.gw/big.bin", &[]).await?;
    ensure_status(&named, 200, "/ipns/ path")?;
    ensure!(named.body == big, "the name leads to other bytes");
    ensure!(
        named.header("x-ipfs-roots") == Some(format!("{root},{big_cid}").as_str()),
        "{:?}",
        named.headers
    );
    ensure!(named.header("x-ipfs-path") == Some("/ipns/site.gw/big.bin"));
    ensure_status(
        &gateway
            .get(
                "/ipns/site.gw/big.bin",
                &[("Cache-Control", "only-if-cached")],
            )
            .await?,
        412,
        "only-if-cached of a name (resolved on chain)",
    )?;
    ensure_status(
        &gateway.get("/ipns/site.gw?version=9", &[]).await?,
        404,
        "version 9",
    )?;
    ensure_status(
        &gateway.get("/ipns/no-such-name", &[]).await?,
        404,
        "unknown name",
    )?;

    // An independent IPFS implementation, with the gateway as its only
    // source of blocks, gets the same bytes.
    let fetched = verified_fetch(
        &gateway,
        &net.path("fetched"),
        &[
            format!("ipfs://{big_cid}"),
            format!("ipfs://{root}/big.bin"),
            format!("ipfs://{root}/docs/readme.txt"),
        ],
    )
    .await?;
    ensure!(
        fetched[0] == big,
        "verified-fetch got other bytes for the file"
    );
    ensure!(fetched[1] == big, "verified-fetch got other bytes by path");
    ensure!(fetched[2] == b"read me\n", "verified-fetch got other bytes");
    drop(gateway);
    check_p2p_key(&net).await
}

/// With `--p2p-key FILE` the gateway keeps its peer id across starts, in a
/// file only its owner reads; without it, the peer id is new each start.
async fn check_p2p_key(net: &Network) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let peer = |gateway: &GatewayProcess| {
        gateway
            .p2p_addr
            .rsplit_once("/p2p/")
            .map(|(_, peer)| peer.to_string())
            .context("no peer id")
    };
    let key = net.path("gateway.key");
    let key_text = key.to_str().context("UTF-8")?;
    let mut first = net.start_gateway(&["--p2p-key", key_text]).await?;
    let first_peer = peer(&first)?;
    first.process.terminate().await?;
    let mode = std::fs::metadata(&key)?.permissions().mode();
    ensure!(mode & 0o777 == 0o600, "the key file has mode {mode:o}");
    let mut again = net.start_gateway(&["--p2p-key", key_text]).await?;
    ensure!(
        peer(&again)? == first_peer,
        "the peer id changed across starts"
    );
    again.process.terminate().await?;
    let mut fresh = net.start_gateway(&[]).await?;
    ensure!(
        peer(&fresh)? != first_peer,
        "no key file, yet the same peer id"
    );
    fresh.process.terminate().await?;
    std::fs::write(&key, b"short")?;
    let (ok, _, stderr) = net
        .mosaic_unchecked(&["gateway", "--listen", "127.0.0.1:0", "--p2p-key", key_text])
        .await?;
    ensure!(!ok, "a bad key file was accepted");
    ensure!(stderr.contains("not a 32-byte ed25519 secret"), "{stderr}");
    Ok(())
}

async fn check_files(
    gateway: &GatewayProcess,
    root: &str,
    big_cid: &str,
    big: &[u8],
) -> Result<()> {
    let path = format!("/ipfs/{root}/big.bin");
    // Nothing is in the gateway's memory yet: only-if-cached gets 412,
    // and the same for a CID no order stores (never looked up on chain).
    let cached_only = [("Cache-Control", "only-if-cached")];
    ensure_status(
        &gateway.get(&path, &cached_only).await?,
        412,
        "only-if-cached before the object was read",
    )?;
    let unknown = cid_v1(RAW_CODEC, chunk_digest(b"nowhere")).to_string();
    ensure_status(
        &gateway.head(&format!("/ipfs/{unknown}")).await?,
        404,
        "an unknown CID",
    )?;
    ensure_status(
        &gateway
            .get(&format!("/ipfs/{unknown}"), &cached_only)
            .await?,
        412,
        "only-if-cached of an unknown CID",
    )?;
    let whole = gateway.get(&path, &[]).await?;
    ensure_status(&whole, 200, "whole file")?;
    ensure!(whole.body == big, "the file's bytes differ");
    // Read once, it is held: the same bytes from memory alone.
    let again = gateway.get(&path, &cached_only).await?;
    ensure_status(&again, 200, "only-if-cached once read")?;
    ensure!(again.body == big, "the held file's bytes differ");
    ensure_status(
        &gateway
            .get(&format!("/ipfs/{big_cid}?format=raw"), &cached_only)
            .await?,
        200,
        "only-if-cached of a held node",
    )?;
    let etag = format!("\"{big_cid}\"");
    for (name, value) in [
        ("etag", etag.as_str()),
        ("cache-control", "public, max-age=29030400, immutable"),
        ("accept-ranges", "bytes"),
        ("x-ipfs-path", path.as_str()),
        ("x-ipfs-roots", &format!("{root},{big_cid}")),
        ("content-length", &BIG.to_string()),
        ("content-type", "application/octet-stream"),
    ] {
        ensure!(
            whole.header(name) == Some(value),
            "{name}: {:?}",
            whole.headers
        );
    }
    ensure_status(
        &gateway.get(&path, &[("If-None-Match", &etag)]).await?,
        304,
        "a held ETag",
    )?;

    // A range across the first leaf boundary, and ranges past the end.
    let part = gateway
        .get(&path, &[("Range", "bytes=262000-262999")])
        .await?;
    ensure_status(&part, 206, "a range")?;
    ensure!(
        part.body == big[262_000..263_000],
        "the range's bytes differ"
    );
    ensure!(part.header("content-range") == Some(format!("bytes 262000-262999/{BIG}").as_str()));
    let tail = gateway.get(&path, &[("Range", "bytes=-10")]).await?;
    ensure_status(&tail, 206, "a suffix range")?;
    ensure!(tail.body == big[BIG - 10..]);
    let past = gateway.get(&path, &[("Range", "bytes=800000-")]).await?;
    ensure_status(&past, 416, "a range past the end")?;
    ensure!(past.header("content-range") == Some(format!("bytes */{BIG}").as_str()));

    // HEAD: the headers, no body.
    let head = gateway.head(&path).await?;
    ensure_status(&head, 200, "HEAD")?;
    ensure!(head.header("content-length") == Some(BIG.to_string().as_str()));
    ensure!(head.body.is_empty());

    // A percent-encoded path, and a file by its own CID.
    let odd = gateway
        .get(&format!("/ipfs/{root}/a%20b%20%26%20%3Cc%3E.txt"), &[])
        .await?;
    ensure_status(&odd, 200, "a percent-encoded name")?;
    ensure!(odd.body == b"odd\n");
    ensure!(odd.header("content-type") == Some("text/plain; charset=utf-8"));
    let by_cid = gateway.get(&format!("/ipfs/{big_cid}"), &[]).await?;
    ensure_status(&by_cid, 200, "a file by its CID")?;
    ensure!(by_cid.body == big);
    Ok(())
}

async fn check_directories(gateway: &GatewayProcess, root: &str) -> Result<()> {
    // Without a trailing slash, a redirect so that relative links work.
    let bare = gateway.get(&format!("/ipfs/{root}"), &[]).await?;
    ensure_status(&bare, 301, "a directory without /")?;
    ensure!(bare.header("location") == Some(format!("/ipfs/{root}/").as_str()));
    // No index.html: a listing with every name escaped.
    let listing = gateway.get(&format!("/ipfs/{root}/"), &[]).await?;
    ensure_status(&listing, 200, "a listing")?;
    let page = listing.text();
    ensure!(listing.header("content-type") == Some("text/html; charset=utf-8"));
    for expected in [
        "a b &amp; &lt;c&gt;.txt",
        &format!("href=\"/ipfs/{root}/a%20b%20%26%20%3Cc%3E.txt\""),
        &format!("href=\"/ipfs/{root}/docs/\""),
        "big.bin",
    ] {
        ensure!(page.contains(expected), "no {expected} in\n{page}");
    }
    ensure!(!page.contains("<c>"), "an unescaped name in\n{page}");
    // With one: the index.
    let site = gateway.get(&format!("/ipfs/{root}/site/"), &[]).await?;
    ensure_status(&site, 200, "an index.html")?;
    ensure!(site.body == b"<p>the site</p>\n");
    ensure!(site.header("content-type") == Some("text/html; charset=utf-8"));
    Ok(())
}

async fn check_blocks(
    gateway: &GatewayProcess,
    root: &str,
    big_cid: &str,
    big: &[u8],
) -> Result<()> {
    // The root directory, the file's inner node and one of its leaves,
    // each as a raw block that hashes to its CID.
    let root_cid: cid::Cid = root.parse()?;
    let block = gateway
        .get(&format!("/ipfs/{root}?format=raw"), &[])
        .await?;
    ensure_status(&block, 200, "the root's block")?;
    ensure!(block.header("content-type") == Some("application/vnd.ipld.raw"));
    ensure!(
        hashes_to(&root_cid, &block.body),
        "the root's block does not hash to it"
    );
    let file_cid: cid::Cid = big_cid.parse()?;
    let node = gateway
        .get(
            &format!("/ipfs/{big_cid}"),
            &[("Accept", "application/vnd.ipld.raw")],
        )
        .await?;
    ensure_status(&node, 200, "the file's node")?;
    ensure!(
        hashes_to(&file_cid, &node.body),
        "the file's node does not hash to it"
    );
    let links = UnixfsNode::decode(&node.body)?.links;
    ensure!(links.len() == 3, "{} leaves", links.len());
    let leaf = gateway
        .get(&format!("/ipfs/{}?format=raw", links[1].cid), &[])
        .await?;
    ensure_status(&leaf, 200, "a leaf")?;
    ensure!(
        hashes_to(&links[1].cid, &leaf.body),
        "the leaf does not hash to it"
    );
    ensure!(
        leaf.body == big[262_144..524_288],
        "the leaf holds other bytes"
    );

    // The whole DAG as a CAR: every block once, each hashing to its CID.
    let car = gateway
        .get(&format!("/ipfs/{root}?format=car"), &[])
        .await?;
    ensure_status(&car, 200, "a CAR")?;
    let kind = car.header("content-type").unwrap_or_default();
    ensure!(
        kind.starts_with("application/vnd.ipld.car") && kind.contains("version=1"),
        "{kind}"
    );
    let (header, sections) = read_car(&car.body)?;
    ensure!(
        header
            .windows(root_cid.to_bytes().len())
            .any(|w| w == root_cid.to_bytes()),
        "the header does not name the root"
    );
    ensure!(sections.first().map(|(cid, _)| cid) == Some(&root_cid));
    let mut seen = HashSet::new();
    for (cid, block) in &sections {
        ensure!(
            hashes_to(cid, block),
            "block {cid} in the CAR does not hash to it"
        );
        ensure!(seen.insert(*cid), "{cid} twice with dups=n");
    }
    for link in &links {
        ensure!(seen.contains(&link.cid), "the CAR lacks leaf {}", link.cid);
    }
    // entity-bytes: the path's blocks, the file's node and the first leaf.
    let first = gateway
        .get(
            &format!("/ipfs/{root}/big.bin?format=car&entity-bytes=0:9"),
            &[],
        )
        .await?;
    ensure_status(&first, 200, "a CAR of a range")?;
    let (_, sections) = read_car(&first.body)?;
    let cids: Vec<cid::Cid> = sections.iter().map(|(cid, _)| *cid).collect();
    ensure!(cids == [root_cid, file_cid, links[0].cid], "{cids:?}");
    Ok(())
}

async fn check_errors(gateway: &GatewayProcess, sealed: &str) -> Result<()> {
    // A CID nobody stores (a block of bytes nothing holds).
    let unknown = cid_v1(RAW_CODEC, chunk_digest(b"stored by nobody"));
    let missing = gateway.get(&format!("/ipfs/{unknown}"), &[]).await?;
    ensure_status(&missing, 404, "an unknown CID")?;
    ensure_status(
        &gateway
            .get(&format!("/ipfs/{unknown}?format=raw"), &[])
            .await?,
        404,
        "an unknown block",
    )?;
    let garbage = gateway.get("/ipfs/this-is-no-cid", &[]).await?;
    ensure_status(&garbage, 400, "a malformed CID")?;
    ensure!(garbage.text().contains("invalid CID"), "{}", garbage.text());
    let encrypted = gateway.get(&format!("/ipfs/{sealed}"), &[]).await?;
    ensure_status(&encrypted, 404, "an encrypted object")?;
    ensure!(
        encrypted.text().contains("encrypted"),
        "{}",
        encrypted.text()
    );
    ensure_status(
        &gateway
            .get(&format!("/ipfs/{sealed}?format=tar"), &[])
            .await?,
        501,
        "an unsupported format",
    )?;
    // The trustless gateway's probe: the empty identity block.
    let probe = gateway.get("/ipfs/bafkqaaa?format=raw", &[]).await?;
    ensure_status(&probe, 200, "the probe CID")?;
    ensure!(probe.body.is_empty());
    Ok(())
}

/// Runs `tests/js/verified-fetch.mjs` on the Node of `tests/js`; answers
/// the bytes of each URL.
/// Node's own HTTP/2 client asks several requests at once over one
/// cleartext connection (prior knowledge): whole file, a range, a raw
/// block and an unknown CID, each answered as over HTTP/1.1.
async fn check_http2(gateway: &GatewayProcess, out: &Path, root: &str, big: &[u8]) -> Result<()> {
    let path = format!("/ipfs/{root}/big.bin");
    let unknown = cid_v1(RAW_CODEC, chunk_digest(b"stored nowhere")).to_string();
    let requests = serde_json::json!([
        { "path": path },
        { "path": path, "headers": { "range": "bytes=262000-262999" } },
        { "path": format!("/ipfs/{root}?format=raw") },
        { "path": format!("/ipfs/{unknown}") },
    ]);
    std::fs::create_dir_all(out)?;
    let url = gateway.url();
    let requests = requests.to_string();
    let args = [url.as_ref(), out.as_os_str(), requests.as_ref()];
    let stdout = run_js("h2-get.mjs", args, CLIENT_TIMEOUT).await?;
    let report: serde_json::Value = serde_json::from_str(&stdout)?;
    ensure!(report["alpn"] == "h2c", "not HTTP/2: {report}");
    let status = |i: usize| report["responses"][i]["status"].as_u64();
    let body = |i: usize| std::fs::read(out.join(i.to_string()));
    ensure!(
        status(0) == Some(200) && body(0)? == big,
        "whole file over HTTP/2: {report}"
    );
    ensure!(
        status(1) == Some(206) && body(1)? == big[262_000..263_000],
        "a range over HTTP/2: {report}"
    );
    let raw = body(2)?;
    ensure!(status(2) == Some(200), "a raw block over HTTP/2: {report}");
    ensure!(
        hashes_to(&root.parse()?, &raw),
        "the raw root block does not hash to its CID"
    );
    ensure!(
        status(3) == Some(404),
        "an unknown CID over HTTP/2: {report}"
    );
    Ok(())
}

async fn verified_fetch(
    gateway: &GatewayProcess,
    out: &Path,
    urls: &[String],
) -> Result<Vec<Vec<u8>>> {
    std::fs::create_dir_all(out)?;
    let url = gateway.url();
    let args = [url.as_ref(), out.as_os_str()]
        .into_iter()
        .chain(urls.iter().map(|url| url.as_ref()));
    run_js("verified-fetch.mjs", args, CLIENT_TIMEOUT).await?;
    (0..urls.len())
        .map(|i| Ok(std::fs::read(out.join(i.to_string()))?))
        .collect()
}
