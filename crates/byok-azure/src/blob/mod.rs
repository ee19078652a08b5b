//! The online copy of key backups: one blob per backup file in an Azure Blob Storage
//! container (feature `network`).
//!
//! Office 365 Customer Key asks for online and offline copies of each key's backup;
//! `byok backup --copy-to CONTAINER_URL` keeps the offline copy on disk and puts the same
//! bytes here. Two REST operations are used, each one request:
//!
//! - [`put_new_blob`]: Put Blob (block blob) with `If-None-Match: *`, so an existing blob
//!   is never overwritten, `Content-MD5` (the service checks it and refuses a corrupted
//!   upload) and the SHA-256 as metadata `x-ms-meta-sha256`;
//! - [`get_blob`]: Get Blob, checked against the MD5 and SHA-256 stored with it.
//!
//! [`url`] checks container URLs and blob names before any request; [`service_error`]
//! decodes the service's XML error answers (quick-xml).
//!
//! Authentication is an Entra ID bearer token for the scope
//! `https://storage.azure.com/.default` (the identity needs the role Storage Blob Data
//! Contributor on the container). The caller brings the token and the one
//! `reqwest::Client` (its trusted CAs, timeouts). Container URLs never carry a query
//! string: a SAS token in a URL would be a secret on the command line, so one is refused.
//!
//! Why hand-written rather than the official `azure_storage_blob` crate: it does support
//! token credentials, a custom transport and conditional requests, but it brings the whole
//! `azure_core` stack (its own pipeline, retry policy and HTTP abstraction over which our
//! `reqwest::Client` would need an adapter) for two requests whose wire form is short,
//! stable and documented. Here every header sent is visible in one place, a failed put is
//! never retried behind our back, and no error message can carry the token.

use byok_core::util::sha256_hex;
use byok_core::{bail, err, Error, Result};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;

mod service_error;
mod url;

use service_error::ServiceError;
pub use url::ContainerUrl;

/// The Blob Storage REST version sent as `x-ms-version`: generally available on Azure and
/// accepted by Azurite 3.35 (tests/azurite).
pub const API_VERSION: &str = "2024-11-04";

/// What the service confirmed for a new blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobReceipt {
    /// The blob's URL (no query string, so no secret).
    pub url: String,
    /// The ETag the service gave the new blob, as sent (with its quotes).
    pub etag: String,
    /// Base64 MD5 of the content. The request carried it (the service refuses the upload
    /// if the bytes it received differ); when the service also returns one, it is checked
    /// equal to ours.
    pub content_md5: String,
    /// Hex SHA-256 of the content, stored with the blob as metadata `sha256`.
    pub sha256: String,
}

/// Base64 MD5, as `Content-MD5` carries it.
fn md5_base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use md5::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
}

/// The headers every request carries. The token is marked sensitive (kept out of Debug).
fn base_headers(token: &str) -> Result<HeaderMap> {
    let token = token.trim();
    if token.is_empty() {
        bail!("the access token for Blob Storage is empty: get one for the scope https://storage.azure.com/.default");
    }
    let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        err!("the access token for Blob Storage has characters a token cannot have: check where it came from")
    })?;
    auth.set_sensitive(true);
    let mut h = HeaderMap::new();
    h.insert(AUTHORIZATION, auth);
    h.insert("x-ms-version", HeaderValue::from_static(API_VERSION));
    Ok(h)
}

/// Store `bytes` as the new block blob `blob_name` in the container; refuse if a blob of
/// that name exists (`If-None-Match: *`): byok never overwrites a backup.
pub async fn put_new_blob(
    http: &reqwest::Client,
    token: &str,
    container: &ContainerUrl,
    blob_name: &str,
    bytes: &[u8],
) -> Result<BlobReceipt> {
    let url = container.blob_url(blob_name)?;
    let md5 = md5_base64(bytes);
    let sha256 = sha256_hex(bytes);
    let mut h = base_headers(token)?;
    h.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
    h.insert("if-none-match", HeaderValue::from_static("*"));
    h.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert("content-md5", header_value(&md5)?);
    // hyper sends no Content-Length for an empty body, and the service requires one.
    h.insert("content-length", HeaderValue::from(bytes.len()));
    h.insert("x-ms-meta-sha256", header_value(&sha256)?);
    let resp = http
        .put(url.clone())
        .headers(h)
        .body(bytes.to_vec())
        .send()
        .await
        .map_err(|e| transport_error(e, container))?;
    let status = resp.status();
    if !status.is_success() {
        let e = ServiceError::read(resp, container).await;
        return Err(match (status, e.code.as_str()) {
            (StatusCode::CONFLICT, _) | (StatusCode::PRECONDITION_FAILED, _) => err!(
                Exists,
                "blob {blob_name} already exists in the container {}; byok never overwrites a \
                 backup: keep the existing blob, or copy to another container",
                container.as_str()
            ),
            (StatusCode::BAD_REQUEST, "Md5Mismatch") => err!(
                Service,
                "Blob Storage received different bytes than were sent for {blob_name} (MD5 \
                 mismatch) and stored nothing: try again"
            ),
            _ => e.into_error(status, container, Some(blob_name)),
        });
    }
    let etag = header_str(resp.headers(), "etag").unwrap_or_default();
    let content_md5 = match header_str(resp.headers(), "content-md5") {
        None => md5,
        Some(got) if got == md5 => md5,
        Some(got) => bail!(
            Integrity,
            "Blob Storage stored {blob_name} with the MD5 {got}, but the bytes sent have {md5}: \
             do not trust this copy; check it with byok and delete it"
        ),
    };
    Ok(BlobReceipt {
        url: url.to_string(),
        etag,
        content_md5,
        sha256,
    })
}

