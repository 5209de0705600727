//! What a web page may do with the JSON-RPC server.
//!
//! A browser attaches an `Origin` header to every cross-origin request and
//! to every WebSocket upgrade; other clients send none. So:
//!
//! * a request or upgrade whose `Origin` is not allowed by `--rpc-cors`
//!   (by default Substrate's list of local origins; `all` allows every one)
//!   is refused with `403` before any method runs ([`OriginGuardLayer`]);
//! * an allowed origin that is not local (a web wallet's, or any under
//!   `--dev`) may call safe methods only: unsafe methods never answer a
//!   request that carries it ([`UnsafeGuard`]), whatever `--rpc-methods`;
//! * when the server listens on loopback only, the `Host` header must name
//!   loopback too (jsonrpsee's host filter, [`local_hosts`]), so a page
//!   that rebinds its own domain to 127.0.0.1 is refused.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{ready, Either, Ready};
use jsonrpsee::server::middleware::http::HostFilterLayer;
use jsonrpsee::server::middleware::rpc::RpcServiceT;
use jsonrpsee::server::{HttpBody, HttpResponse, MethodResponse};
use jsonrpsee::types::{ErrorObject, Request};

use super::codes;

/// Substrate's default `--rpc-cors`: local pages, and polkadot.js apps.
pub const DEFAULT_ORIGINS: [&str; 5] = [
    "http://localhost:*",
    "http://127.0.0.1:*",
    "https://localhost:*",
    "https://127.0.0.1:*",
    "https://polkadot.js.org",
];

/// Host names that are this machine.
const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// A port in an origin pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Port {
    /// `:*`.
    Any,
    /// None given: the scheme's default.
    Default,
    /// `:N`.
    Fixed(u16),
}

/// `scheme://host[:port]`, as an origin or a pattern of origins.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: Port,
}

impl Origin {
    /// Parses `scheme://host[:port|:*]` (an IPv6 host in brackets).
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, rest) = text.trim().split_once("://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = match rest.rfind(':') {
            Some(at) if !rest[at..].contains(']') => (&rest[..at], &rest[at + 1..]),
            _ => (rest, ""),
        };
        let port = match port {
            "" => Port::Default,
            "*" => Port::Any,
            digits => Port::Fixed(digits.parse().ok()?),
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || "-.[]:".contains(c);
        if scheme.is_empty() || host.is_empty() || !host.chars().all(valid) {
            return None;
        }
        Some(Origin {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether `origin` is one this pattern names.
    fn admits(&self, origin: &Origin) -> bool {
        self.scheme == origin.scheme
            && self.host == origin.host
            && (self.port == Port::Any || self.port == origin.port)
    }
}

/// The browser origins allowed to call (`--rpc-cors`).
#[derive(Clone, Debug)]
pub struct Origins(Option<Vec<Origin>>);

impl Origins {
    /// Every origin (`--rpc-cors all`, and `--dev`'s default).
    pub fn all() -> Self {
        Origins(None)
    }

    /// Only those `patterns` name (`http://localhost:*`, `https://a.b`);
    /// the first that is not an origin is the error.
    pub fn only<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        patterns
            .into_iter()
            .map(|p| Origin::parse(p).ok_or_else(|| p.to_string()))
            .collect::<Result<_, _>>()
            .map(|list| Origins(Some(list)))
    }

    /// Whether every origin is allowed.
    pub fn is_all(&self) -> bool {
        self.0.is_none()
    }

    /// Whether a request with `Origin: origin` may be served.
    pub fn allows(&self, origin: &str) -> bool {
        match (&self.0, Origin::parse(origin)) {
            (None, _) => true,
            (Some(list), Some(origin)) => list.iter().any(|p| p.admits(&origin)),
            (Some(_), None) => false,
        }
    }
}

/// Whether `origin` is a page served from this machine.
fn is_local(origin: &str) -> bool {
    Origin::parse(origin).is_some_and(|o| LOOPBACK.contains(&o.host.as_str()))
}

/// The host filter for a server listening on loopback only: `Host` must
/// name loopback, on any port.
pub fn local_hosts() -> HostFilterLayer {
    HostFilterLayer::new(LOOPBACK.map(|host| format!("{host}:*")))
        .expect("loopback authorities parse; qed")
}

/// Marks a request sent by a page that is not local.
#[derive(Clone, Copy, Debug)]
pub struct ForeignOrigin;

/// Refuses requests from origins not allowed and marks foreign ones.
#[derive(Clone)]
pub struct OriginGuardLayer(Arc<Origins>);

impl OriginGuardLayer {
    /// Guards with `origins`.
    pub fn new(origins: Origins) -> Self {
        OriginGuardLayer(Arc::new(origins))
    }
}

impl<S> tower::Layer<S> for OriginGuardLayer {
    type Service = OriginGuard<S>;

    fn layer(&self, inner: S) -> OriginGuard<S> {
        OriginGuard {
            inner,
            origins: self.0.clone(),
        }
    }
}

/// See [`OriginGuardLayer`].
#[derive(Clone)]
pub struct OriginGuard<S> {
    inner: S,
    origins: Arc<Origins>,
}

impl<S, B> tower::Service<http::Request<B>> for OriginGuard<S>
where
    S: tower::Service<http::Request<B>, Response = HttpResponse>,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Either<Ready<Result<HttpResponse, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if let Some(origin) = request.headers().get(http::header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            if !self.origins.allows(origin) {
                let refusal = HttpResponse::builder()
                    .status(http::StatusCode::FORBIDDEN)
                    .header(http::header::CONTENT_TYPE, "text/plain")
                    .body(HttpBody::from(format!(
                        "origin {origin} is not allowed to call this node; its operator allows it with --rpc-cors\n"
                    )))
                    .expect("a static response builds; qed");
                return Either::Left(ready(Ok(refusal)));
            }
            if !is_local(origin) {
                request.extensions_mut().insert(ForeignOrigin);
            }
        }
        Either::Right(self.inner.call(request))
    }
}

