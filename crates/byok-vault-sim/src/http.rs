//! HTTPS front end: TLS accept, HTTP/1.1 (hyper), fault injection, challenge
//! authentication, `api-version` checks, body limits, and the JSON answer.
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

/// Largest request body accepted (a 4096-bit BYOK package is about 4 KiB).
const MAX_BODY: usize = 1 << 20;

const CHALLENGE: &str = "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://vault.azure.net\"";

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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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

/// The value of query parameter `name` (not percent-decoded).
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Constant-time comparison, so the pinned token cannot be guessed byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();

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
    let token = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty());
    let auth_error = match (token, &app.token) {
        (None, _) => Some("AKV10000: Request is missing a Bearer or PoP token."),
        (Some(t), Some(pinned)) if !same(t.as_bytes(), pinned.as_bytes()) => Some(
            "AKV10032: Invalid token: this simulator accepts only the token in its --token-file.",
        ),
        _ => None,
    };
    if let Some(msg) = auth_error {
        log(&method, &path, 401, " (challenge)");
        return Ok(respond(
            routes::error(401, "Unauthorized", msg),
            &[("www-authenticate", CHALLENGE)],
        ));
    }

    match query_param(&query, "api-version") {
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
            now: now(),
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
