//! The HTTP transport under the Key Vault SDK: byok's own reqwest client (rustls with
//! ring, extra CAs, timeouts, no redirects), with two rules the SDK does not have.
//!
//! - **No blind retry of writes.** The SDK retries any request whose connection broke,
//!   writes included, so a dropped import would add a second key version. Here a broken
//!   request that is not [`safe_to_repeat`] is wrapped in [`WriteOutcomeUnknown`], which
//!   the SDK does not retry; the callers look at what the vault holds and decide.
//!   Requests that never reached the server, and 429/5xx answers, are retried by the SDK
//!   with backoff, honouring `Retry-After`.
//! - **TLS failures fail at once**, with a message about `--ca-file`, instead of a minute
//!   of retries.
//! - **Answers are read whole here, capped** ([`answer_limit`]: 1 MiB, a backup 6 MiB):
//!   the SDK would buffer any body, so a hostile or broken endpoint streaming gigabytes
//!   would cost that much memory. A longer answer is refused (a `Content-Length` over the
//!   cap before its body is read, a longer body as soon as it passes the cap), and so is
//!   an answer whose JSON names a key twice (serde keeps the last, a person reading it
//!   may take the first). Neither is retried.

use super::Connection;
use crate::causes::has_cause;
use byok_core::{bail, err, Result};

/// What the transport wraps a write in when its connection broke after it was sent: the
/// vault may or may not have applied it. [`super::sdk_error`] finds it among the error's
/// causes and gives the error the kind `OutcomeUnknown`.
#[derive(Debug)]
pub(crate) struct WriteOutcomeUnknown(pub(crate) azure_core::Error);

impl std::fmt::Display for WriteOutcomeUnknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the connection broke after the request was sent")
    }
}

impl std::error::Error for WriteOutcomeUnknown {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// What the transport wraps a refused answer in (too long, or JSON naming a key twice):
/// its text is the one-line reason, which [`super::sdk_error`] shows as it is.
#[derive(Debug)]
pub(crate) struct AnswerRefused {
    pub(crate) reason: String,
    /// A duplicate JSON key (an `Integrity` error) rather than a size (`Service`).
    pub(crate) duplicate: bool,
}

impl std::fmt::Display for AnswerRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for AnswerRefused {}

/// Largest answer byok reads from a vault or a token endpoint: a KeyBundle, an error or
/// a token is a few KB; a Managed HSM attestation some tens of KB.
pub(crate) const ANSWER_LIMIT: u64 = 1 << 20;

/// Largest backup answer: the base64 of a backup of up to [`crate::backup::BACKUP_LIMIT`]
/// bytes, in JSON.
pub(crate) const BACKUP_ANSWER_LIMIT: u64 = crate::backup::BACKUP_LIMIT / 3 * 4 + (64 << 10);

/// The cap on the answer to a request to `path`.
pub(crate) fn answer_limit(path: &str) -> u64 {
    if path.trim_end_matches('/').ends_with("/backup") {
        BACKUP_ANSWER_LIMIT
    } else {
        ANSWER_LIMIT
    }
}

fn refused(reason: String, duplicate: bool) -> azure_core::Error {
    let msg = reason.clone();
    azure_core::Error::with_error(
        azure_core::error::ErrorKind::Other,
        AnswerRefused { reason, duplicate },
        msg,
    )
}

/// The refusal of an answer longer than `limit` bytes from `host`.
fn too_long(host: &str, limit: u64) -> azure_core::Error {
    refused(
        format!(
            "the answer from {host} is longer than {limit} bytes, far more than any Key Vault answer: refused unread; check the vault URL and any proxy in between"
        ),
        false,
    )
}

/// Read `resp`'s body whole, refusing it past `limit` bytes (by its `Content-Length`,
/// or as soon as the body passes the cap) and when its JSON names a key twice.
async fn read_capped(
    resp: azure_core::http::AsyncRawResponse,
    host: &str,
    limit: u64,
) -> azure_core::Result<azure_core::http::AsyncRawResponse> {
    use futures::StreamExt;
    let (status, headers, mut body) = resp.deconstruct();
    let declared = headers
        .get_optional_str(&azure_core::http::headers::CONTENT_LENGTH)
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_long(host, limit));
    }
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(too_long(host, limit));
        }
        buf.extend_from_slice(&chunk);
    }
    if let Err(e) = byok_core::json::check_unique_keys(&buf) {
        return Err(refused(
            format!(
                "the answer from {host} is refused: {}; check the vault URL and any proxy in between",
                e.message()
            ),
            true,
        ));
    }
    Ok(azure_core::http::AsyncRawResponse::from_bytes(
        status, headers, buf,
    ))
}