/// Refuses the unsafe methods to requests marked [`ForeignOrigin`].
#[derive(Clone)]
pub struct UnsafeGuard<S> {
    /// The service guarded.
    pub inner: S,
    /// The unsafe methods' names.
    pub unsafe_methods: Arc<HashSet<&'static str>>,
}

impl<'a, S: RpcServiceT<'a>> RpcServiceT<'a> for UnsafeGuard<S> {
    type Future = Either<Ready<MethodResponse>, S::Future>;

    fn call(&self, request: Request<'a>) -> Self::Future {
        if request.extensions().get::<ForeignOrigin>().is_some()
            && self.unsafe_methods.contains(request.method_name())
        {
            let error = ErrorObject::owned(
                codes::UNSAFE,
                "unsafe methods cannot be called from a web page",
                None::<()>,
            );
            return Either::Left(ready(MethodResponse::error(request.id, error)));
        }
        Either::Right(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_scheme_host_and_port() {
        let default = Origins::only(DEFAULT_ORIGINS).unwrap();
        for allowed in [
            "http://localhost:3000",
            "http://127.0.0.1:9944",
            "https://localhost:8443",
            "https://polkadot.js.org",
            "HTTPS://Polkadot.JS.org",
        ] {
            assert!(default.allows(allowed), "{allowed}");
        }
        for refused in [
            "http://evil.example",
            "http://localhost.evil.example:3000",
            "http://polkadot.js.org",
            "https://polkadot.js.org:444",
            "null",
            "",
        ] {
            assert!(!default.allows(refused), "{refused}");
        }
        let ipv6 = Origins::only(["http://[::1]:*"]).unwrap();
        assert!(ipv6.allows("http://[::1]:8080") && !ipv6.allows("http://[::2]:8080"));
        assert!(Origins::all().allows("http://evil.example"));
        assert_eq!(
            Origins::only(["https://ok.example", "not an origin"]).unwrap_err(),
            "not an origin"
        );
        assert!(is_local("http://localhost:3000") && is_local("https://[::1]"));
        assert!(!is_local("https://polkadot.js.org") && !is_local("null"));
    }
}
