//! The online copy of key backups: one blob per backup file in an Azure Blob Storage
//! container (feature `network`).
//!
//! Office 365 Customer Key asks for online and offline copies of each key's backup;
//! `byok backup --copy-to CONTAINER_URL` keeps the offline copy on disk and puts the same
//! bytes here. Three REST operations are used, each one request:
//!
//! - [`put_new_blob`]: Put Blob (block blob) with `If-None-Match: *`, so an existing blob
//!   is never overwritten, `Content-MD5` (the service checks it and refuses a corrupted
//!   upload) and the SHA-256 as metadata `x-ms-meta-sha256`;
//! - [`get_blob`]: Get Blob, checked against the MD5 and SHA-256 stored with it;
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
//! `reqwest::Client` would need an adapter) for three requests whose wire form is short,
//! stable and documented. Here every header sent is visible in one place, a failed put is
//! never retried behind our back, and no error message can carry the token.

use base64::Engine as _;
use byok_core::{bail, err, Error, Result};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{StatusCode, Url};
use sha2::Digest as _;
use std::net::IpAddr;

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

/// A checked container URL: `https://ACCOUNT.blob.core.windows.net/CONTAINER`, or for a
/// local emulator (an IP address or `localhost` host) the path-style
/// `http(s)://127.0.0.1:PORT/ACCOUNT/CONTAINER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerUrl {
    url: Url,
    container: String,
}

impl ContainerUrl {
    /// Check a container URL as given on the command line; the error says what to fix.
    pub fn parse(s: &str) -> Result<ContainerUrl> {
        let fix = "give it as https://ACCOUNT.blob.core.windows.net/CONTAINER";
        if s.contains('?') {
            bail!(
                "the container URL must not have a query string: a SAS token there would put a \
                 secret on the command line; {fix} and sign in with Entra ID instead"
            );
        }
        let url = Url::parse(s.trim())
            .map_err(|e| err!("the container URL is not a URL ({e}); {fix}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            bail!("the container URL must not contain a user name or password; {fix}");
        }
        if url.fragment().is_some() {
            bail!("the container URL must not have a #fragment; {fix}");
        }
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.to_ascii_lowercase(),
            _ => bail!("the container URL has no host; {fix}"),
        };
        // An IP address or localhost: a local emulator, with path-style URLs.
        let ip = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        let loopback = host == "localhost" || ip.is_some_and(|a| a.is_loopback());
        let emulator = host == "localhost" || ip.is_some();
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => bail!(
                "the container URL must use https (plain http is allowed only to this machine, \
                 for an emulator); {fix}"
            ),
            other => bail!("the container URL has the scheme {other}:, not https:; {fix}"),
        }
        let segments: Vec<&str> = url
            .path()
            .trim_end_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let want = if emulator { 2 } else { 1 };
        if segments.len() != want {
            if emulator {
                bail!(
                    "a container URL for a local emulator has the path /ACCOUNT/CONTAINER \
                     (e.g. https://127.0.0.1:10000/devstoreaccount1/backups), not {:?}",
                    url.path()
                );
            }
            bail!(
                "the container URL must name exactly one container in its path (it has {:?}); \
                 {fix}",
                url.path()
            );
        }
        let container = segments[want - 1];
        check_container_name(container)?;
        let mut url = url.clone();
        url.set_path(&format!("/{}", segments.join("/")));
        Ok(ContainerUrl {
            container: container.to_string(),
            url,
        })
    }

    /// The container's name.
    pub fn container(&self) -> &str {
        &self.container
    }

    /// The container URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    /// The URL of blob `name` in this container (the name checked and percent-encoded).
    pub fn blob_url(&self, name: &str) -> Result<Url> {
        check_blob_name(name)?;
        let mut url = self.url.clone();
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|_| err!("the container URL cannot take a blob name"))?;
            // `push` percent-encodes each segment; '/' in a blob name is a virtual folder.
            for part in name.split('/') {
                segs.push(part);
            }
        }
        Ok(url)
    }
}

