//! What a request asks for: the content path (namespace, root, decoded
//! path segments), the response format negotiated from `?format=` and
//! `Accept`, and the CAR parameters, each checked; anything the gateway
//! cannot answer is a [`Reject`] with the status the specs name.

use cid::Cid;
use http::{HeaderMap, Method, StatusCode, Uri};
use percent_encoding::percent_decode_str;

use super::range::EntityBytes;

/// A request the gateway refuses before looking anything up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Reject {
    /// The status to answer.
    pub status: StatusCode,
    /// A short reason, sent as the body.
    pub reason: String,
}

impl Reject {
    fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Reject {
            status,
            reason: reason.into(),
        }
    }

    fn bad(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }
}

/// Where the content path starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Namespace {
    /// `/ipfs/{cid}`: immutable.
    Ipfs(Cid),
    /// `/ipns/{name}`: a Mosaic name on chain, its latest version or
    /// `?version=N`.
    Ipns {
        /// The name.
        name: String,
        /// A version other than the latest.
        version: Option<u32>,
    },
}

/// How much of the DAG a CAR carries past the path's blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The whole DAG under the path's end.
    All,
    /// What reading the entity needs: a file's blocks, a directory's own.
    Entity,
    /// The block at the path's end alone.
    Block,
}

impl Scope {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Entity => "entity",
            Scope::Block => "block",
        }
    }
}

/// What a CAR response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CarParams {
    /// `dups=y`: a block again each time the walk meets it.
    pub dups: bool,
    /// `dag-scope`.
    pub scope: Scope,
    /// `entity-bytes`.
    pub entity_bytes: Option<EntityBytes>,
}

/// The response type asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// The content itself: a file's bytes, a directory's index or listing.
    Deserialized,
    /// One block (`application/vnd.ipld.raw`).
    Raw,
    /// A CARv1 stream (`application/vnd.ipld.car`).
    Car(CarParams),
}

/// A parsed request.
#[derive(Clone, Debug)]
pub(crate) struct GatewayRequest {
    /// `HEAD`: headers only.
    pub head: bool,
    /// The namespace and its root.
    pub namespace: Namespace,
    /// The path below the root, percent-decoded, one entry per segment.
    pub path: Vec<String>,
    /// Whether the URL path ends with `/` (a directory's index is served
    /// there; without, the gateway redirects so relative links work).
    pub trailing_slash: bool,
    /// The URL path as asked (`X-Ipfs-Path`).
    pub content_path: String,
    /// The query string, kept for redirects.
    pub query: Option<String>,
    /// The response type.
    pub format: Format,
    /// The `Range` header.
    pub range: Option<String>,
    /// The `If-None-Match` header.
    pub if_none_match: Option<String>,
    /// `Cache-Control: only-if-cached`: answer from what the gateway holds
    /// in memory, or 412.
    pub only_if_cached: bool,
}

/// Media types the gateway answers.
const RAW: &str = "application/vnd.ipld.raw";
const CAR: &str = "application/vnd.ipld.car";

/// Reads a request's method, URI and headers.
pub(crate) fn parse(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<GatewayRequest, Reject> {
    let head = match *method {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            return Err(Reject::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "only GET and HEAD are served",
            ))
        }
    };
    let raw_path = uri.path();
    let mut parts = raw_path.split('/').skip(1);
    let namespace = parts.next().unwrap_or_default();
    let root = parts.next().unwrap_or_default();
    if !matches!(namespace, "ipfs" | "ipns") || root.is_empty() {
        return Err(Reject::new(
            StatusCode::NOT_FOUND,
            "this gateway serves /ipfs/{cid}[/path] and /ipns/{name}[/path]",
        ));
    }
    let mut path = Vec::new();
    for segment in parts {
        let name = percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| Reject::bad("the path is not UTF-8 once percent-decoded"))?;
        match &*name {
            "" => {}
            "." | ".." => return Err(Reject::bad("the path may not hold `.` or `..`")),
            name if name.contains(['/', '\0']) => {
                return Err(Reject::bad(format!("{name:?} is not a path segment")))
            }
            name => path.push(name.to_string()),
        }
    }
    let query = Query::parse(uri.query().unwrap_or_default());
    let root = percent_decode_str(root)
        .decode_utf8()
        .map_err(|_| Reject::bad("the root is not UTF-8"))?;
    let namespace = match namespace {
        "ipfs" => Namespace::Ipfs(
            Cid::try_from(&*root).map_err(|e| Reject::bad(format!("invalid CID {root:?}: {e}")))?,
        ),
        _ => Namespace::Ipns {
            name: root.into_owned(),
            version: query
                .get("version")
                .map(|v| {
                    v.parse()
                        .map_err(|_| Reject::bad(format!("version={v} is not a number")))
                })
                .transpose()?,
        },
    };
    let accept = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = negotiate(&query, accept)?;
    let header = |name: http::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Ok(GatewayRequest {
        head,
        namespace,
        path,
        trailing_slash: raw_path.ends_with('/'),
        content_path: raw_path.to_string(),
        query: uri.query().map(str::to_string),
        format,
        range: header(http::header::RANGE),
        if_none_match: header(http::header::IF_NONE_MATCH),
        only_if_cached: headers
            .get_all(http::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|directive| directive.trim().eq_ignore_ascii_case("only-if-cached")),
    })
}

