//! HTTPS front end: TLS accept, HTTP/1.1 (hyper), fault injection, challenge
//! authentication, the query string, `api-version` checks, body limits, and the JSON
//! answer.
//!
//! Order per request, as the service does it: faults 429/503 (before anything), bearer
//! challenge (401, before reading the body: the SDKs' first request has none), then
//! `api-version`, then the operation. Tokens are never logged.

use super::routes::{self, Reply};
use super::App;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Largest request body accepted (a 4096-bit BYOK package is about 4 KiB).
const MAX_BODY: usize = 1 << 20;

/// The 401 challenge of a Key Vault: the token's resource is `https://vault.azure.net`.
pub const CHALLENGE_KEY_VAULT: &str = "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://vault.azure.net\"";
/// The 401 challenge of a Managed HSM (`--managed-hsm`): its tokens are for
/// `https://managedhsm.azure.net`, as the real service says.
pub const CHALLENGE_MANAGED_HSM: &str = "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://managedhsm.azure.net\"";

/// The challenge this vault answers with: a Managed HSM's or a Key Vault's.
fn challenge(app: &App) -> &'static str {
    if app.is_managed_hsm() {
        CHALLENGE_MANAGED_HSM
    } else {
        CHALLENGE_KEY_VAULT
    }
}

/// Returned by the service to make hyper drop the connection without answering.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault injection: connection dropped after applying the request")
    }
}

impl std::error::Error for DropConnection {}

/// Accept connections forever.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Arc<App>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, _peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("byok-vault-sim: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let stream = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("byok-vault-sim: TLS handshake failed: {e}");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |req| handle(app.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                let injected =
                    std::error::Error::source(&e).is_some_and(|s| s.is::<DropConnection>());
                if !injected {
                    eprintln!("byok-vault-sim: connection ended: {e}");
                }
            }
        });
    }
}

fn respond(reply: Reply, extra: &[(&str, &str)]) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = Response::builder()
        .status(status)
        .header("x-ms-keyvault-service-version", "1.9.0.0 (byok-vault-sim)")
        .header("x-ms-request-id", hex::encode(rand::random::<[u8; 16]>()))
        .header("cache-control", "no-cache");
    for (k, v) in extra {
        builder = builder.header(*k, *v);
    }
    let body = match reply.body {
        Some(v) => {
            builder = builder.header("content-type", "application/json; charset=utf-8");
            Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(body)).unwrap_or_else(|_| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

fn log(method: &str, path: &str, status: u16, note: &str) {
    eprintln!("byok-vault-sim: {method} {path} -> {status}{note}");
}

/// Is `v` an api-version this simulator speaks: 7.0–7.6 (with an optional preview suffix) or 2025-07-01?
pub fn api_version_ok(v: &str) -> bool {
    if v == "2025-07-01" {
        return true;
    }
    let (base, suffix) = match v.split_once('-') {
        Some((b, s)) => (b, Some(s)),
        None => (v, None),
    };
    let base_ok = matches!(base, "7.0" | "7.1" | "7.2" | "7.3" | "7.4" | "7.5" | "7.6");
    let suffix_ok = match suffix {
        None => true,
        Some("preview") => true,
        Some(s) => s.strip_prefix("preview.").is_some_and(|n| {
            !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit())
        }),
    };
    base_ok && suffix_ok
}

/// The query parameters the simulator reads, percent-decoded (`form_urlencoded`, as
/// a server reads a query string: `%24skiptoken` is `$skiptoken`). Of a repeated
/// parameter the first counts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    pub api_version: Option<String>,
    /// Page size of a list (`maxresults`).
    pub maxresults: Option<String>,
    /// Where a list page starts (`$skiptoken`, which this simulator's `nextLink`s carry).
    pub skiptoken: Option<String>,
}