/// Read blob `blob_name` back, checked against the MD5 and the `sha256` metadata stored
/// with it when the service returns them.
pub async fn get_blob(
    http: &reqwest::Client,
    token: &str,
    container: &ContainerUrl,
    blob_name: &str,
) -> Result<Vec<u8>> {
    let url = container.blob_url(blob_name)?;
    let resp = http
        .get(url)
        .headers(base_headers(token)?)
        .send()
        .await
        .map_err(|e| transport_error(e, container))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(ServiceError::read(resp, container).await.into_error(
            status,
            container,
            Some(blob_name),
        ));
    }
    let md5 = header_str(resp.headers(), "content-md5");
    let sha256 = header_str(resp.headers(), "x-ms-meta-sha256");
    let body = read_capped(resp, crate::backup::BACKUP_LIMIT, container).await?;
    if let Some(want) = md5 {
        if md5_base64(&body) != want {
            bail!(
                Integrity,
                "blob {blob_name} read back does not match its stored MD5: the copy is damaged"
            );
        }
    }
    if let Some(want) = sha256 {
        if !sha256_hex(&body).eq_ignore_ascii_case(&want) {
            bail!(
                Integrity,
                "blob {blob_name} read back does not match its stored SHA-256: the copy is damaged"
            );
        }
    }
    Ok(body)
}

/// Read an answer's body, refusing it past `limit` bytes: by its `Content-Length` before
/// reading, or as soon as the body passes the cap (a blob byok wrote is a backup of at
/// most [`crate::backup::BACKUP_LIMIT`] bytes; an endpoint streaming more is refused, not
/// buffered).
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    limit: u64,
    container: &ContainerUrl,
) -> Result<Vec<u8>> {
    let too_long = || {
        err!(
            Service,
            "the answer from Blob Storage at {} is longer than {limit} bytes, more than any backup byok stores: refused unread; check the container URL",
            container.as_str()
        )
    };
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_long());
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| transport_error(e, container))?
    {
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(too_long());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

fn header_value(s: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(s)
        .map_err(|_| err!(Internal, "internal error: a header value is not ASCII"))
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// A failed request before any HTTP status: connection, TLS, timeout. The message
/// walks the error's causes (where rustls says why a certificate was refused). reqwest
/// errors name the URL, which has no query string and so no secret; the token is in a
/// header and never in an error.
fn transport_error(e: reqwest::Error, container: &ContainerUrl) -> Error {
    let detail = crate::causes::chain_text(&e, 200);
    let hint = if crate::causes::has_cause::<rustls::Error>(&e) {
        "the storage endpoint's TLS certificate is not trusted: for an endpoint with a private CA \
         (an emulator, a TLS-inspecting proxy) pass its CA with --ca-file"
    } else if e.is_timeout() {
        "no answer in time: check the network path to the storage account and try again"
    } else if e.is_connect() {
        "check the container URL's host and port, and the network path to it"
    } else {
        "check the container URL and the network, and try again"
    };
    err!(
        Service,
        "cannot reach Blob Storage at {} ({detail}); {hint}",
        container.as_str()
    )
    .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;

    #[test]
    fn token_checks_never_echo_it() {
        assert_eq!(base_headers("  ").unwrap_err().kind(), ErrorKind::BadInput);
        let e = base_headers("abc\ndef-SECRET").unwrap_err().to_string();
        assert!(!e.contains("SECRET"), "{e}");
        let h = base_headers(" SECRET ").unwrap();
        assert!(!format!("{h:?}").contains("SECRET"));
        assert_eq!(h.get(AUTHORIZATION).unwrap().as_bytes(), b"Bearer SECRET");
        assert!(h.get(AUTHORIZATION).unwrap().is_sensitive());
        assert_eq!(h.get("x-ms-version").unwrap(), API_VERSION);
    }

    #[test]
    fn md5_is_base64() {
        assert_eq!(md5_base64(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
        assert_eq!(md5_base64(b"abc"), "kAFQmDzST7DWlj99KOF/cg==");
    }

    #[test]
    fn headers_are_read_trimmed() {
        let mut h = HeaderMap::new();
        h.insert("etag", HeaderValue::from_static(" \"0x1\" "));
        assert_eq!(header_str(&h, "etag").as_deref(), Some("\"0x1\""));
        assert_eq!(header_str(&h, "content-md5"), None);
        assert!(header_value("ascii").is_ok());
        assert_eq!(header_value("é\n").unwrap_err().kind(), ErrorKind::Internal);
    }

    #[test]
    fn transport_errors_are_service_errors_without_the_token() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Nothing listens on port 9 of this machine (discard): the connection is refused.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap();
        let c = &ContainerUrl::parse(
            "http://127.0.0.1:9/devstoreaccount1/backups",
            byok_core::keyid::Mode::Rehearsal,
        )
        .unwrap();
        let e = rt
            .block_on(put_new_blob(&http, "SECRET-token", c, "k.backup", b"x"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Service);
        assert!(
            e.message().starts_with(
                "cannot reach Blob Storage at http://127.0.0.1:9/devstoreaccount1/backups ("
            ),
            "{e}"
        );
        assert!(!e.message().contains("SECRET"), "{e}");
        assert!(!e.to_string().contains('\n'));
        let e = rt
            .block_on(get_blob(&http, "SECRET-token", c, "k.backup"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Service);
    }
}