/// A query string's parameters, percent-decoded.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(text: &str) -> Self {
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        Query(
            text.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(key), decode(value))
                })
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One entry of an `Accept` header: its media type, parameters and weight.
#[derive(Debug)]
struct MediaRange<'a> {
    kind: String,
    params: Vec<(String, &'a str)>,
    weight: f32,
}

impl MediaRange<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim_matches('"'))
    }
}

fn media_ranges(accept: &str) -> Vec<MediaRange<'_>> {
    let mut ranges: Vec<MediaRange> = accept
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let kind = parts.next()?.trim().to_ascii_lowercase();
            if kind.is_empty() {
                return None;
            }
            let mut weight = 1.0;
            let mut params = Vec::new();
            for param in parts {
                let (key, value) = param.split_once('=')?;
                let key = key.trim().to_ascii_lowercase();
                if key == "q" {
                    weight = value.trim().parse().ok()?;
                } else {
                    params.push((key, value.trim()));
                }
            }
            Some(MediaRange {
                kind,
                params,
                weight,
            })
        })
        .filter(|range| range.weight > 0.0)
        .collect();
    // Stable: equal weights keep the client's order.
    ranges.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    ranges
}

/// The response type from `?format=` (which wins) or `Accept`, with the
/// CAR parameters from the `Accept` entry and the query.
fn negotiate(query: &Query, accept: Option<&str>) -> Result<Format, Reject> {
    let not_served = |what: &str| {
        Reject::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("{what} responses are not served: ask for raw, car or the content itself"),
        )
    };
    let ranges = accept.map(media_ranges).unwrap_or_default();
    let chosen = match query.get("format") {
        Some("raw") => Some(RAW),
        Some("car") => Some(CAR),
        Some(format @ ("tar" | "dag-json" | "dag-cbor" | "json" | "cbor" | "ipns-record")) => {
            return Err(not_served(format))
        }
        Some(other) => return Err(Reject::bad(format!("unknown format={other}"))),
        None => {
            let first = ranges.first();
            match ranges.iter().find(|r| r.kind == RAW || r.kind == CAR) {
                Some(range) => Some(if range.kind == RAW { RAW } else { CAR }),
                None => match first.map(|r| r.kind.as_str()) {
                    Some(
                        kind @ ("application/x-tar"
                        | "application/vnd.ipld.dag-json"
                        | "application/vnd.ipld.dag-cbor"
                        | "application/vnd.ipfs.ipns-record"),
                    ) => return Err(not_served(kind)),
                    _ => None,
                },
            }
        }
    };
    match chosen {
        None => Ok(Format::Deserialized),
        Some(RAW) => Ok(Format::Raw),
        Some(_) => {
            let accepted = ranges.iter().find(|r| r.kind == CAR);
            let param = |query_key: &str, accept_key: &str| {
                query
                    .get(query_key)
                    .or_else(|| accepted.and_then(|r| r.param(accept_key)))
            };
            if let Some(version) = param("car-version", "version") {
                if version != "1" {
                    return Err(Reject::bad(format!(
                        "CAR version {version} is not served: only version=1"
                    )));
                }
            }
            match param("car-order", "order") {
                None | Some("dfs" | "unk" | "") => {}
                Some(order) => {
                    return Err(Reject::bad(format!(
                        "CAR order={order} is not served: only order=dfs"
                    )))
                }
            }
            let dups = match param("car-dups", "dups") {
                None | Some("n" | "") => false,
                Some("y") => true,
                Some(dups) => return Err(Reject::bad(format!("dups={dups} is neither y nor n"))),
            };
            let entity_bytes = query
                .get("entity-bytes")
                .map(|text| {
                    EntityBytes::parse(text)
                        .ok_or_else(|| Reject::bad(format!("entity-bytes={text} is not from:to")))
                })
                .transpose()?;
            let scope = match query.get("dag-scope") {
                None | Some("all") if entity_bytes.is_some() => Scope::Entity,
                None | Some("all") => Scope::All,
                Some("entity") => Scope::Entity,
                Some("block") => Scope::Block,
                Some(scope) => {
                    return Err(Reject::bad(format!(
                        "dag-scope={scope} is none of all, entity, block"
                    )))
                }
            };
            Ok(Format::Car(CarParams {
                dups,
                scope,
                entity_bytes,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi";

    fn request(uri: &str, accept: Option<&str>) -> Result<GatewayRequest, Reject> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(http::header::ACCEPT, accept.parse().unwrap());
        }
        parse(&Method::GET, &uri.parse().unwrap(), &headers)
    }

    #[test]
    fn only_if_cached_is_a_cache_control_directive_among_others() {
        let asks = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(http::header::CACHE_CONTROL, value.parse().unwrap());
            }
            let uri = format!("/ipfs/{CID}").parse().unwrap();
            parse(&Method::GET, &uri, &headers).unwrap().only_if_cached
        };
        assert!(asks(&["only-if-cached"]));
        assert!(asks(&["max-age=0, Only-If-Cached"]));
        assert!(asks(&["no-store", "only-if-cached"]));
        assert!(!asks(&[]));
        assert!(!asks(&["no-cache, max-stale=only-if-cached"]));
    }

    fn format(uri: &str, accept: Option<&str>) -> Result<Format, Reject> {
        request(uri, accept).map(|r| r.format)
    }

    fn car(dups: bool, scope: Scope) -> Format {
        Format::Car(CarParams {
            dups,
            scope,
            entity_bytes: None,
        })
    }

    #[test]
    fn paths_are_split_and_percent_decoded() {
        let r = request(&format!("/ipfs/{CID}/a%20b/%C3%A9t%C3%A9//c.txt"), None).unwrap();
        assert_eq!(r.namespace, Namespace::Ipfs(CID.parse().unwrap()));
        assert_eq!(r.path, ["a b", "été", "c.txt"]);
        assert!(!r.trailing_slash);
        assert!(
            request(&format!("/ipfs/{CID}/"), None)
                .unwrap()
                .trailing_slash
        );
        let r = request("/ipns/my-site/x?version=3", None).unwrap();
        assert_eq!(
            r.namespace,
            Namespace::Ipns {
                name: "my-site".into(),
                version: Some(3)
            }
        );
    }

    #[test]
    fn bad_requests_are_refused_with_their_status() {
        let status = |uri: &str| request(uri, None).unwrap_err().status;
        assert_eq!(status("/ipfs/not-a-cid"), StatusCode::BAD_REQUEST);
        assert_eq!(status(&format!("/ipfs/{CID}/%FF")), StatusCode::BAD_REQUEST);
        assert_eq!(
            status(&format!("/ipfs/{CID}/a/../b")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(&format!("/ipfs/{CID}/a%2Fb")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status("/ipns/x?version=new"), StatusCode::BAD_REQUEST);
        assert_eq!(status("/"), StatusCode::NOT_FOUND);
        assert_eq!(status("/ipfs/"), StatusCode::NOT_FOUND);
        let post = parse(
            &Method::POST,
            &format!("/ipfs/{CID}").parse().unwrap(),
            &HeaderMap::new(),
        );
        assert_eq!(post.unwrap_err().status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn the_format_parameter_wins_over_accept() {
        let uri = format!("/ipfs/{CID}");
        assert_eq!(format(&uri, None), Ok(Format::Deserialized));
        assert_eq!(format(&format!("{uri}?format=raw"), None), Ok(Format::Raw));
        assert_eq!(
            format(&format!("{uri}?format=car"), Some(RAW)),
            Ok(car(false, Scope::All))
        );
        assert_eq!(format(&uri, Some(RAW)), Ok(Format::Raw));
        assert_eq!(
            format(
                &uri,
                Some("application/vnd.ipld.car; version=1; order=dfs; dups=y")
            ),
            Ok(car(true, Scope::All))
        );
        // A browser's Accept gets the content.
        assert_eq!(
            format(&uri, Some("text/html,application/xhtml+xml,*/*;q=0.8")),
            Ok(Format::Deserialized)
        );
        // Weights order the choices.
        assert_eq!(
            format(
                &uri,
                Some("application/vnd.ipld.raw;q=0.5, application/vnd.ipld.car")
            ),
            Ok(car(false, Scope::All))
        );
        assert_eq!(
            format(
                &uri,
                Some("application/vnd.ipld.car;q=0, application/vnd.ipld.raw")
            ),
            Ok(Format::Raw)
        );
    }

    #[test]
    fn unsupported_formats_and_car_variants_are_refused() {
        let uri = format!("/ipfs/{CID}");
        let status = |uri: &str, accept| format(uri, accept).unwrap_err().status;
        assert_eq!(
            status(&format!("{uri}?format=tar"), None),
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(
            status(&format!("{uri}?format=zip"), None),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(&uri, Some("application/vnd.ipld.dag-json")),
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(
            status(&uri, Some("application/vnd.ipld.car; version=2")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(&format!("{uri}?format=car&car-order=weird"), None),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(&format!("{uri}?format=car&dag-scope=most"), None),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(&format!("{uri}?format=car&entity-bytes=5"), None),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn car_parameters_come_from_the_query_and_accept() {
        let uri = format!("/ipfs/{CID}?format=car");
        assert_eq!(
            format(&format!("{uri}&dag-scope=block"), None),
            Ok(car(false, Scope::Block))
        );
        assert_eq!(
            format(
                &format!("{uri}&car-dups=y"),
                Some("application/vnd.ipld.car;dups=n")
            ),
            Ok(car(true, Scope::All))
        );
        // entity-bytes implies dag-scope=entity.
        assert_eq!(
            format(&format!("{uri}&entity-bytes=0:99"), None),
            Ok(Format::Car(CarParams {
                dups: false,
                scope: Scope::Entity,
                entity_bytes: EntityBytes::parse("0:99"),
            }))
        );
    }
}