impl Query {
    pub fn parse(query: &str) -> Query {
        let mut q = Query::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match k.as_ref() {
                "api-version" => &mut q.api_version,
                "maxresults" => &mut q.maxresults,
                "$skiptoken" => &mut q.skiptoken,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.into_owned());
            }
        }
        q
    }
}

/// Why a request is not authenticated, or `None` when it is: it must carry a bearer
/// token, and the pinned one when there is one. The comparison is constant-time
/// (`subtle`), so the pinned token cannot be guessed byte by byte.
fn auth_error(authorization: Option<&str>, pinned: Option<&str>) -> Option<&'static str> {
    let token = authorization
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty());
    match (token, pinned) {
        (None, _) => Some("AKV10000: Request is missing a Bearer or PoP token."),
        (Some(t), Some(p)) if !bool::from(t.as_bytes().ct_eq(p.as_bytes())) => Some(
            "AKV10032: Invalid token: this simulator accepts only the token in its --token-file.",
        ),
        _ => None,
    }
}

async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query().unwrap_or(""));

    // Faults first, before doing anything.
    let n = app.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let f = app.faults;
    for (every, status, code) in [
        (f.every_429, 429, "Throttled"),
        (f.every_503, 503, "ServiceUnavailable"),
    ] {
        if every > 0 && n.is_multiple_of(every) {
            log(&method, &path, status, " (fault injection)");
            let reply = routes::error(
                status,
                code,
                format!("Fault injected by byok-vault-sim (request {n}); retry after 1 second."),
            );
            return Ok(respond(reply, &[("retry-after", "1")]));
        }
    }

    // Challenge authentication.
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(msg) = auth_error(authorization, app.token.as_deref().map(String::as_str)) {
        log(&method, &path, 401, " (challenge)");
        return Ok(respond(
            routes::error(401, "Unauthorized", msg),
            &[("www-authenticate", challenge(&app))],
        ));
    }

    match query.api_version.as_deref() {
        None => {
            log(&method, &path, 400, " (no api-version)");
            return Ok(respond(
                routes::error(
                    400,
                    "BadParameter",
                    "The api-version query parameter is missing; use e.g. api-version=7.6.",
                ),
                &[],
            ));
        }
        Some(v) if !api_version_ok(v) => {
            log(&method, &path, 400, " (api-version)");
            return Ok(respond(
                routes::error(
                    400,
                    "BadParameter",
                    format!("The specified version ({v}) is not recognized. Consider using the latest supported version (2025-07-01)."),
                ),
                &[],
            ));
        }
        Some(_) => {}
    }

    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("https://{}", h.to_ascii_lowercase()));
    let vault = match host {
        Some(h) if app.is_own_vault(&h, &app.base_url) => h,
        _ => app.base_url.clone(),
    };

    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            log(&method, &path, 400, " (body)");
            return Ok(respond(
                routes::error(
                    400,
                    "BadParameter",
                    format!("The request body cannot be read (at most {MAX_BODY} bytes): {e}"),
                ),
                &[],
            ));
        }
    };

    let segments_owned: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(str::to_string)
        .collect();
    let mutating = {
        let segs: Vec<&str> = segments_owned.iter().map(String::as_str).collect();
        routes::is_mutating(&method, &segs)
    };
    let app2 = app.clone();
    let method2 = method.clone();
    let path2 = path.clone();
    // Operations may generate RSA keys (seconds): run them off the async workers.
    let reply = tokio::task::spawn_blocking(move || {
        let segments: Vec<&str> = segments_owned.iter().map(String::as_str).collect();
        let r = routes::Request {
            method: &method2,
            segments,
            vault,
            path: &path2,
            query: &query,
            body: &body,
            now: byok_core::util::unix_now(),
        };
        routes::dispatch(&app2, &r)
    })
    .await
    .unwrap_or_else(|_| routes::error(500, "InternalError", "the operation failed unexpectedly"));

    if mutating && f.every_drop > 0 {
        let m = app.mutations.fetch_add(1, Ordering::SeqCst) + 1;
        if m.is_multiple_of(f.every_drop) {
            log(
                &method,
                &path,
                reply.status,
                " (applied; connection dropped by fault injection)",
            );
            return Err(DropConnection);
        }
    }
    log(&method, &path, reply.status, "");
    Ok(respond(reply, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        for v in [
            "7.0",
            "7.3",
            "7.6",
            "7.5-preview",
            "7.6-preview.2",
            "7.6-preview.123",
            "2025-07-01",
        ] {
            assert!(api_version_ok(v), "{v}");
        }
        for v in [
            "",
            "6.0",
            "7.7",
            "7",
            "7.6-beta",
            "7.6-preview.",
            "7.6-preview.1234",
            "7.6-preview.x",
            "2016-10-01",
            "2025-07-02",
            " 7.6",
        ] {
            assert!(!api_version_ok(v), "{v}");
        }
    }

    #[test]
    fn queries_are_percent_decoded_and_first_wins() {
        let q = Query::parse("api-version=7.6&maxresults=2&%24skiptoken=4&other=x");
        assert_eq!(
            q,
            Query {
                api_version: Some("7.6".into()),
                maxresults: Some("2".into()),
                skiptoken: Some("4".into()),
            }
        );
        let q = Query::parse("$skiptoken=7&api-version=7.5&api-version=7.6");
        assert_eq!(q.skiptoken.as_deref(), Some("7"));
        assert_eq!(q.api_version.as_deref(), Some("7.5"));
        let q = Query::parse("api-version=7.6%2Dpreview.2&maxresults");
        assert_eq!(q.api_version.as_deref(), Some("7.6-preview.2"));
        assert_eq!(q.maxresults.as_deref(), Some(""));
        assert_eq!(Query::parse(""), Query::default());
        // Names are exact: no case folding, no prefix match.
        assert_eq!(
            Query::parse("API-VERSION=7.6&api-versions=7.6"),
            Query::default()
        );
    }

    #[test]
    fn bearer_tokens() {
        // Any token when none is pinned; the scheme is case-insensitive.
        assert_eq!(auth_error(Some("Bearer abc"), None), None);
        assert_eq!(auth_error(Some("bearer  abc "), None), None);
        for missing in [
            None,
            Some("Basic abc"),
            Some("Bearer"),
            Some("Bearer   "),
            Some(""),
        ] {
            let e = auth_error(missing, None).expect("refused");
            assert!(e.starts_with("AKV10000"), "{missing:?}");
        }
        let pinned = Some("s3cret");
        assert_eq!(auth_error(Some("Bearer s3cret"), pinned), None);
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Bearer S3CRET",
            "Bearer x",
        ] {
            let e = auth_error(Some(wrong), pinned).expect("refused");
            assert!(e.starts_with("AKV10032"), "{wrong}");
            assert!(!e.contains("s3cret"), "the token is never echoed");
        }
        assert!(auth_error(None, pinned).is_some());
    }

    #[test]
    fn answers_carry_the_service_headers() {
        let r = respond(
            routes::error(429, "Throttled", "later"),
            &[("retry-after", "1")],
        );
        assert_eq!(r.status(), 429);
        let h = r.headers();
        assert_eq!(h["retry-after"], "1");
        assert_eq!(h["content-type"], "application/json; charset=utf-8");
        assert_eq!(h["x-ms-request-id"].len(), 32);
        assert!(h.contains_key("x-ms-keyvault-service-version"));
        let body = body_of(r);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "Throttled");

        let empty = respond(
            Reply {
                status: 204,
                body: None,
            },
            &[],
        );
        assert_eq!(empty.status(), 204);
        assert!(!empty.headers().contains_key("content-type"));
        assert!(body_of(empty).is_empty());
    }

    /// The whole body of an answer (a `Full` body is ready at once).
    fn body_of(r: Response<Full<Bytes>>) -> Bytes {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(r.into_body().collect()).unwrap().to_bytes()
    }
}