/// Container names: 3 to 63 of a-z, 0-9 and '-', starting with a letter or digit, no "--".
fn check_container_name(name: &str) -> Result<()> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !ok {
        bail!(
            "{name:?} is not a valid container name: 3 to 63 lowercase letters, digits and \
             single hyphens, starting and ending with a letter or digit"
        );
    }
    Ok(())
}

/// Blob names: 1 to 1024 characters, no control characters, no empty, "." or ".." path
/// segments (they would be normalised away by URL handling), not ending in '.'.
fn check_blob_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 1024
        || name.chars().any(|c| c.is_control() || c == '\\')
        || name.ends_with('.')
        || name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if bad {
        bail!(
            "{:?} is not a usable blob name: 1 to 1024 characters, no control characters or \
             backslashes, no empty, '.' or '..' path segments, not ending in '.'",
            name.escape_debug().to_string()
        );
    }
    Ok(())
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
    container_url: &str,
    blob_name: &str,
    bytes: &[u8],
) -> Result<BlobReceipt> {
    let container = ContainerUrl::parse(container_url)?;
    let url = container.blob_url(blob_name)?;
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes));
    let sha256 = hex::encode(sha2::Sha256::digest(bytes));
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
        .map_err(|e| transport_error(&e, &container))?;
    let status = resp.status();
    if !status.is_success() {
        let e = ServiceError::read(resp).await;
        return Err(match (status, e.code.as_str()) {
            (StatusCode::CONFLICT, _) | (StatusCode::PRECONDITION_FAILED, _) => err!(
                "blob {blob_name} already exists in the container {}; byok never overwrites a \
                 backup: keep the existing blob, or copy to another container",
                container.as_str()
            ),
            (StatusCode::BAD_REQUEST, "Md5Mismatch") => err!(
                "Blob Storage received different bytes than were sent for {blob_name} (MD5 \
                 mismatch) and stored nothing: try again"
            ),
            _ => e.into_error(status, &container, Some(blob_name)),
        });
    }
    let etag = header_str(resp.headers(), "etag").unwrap_or_default();
    let content_md5 = match header_str(resp.headers(), "content-md5") {
        None => md5,
        Some(got) if got == md5 => md5,
        Some(got) => bail!(
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
    container_url: &str,
    blob_name: &str,
) -> Result<Vec<u8>> {
    let container = ContainerUrl::parse(container_url)?;
    let url = container.blob_url(blob_name)?;
    let resp = http
        .get(url)
        .headers(base_headers(token)?)
        .send()
        .await
        .map_err(|e| transport_error(&e, &container))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(ServiceError::read(resp)
            .await
            .into_error(status, &container, Some(blob_name)));
    }
    let md5 = header_str(resp.headers(), "content-md5");
    let sha256 = header_str(resp.headers(), "x-ms-meta-sha256");
    let body = resp
        .bytes()
        .await
        .map_err(|e| transport_error(&e, &container))?
        .to_vec();
    if let Some(want) = md5 {
        let got = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body));
        if got != want {
            bail!("blob {blob_name} read back does not match its stored MD5: the copy is damaged");
        }
    }
    if let Some(want) = sha256 {
        if !hex::encode(sha2::Sha256::digest(&body)).eq_ignore_ascii_case(&want) {
            bail!(
                "blob {blob_name} read back does not match its stored SHA-256: the copy is damaged"
            );
        }
    }
    Ok(body)
}

/// The inner texts of the elements `<tag>…</tag>` in `xml`, not nested in each other.
/// A tolerant scan for the few simple shapes of the Blob Storage answers; `<tag/>` and
/// attributes are understood, CDATA is not (the service does not send it).
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let close = format!("</{tag}>");
    let mut rest = xml;
    while let Some(i) = rest.find(&format!("<{tag}")) {
        let after = &rest[i + tag.len() + 1..];
        // Must be the whole tag name: followed by '>', '/' or whitespace.
        let Some(c) = after.chars().next() else { break };
        if !(c == '>' || c == '/' || c.is_whitespace()) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        if after[..gt].ends_with('/') {
            out.push("");
            rest = &after[gt + 1..];
            continue;
        }
        let body = &after[gt + 1..];
        let Some(end) = body.find(&close) else { break };
        out.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    out
}