/// The message of a TLS failure (the transport's and the blob copy's).
pub(crate) const TLS_UNTRUSTED: &str = "TLS: the server's certificate is not trusted; for the simulator or a proxy give its CA with --ca-file or BYOK_CA_FILE";

/// The HTTP transport: our reqwest client, with writes never retried blind and TLS
/// failures never retried. With an `origin` (`https://host[:port]`, the vault's), it
/// sends nothing anywhere else: the SDK follows a list's `nextLink` wherever it points,
/// with the vault's bearer token, so a hostile answer could otherwise send the token to
/// a host of its choosing. (The credentials' transport has no origin: it reaches Entra
/// ID or the managed identity endpoint.)
#[derive(Debug)]
pub(crate) struct ByokTransport {
    pub(crate) client: reqwest::Client,
    pub(crate) origin: Option<String>,
}

/// `scheme://host[:port]` of a URL, lowercase, the port only when it is not the
/// scheme's default.
pub(crate) fn origin_of(url: &azure_core::http::Url) -> String {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// The refusal of a request to another origin than the vault's.
fn foreign_origin(got: &str, vault: &str) -> azure_core::Error {
    let reason = format!(
        "the vault's answer pointed byok to {got}, which is not the vault {vault}: refused, nothing was sent there; check the vault URL and any proxy in between"
    );
    refused(reason, true)
}

/// Requests that change nothing, or whose repetition changes nothing: reads, and the
/// POSTs that only compute (backup, wrapKey, unwrapKey).
pub(crate) fn safe_to_repeat(method: azure_core::http::Method, path: &str) -> bool {
    use azure_core::http::Method;
    let path = path.trim_end_matches('/');
    matches!(method, Method::Get | Method::Head)
        || (method == Method::Post
            && (path.ends_with("/backup")
                || path.ends_with("/wrapkey")
                || path.ends_with("/unwrapkey")))
}

/// What a failed request becomes: a TLS refusal is not retried; a broken request that
/// is not safe to repeat becomes "outcome unknown", which is not retried either.
fn classify(e: azure_core::Error, repeatable: bool) -> azure_core::Error {
    use azure_core::error::ErrorKind;
    if has_cause::<rustls::Error>(&e) {
        azure_core::Error::with_error(ErrorKind::Other, e, TLS_UNTRUSTED)
    } else if matches!(e.kind(), ErrorKind::Io) && !repeatable {
        azure_core::Error::with_error(
            ErrorKind::Other,
            WriteOutcomeUnknown(e),
            "byok: the connection broke after the request was sent",
        )
    } else {
        e
    }
}

#[async_trait::async_trait]
impl azure_core::http::HttpClient for ByokTransport {
    async fn execute_request(
        &self,
        req: &azure_core::http::Request,
    ) -> azure_core::Result<azure_core::http::AsyncRawResponse> {
        if let Some(vault) = &self.origin {
            let got = origin_of(req.url());
            if &got != vault {
                return Err(foreign_origin(&got, vault));
            }
        }
        let repeatable = safe_to_repeat(req.method(), req.url().path());
        let host = req.url().host_str().unwrap_or("the server").to_string();
        let resp = self
            .client
            .execute_request(req)
            .await
            .map_err(|e| classify(e, repeatable))?;
        // A body that breaks off is classified like a broken request: a write's outcome
        // is unknown.
        read_capped(resp, &host, answer_limit(req.url().path()))
            .await
            .map_err(|e| classify(e, repeatable))
    }
}

/// The one reqwest client for the vault and the blob copy.
pub(crate) fn http_client(conn: &Connection) -> Result<reqwest::Client> {
    http_client_with_ca(conn.ca_file.as_deref())
}

/// byok's reqwest client (rustls with ring, timeouts, no redirects), trusting the CAs of
/// `ca_file` besides the system's: the vault's, the blob copy's and OpenBao's.
pub(crate) fn http_client_with_ca(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .read_timeout(std::time::Duration::from_secs(60))
        .timeout(std::time::Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = ca_file {
        let pem = byok_core::fsutil::read_limited(path, 1 << 20, "CA file")?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            err!(
                "CA file {} is not a PEM bundle of certificates ({e})",
                path.display()
            )
        })?;
        if certs.is_empty() {
            bail!("CA file {} holds no certificate", path.display());
        }
        // Extra CAs are added to the system's, not put in their place.
        b = b.tls_certs_merge(certs);
    }
    b.build()
        .map_err(|e| err!(Service, "cannot set up HTTPS ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::error::ErrorKind;
    use azure_core::http::Method;

    #[test]
    fn reads_and_computing_posts_are_repeatable() {
        for (m, p) in [
            (Method::Get, "/keys/k"),
            (Method::Get, "/keys/k/0123/attestation"),
            (Method::Head, "/keys/k"),
            (Method::Post, "/keys/k/backup"),
            (Method::Post, "/keys/k/0123/wrapkey"),
            (Method::Post, "/keys/k/0123/unwrapkey"),
            (Method::Post, "/keys/k/0123/unwrapkey/"),
        ] {
            assert!(safe_to_repeat(m, p), "{m:?} {p}");
        }
    }

    #[test]
    fn writes_are_not_repeatable() {
        for (m, p) in [
            (Method::Put, "/keys/k"),
            (Method::Post, "/keys/k/create"),
            (Method::Post, "/keys/restore"),
            (Method::Post, "/keys/k/0123/encrypt"),
            (Method::Post, "/keys/k/0123/sign"),
            (Method::Post, "/keys/backup-keys/create"),
            (Method::Patch, "/keys/k/0123"),
            (Method::Delete, "/keys/k"),
            (Method::Delete, "/deletedkeys/k"),
            (Method::Put, "/keys/k/backup"),
        ] {
            assert!(!safe_to_repeat(m, p), "{m:?} {p}");
        }
    }

    #[test]
    fn broken_writes_become_outcome_unknown() {
        let io = || azure_core::Error::with_message(ErrorKind::Io, "connection reset");
        let e = classify(io(), false);
        assert!(has_cause::<WriteOutcomeUnknown>(&e));
        assert!(matches!(e.kind(), ErrorKind::Other));
        // A read is left to the SDK's retries.
        let e = classify(io(), true);
        assert!(!has_cause::<WriteOutcomeUnknown>(&e));
        assert!(matches!(e.kind(), ErrorKind::Io));
        // A connection that never opened was never sent: retried even for a write.
        let e = classify(
            azure_core::Error::with_message(ErrorKind::Connection, "refused"),
            false,
        );
        assert!(!has_cause::<WriteOutcomeUnknown>(&e));
    }

    #[test]
    fn tls_failures_say_ca_file() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let e = classify(azure_core::Error::new(ErrorKind::Io, io), false);
        assert!(e.to_string().contains("--ca-file"), "{e}");
        assert!(
            !has_cause::<WriteOutcomeUnknown>(&e),
            "a TLS refusal was never sent"
        );
    }

    #[test]
    fn ca_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let conn = |p: Option<std::path::PathBuf>| Connection {
            ca_file: p,
            access_token_file: None,
            mode: byok_core::Mode::Ceremony,
        };
        http_client(&conn(None)).unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let e = http_client(&conn(Some(empty))).unwrap_err();
        assert_eq!(e.kind(), byok_core::ErrorKind::BadInput);
        assert!(e.message().contains("holds no certificate"), "{e}");
        let missing = dir.path().join("missing.pem");
        assert!(http_client(&conn(Some(missing))).is_err());
    }

    /// A list's nextLink pointing off the vault (another host, port or scheme) is
    /// refused by the transport before anything is sent, so the vault's token never
    /// leaves for it; the vault's own origin passes the check.
    #[test]
    fn requests_off_the_vaults_origin_are_refused_unsent() {
        use azure_core::http::{HttpClient, Request, Url};
        let conn = super::super::Connection {
            ca_file: None,
            access_token_file: None,
            mode: byok_core::Mode::Ceremony,
        };
        let t = ByokTransport {
            client: http_client(&conn).unwrap(),
            origin: Some("https://contoso.vault.azure.net".into()),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for url in [
            "https://evil.example/keys/k/versions?$skiptoken=1",
            "https://contoso.vault.azure.net:8443/keys/k/versions",
            "http://contoso.vault.azure.net/keys/k/versions",
            "https://contoso.vault.azure.net.evil.example/keys",
            "https://user@evil.example/keys",
        ] {
            let req = Request::new(Url::parse(url).unwrap(), Method::Get);
            let e = rt.block_on(t.execute_request(&req)).unwrap_err();
            assert!(
                e.to_string()
                    .contains("which is not the vault https://contoso.vault.azure.net"),
                "{url}: {e}"
            );
        }
        assert_eq!(
            origin_of(&Url::parse("https://Contoso.Vault.Azure.Net:443/keys/k").unwrap()),
            "https://contoso.vault.azure.net"
        );
        assert_eq!(
            origin_of(&Url::parse("https://127.0.0.1:4443/keys").unwrap()),
            "https://127.0.0.1:4443"
        );
    }
}