/// Undo XML's five entities and numeric character references.
fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(semi) = tail.find(';').filter(|&n| n <= 12) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let ent = &tail[1..semi];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let n = if let Some(h) = ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                n.and_then(char::from_u32)
            }
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn header_value(s: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(s).map_err(|_| err!("internal error: a header value is not ASCII"))
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// One line from text the service or a library wrote: no control characters, bounded.
fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

/// A failed request before any HTTP status: connection, TLS, timeout. The message
/// walks the error's sources (where rustls says why a certificate was refused). reqwest
/// errors name the URL, which has no query string and so no secret; the token is in a
/// header and never in an error.
fn transport_error(e: &reqwest::Error, container: &ContainerUrl) -> Error {
    let mut parts: Vec<String> = Vec::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        let t = one_line(&s.to_string(), 200);
        if !t.is_empty() && !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    let detail = parts.join(": ");
    let lower = detail.to_ascii_lowercase();
    let hint = if lower.contains("certificate") || lower.contains("unknownissuer") {
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
        "cannot reach Blob Storage at {} ({detail}); {hint}",
        container.as_str()
    )
}

/// The service's error answer: `x-ms-error-code` and the XML `<Code>`/`<Message>`.
struct ServiceError {
    code: String,
    message: String,
    /// `<AuthenticationErrorDetail>`: why a token was refused (e.g. expired).
    detail: String,
}

impl ServiceError {
    async fn read(resp: reqwest::Response) -> ServiceError {
        let header_code = header_str(resp.headers(), "x-ms-error-code");
        let body = resp.text().await.unwrap_or_default();
        let body_code = elements(&body, "Code").into_iter().next().map(xml_unescape);
        // Azure's message ends with "RequestId:… Time:…" lines: keep the first line.
        let message = elements(&body, "Message")
            .into_iter()
            .next()
            .map(|m| xml_unescape(m.lines().next().unwrap_or("")))
            .unwrap_or_default();
        let detail = elements(&body, "AuthenticationErrorDetail")
            .into_iter()
            .next()
            .map(|m| xml_unescape(m.lines().next().unwrap_or("")))
            .unwrap_or_default();
        ServiceError {
            code: one_line(&header_code.or(body_code).unwrap_or_default(), 80),
            message: one_line(&message, 240),
            detail: one_line(&detail, 240),
        }
    }

    fn into_error(self, status: StatusCode, c: &ContainerUrl, blob: Option<&str>) -> Error {
        let what = format!(
            "HTTP {}{}{}",
            status.as_u16(),
            if self.code.is_empty() {
                String::new()
            } else {
                format!(" {}", self.code)
            },
            match (self.message.is_empty(), self.detail.is_empty()) {
                (_, false) => format!(": {}", self.detail),
                (false, true) => format!(": {}", self.message),
                (true, true) => String::new(),
            },
        );
        let container = c.as_str();
        match (status, self.code.as_str()) {
            (StatusCode::NOT_FOUND, "ContainerNotFound") => err!(
                "the container {container} does not exist ({what}): create it first (byok does \
                 not create containers)"
            ),
            (StatusCode::NOT_FOUND, "BlobNotFound") => err!(
                "blob {} is not in the container {container} ({what})",
                blob.unwrap_or("?")
            ),
            (StatusCode::NOT_FOUND, _) => err!(
                "Blob Storage found nothing at {container} ({what}): check the account and \
                 container in the URL"
            ),
            (StatusCode::UNAUTHORIZED, _)
            | (StatusCode::FORBIDDEN, "AuthenticationFailed")
            | (StatusCode::FORBIDDEN, "InvalidAuthenticationInfo") => err!(
                "Blob Storage refused the access token ({what}): sign in again and get a token \
                 for the scope https://storage.azure.com/.default"
            ),
            (StatusCode::FORBIDDEN, _) => err!(
                "Blob Storage refused access to {container} ({what}): the signed-in identity \
                 needs the role Storage Blob Data Contributor on the container (and the \
                 account's network rules must admit this machine)"
            ),
            _ => err!("Blob Storage failed at {container} ({what})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_urls() {
        let c = ContainerUrl::parse("https://acct.blob.core.windows.net/backups/").unwrap();
        assert_eq!(c.container(), "backups");
        assert_eq!(c.as_str(), "https://acct.blob.core.windows.net/backups");
        let c = ContainerUrl::parse("http://127.0.0.1:10000/devstoreaccount1/backups").unwrap();
        assert_eq!(c.container(), "backups");
        ContainerUrl::parse("http://[::1]:10000/devstoreaccount1/backups").unwrap();
        ContainerUrl::parse("http://localhost:10000/devstoreaccount1/backups").unwrap();

        let refused = |u: &str, says: &str| {
            let e = ContainerUrl::parse(u).unwrap_err().to_string();
            assert!(e.contains(says), "{u}: {e}");
        };
        refused(
            "http://acct.blob.core.windows.net/backups",
            "must use https",
        );
        refused(
            "http://203.0.113.7:10000/devstoreaccount1/backups",
            "must use https",
        );
        refused(
            "https://acct.blob.core.windows.net/backups?sv=2024&sig=SECRET",
            "query string",
        );
        refused(
            "https://acct.blob.core.windows.net/backups?",
            "query string",
        );
        refused(
            "https://acct.blob.core.windows.net/",
            "exactly one container",
        );
        refused(
            "https://acct.blob.core.windows.net",
            "exactly one container",
        );
        refused(
            "https://acct.blob.core.windows.net/a/b",
            "exactly one container",
        );
        refused("https://127.0.0.1:10000/backups", "/ACCOUNT/CONTAINER");
        refused(
            "https://acct.blob.core.windows.net/Backups",
            "not a valid container name",
        );
        refused(
            "https://acct.blob.core.windows.net/a--b",
            "not a valid container name",
        );
        refused(
            "https://u:p@acct.blob.core.windows.net/backups",
            "user name or password",
        );
        refused("ftp://acct.blob.core.windows.net/backups", "scheme ftp");
        refused("not a url", "not a URL");
        // No message echoes a SAS signature.
        let e = ContainerUrl::parse("https://a.blob.core.windows.net/c?sig=SECRET")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("SECRET"));
    }

    #[test]
    fn blob_urls() {
        let c = ContainerUrl::parse("https://acct.blob.core.windows.net/backups").unwrap();
        assert_eq!(
            c.blob_url("k1/key 1#v?.backup").unwrap().as_str(),
            "https://acct.blob.core.windows.net/backups/k1/key%201%23v%3F.backup"
        );
        for bad in ["", "a/../b", "a//b", "/a", "a.", "a\nb", "a\\b", "."] {
            assert!(c.blob_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn list_xml() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="x" ContainerName="c"><Prefix/><Blobs><Blob><Name>a&amp;b</Name><Properties><Content-MD5>x</Content-MD5></Properties></Blob><Blob><Name>k/&#x41;</Name></Blob></Blobs><NextMarker>m&lt;1</NextMarker></EnumerationResults>"#;
        let blobs = elements(xml, "Blobs")[0];
        let names: Vec<String> = elements(blobs, "Blob")
            .into_iter()
            .map(|b| xml_unescape(elements(b, "Name")[0]))
            .collect();
        assert_eq!(names, ["a&b", "k/A"]);
        assert_eq!(xml_unescape(elements(xml, "NextMarker")[0]), "m<1");
        assert_eq!(elements("<NextMarker />", "NextMarker"), [""]);
        assert!(elements("<Blobsx>1</Blobsx>", "Blobs").is_empty());
        assert_eq!(xml_unescape("&bogus; & &#1114112;"), "&bogus; & &#1114112;");
    }

    #[test]
    fn token_checks_never_echo_it() {
        assert!(base_headers("  ").is_err());
        let e = base_headers("abc\ndef-SECRET").unwrap_err().to_string();
        assert!(!e.contains("SECRET"), "{e}");
        let h = base_headers("SECRET").unwrap();
        assert!(!format!("{h:?}").contains("SECRET"));
    }
}
