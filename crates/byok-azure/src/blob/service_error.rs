//! Blob Storage's error answers: the `x-ms-error-code` header and the XML body
//!
//! ```xml
//! <?xml version="1.0" encoding="utf-8"?>
//! <Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.
//! RequestId:…
//! Time:…</Message><AuthenticationErrorDetail>Lifetime validation failed. The token is expired.</AuthenticationErrorDetail></Error>
//! ```
//!
//! decoded with quick-xml (serde), and made one line with a kind: `NotFound` for a
//! missing container or blob, `Service` for the rest (a refused token, a missing role,
//! the service failing).

use super::url::ContainerUrl;
use crate::causes::one_line;
use byok_core::{err, Error};
use reqwest::StatusCode;
use serde::Deserialize;

/// Largest error body byok decodes; a longer one is not the service's error document.
const BODY_LIMIT: usize = 64 * 1024;

/// The `<Error>` document: the fields byok shows; others are ignored.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
struct ErrorBody {
    #[serde(rename = "Code", default)]
    code: Option<String>,
    #[serde(rename = "Message", default)]
    message: Option<String>,
    /// Why a token was refused (e.g. expired).
    #[serde(rename = "AuthenticationErrorDetail", default)]
    auth_detail: Option<String>,
}

impl ErrorBody {
    /// The body's fields; an empty, oversized or non-XML body (an HTML page of a proxy,
    /// a HEAD answer) gives none.
    fn parse(body: &str) -> ErrorBody {
        let body = body.trim_start_matches('\u{feff}').trim();
        if body.is_empty() || body.len() > BODY_LIMIT {
            return ErrorBody::default();
        }
        quick_xml::de::from_str(body).unwrap_or_default()
    }
}

/// The service's error answer, each field one line.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ServiceError {
    pub(crate) code: String,
    message: String,
    detail: String,
}

/// The first line of a text (Azure's messages end with `RequestId:…` and `Time:…` lines).
fn first_line(s: Option<String>) -> String {
    s.as_deref()
        .map(str::trim)
        .and_then(|t| t.lines().next())
        .unwrap_or("")
        .to_string()
}

impl ServiceError {
    /// From the `x-ms-error-code` header (preferred) and the body.
    pub(crate) fn from_parts(header_code: Option<String>, body: &str) -> ServiceError {
        let b = ErrorBody::parse(body);
        let code = header_code
            .filter(|c| !c.trim().is_empty())
            .or(b.code)
            .unwrap_or_default();
        ServiceError {
            code: one_line(&code, 80),
            message: one_line(&first_line(b.message), 240),
            detail: one_line(&first_line(b.auth_detail), 240),
        }
    }

    /// Read the answer's error code and body.
    /// Read the answer's error code and body; a body longer than [`BODY_LIMIT`] is not
    /// read (it is not the service's error document).
    pub(crate) async fn read(resp: reqwest::Response, c: &ContainerUrl) -> ServiceError {
        let header_code = super::header_str(resp.headers(), "x-ms-error-code");
        let body = super::read_capped(resp, BODY_LIMIT as u64, c)
            .await
            .unwrap_or_default();
        ServiceError::from_parts(header_code, &String::from_utf8_lossy(&body))
    }

    /// `HTTP 403 AuthenticationFailed: <detail or message>`.
    fn what(&self, status: StatusCode) -> String {
        let mut s = format!("HTTP {}", status.as_u16());
        if !self.code.is_empty() {
            s = format!("{s} {}", self.code);
        }
        if !self.detail.is_empty() {
            s = format!("{s}: {}", self.detail);
        } else if !self.message.is_empty() {
            s = format!("{s}: {}", self.message);
        }
        s
    }

    /// The one-line error for this answer to a request on container `c` (and `blob`).
    pub(crate) fn into_error(
        self,
        status: StatusCode,
        c: &ContainerUrl,
        blob: Option<&str>,
    ) -> Error {
        let what = self.what(status);
        let container = c.as_str();
        match (status, self.code.as_str()) {
            (StatusCode::NOT_FOUND, "ContainerNotFound") => err!(
                NotFound,
                "the container {container} does not exist ({what}): create it first (byok does \
                 not create containers)"
            ),
            (StatusCode::NOT_FOUND, "BlobNotFound") => err!(
                NotFound,
                "blob {} is not in the container {container} ({what})",
                blob.unwrap_or("?")
            ),
            (StatusCode::NOT_FOUND, _) => err!(
                NotFound,
                "Blob Storage found nothing at {container} ({what}): check the account and \
                 container in the URL"
            ),
            (StatusCode::UNAUTHORIZED, _)
            | (StatusCode::FORBIDDEN, "AuthenticationFailed")
            | (StatusCode::FORBIDDEN, "InvalidAuthenticationInfo") => err!(
                Service,
                "Blob Storage refused the access token ({what}): sign in again and get a token \
                 for the scope https://storage.azure.com/.default"
            ),
            (StatusCode::FORBIDDEN, _) => err!(
                Service,
                "Blob Storage refused access to {container} ({what}): the signed-in identity \
                 needs the role Storage Blob Data Contributor on the container (and the \
                 account's network rules must admit this machine)"
            ),
            _ => err!(Service, "Blob Storage failed at {container} ({what})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;

    const EXPIRED: &str = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.\nRequestId:6b1c0a5e-0001\nTime:2026-01-01T00:00:00.0000000Z</Message><AuthenticationErrorDetail>Lifetime validation failed. The token is expired.</AuthenticationErrorDetail></Error>";

    fn container() -> ContainerUrl {
        ContainerUrl::parse(
            "https://acct.blob.core.windows.net/backups",
            byok_core::keyid::Mode::Ceremony,
        )
        .unwrap()
    }

    #[test]
    fn decodes_the_error_document() {
        let e = ServiceError::from_parts(None, EXPIRED);
        assert_eq!(e.code, "AuthenticationFailed");
        assert_eq!(
            e.message,
            "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature."
        );
        assert_eq!(
            e.detail,
            "Lifetime validation failed. The token is expired."
        );
    }

    #[test]
    fn entities_cdata_and_unknown_elements() {
        let xml = r#"<?xml version="1.0"?><Error><Extra><Nested>1</Nested></Extra><Code>Blob&amp;Not&#x46;ound</Code><Message><![CDATA[a < b]]></Message></Error>"#;
        let e = ServiceError::from_parts(None, xml);
        assert_eq!(e.code, "Blob&NotFound");
        assert_eq!(e.message, "a < b");
        assert_eq!(e.detail, "");
        // Attributes and whitespace around elements.
        let xml =
            "<Error xmlns=\"x\">\n  <Code>X</Code>\n  <Message lang=\"en\">m</Message>\n</Error>";
        let e = ServiceError::from_parts(None, xml);
        assert_eq!((e.code.as_str(), e.message.as_str()), ("X", "m"));
    }

    #[test]
    fn the_header_code_wins_and_bad_bodies_give_nothing() {
        let e = ServiceError::from_parts(Some("ContainerNotFound".into()), EXPIRED);
        assert_eq!(e.code, "ContainerNotFound");
        let e = ServiceError::from_parts(Some(" ".into()), EXPIRED);
        assert_eq!(e.code, "AuthenticationFailed");
        for body in [
            "",
            "<html><body>Proxy error</body>",
            "not xml at all",
            "<Error><Code>unclosed",
        ] {
            let e = ServiceError::from_parts(None, body);
            assert_eq!(e.code, "", "{body}");
            assert_eq!(e.message, "", "{body}");
        }
        let huge = format!(
            "<Error><Code>Big</Code><Message>{}</Message></Error>",
            "x".repeat(BODY_LIMIT)
        );
        assert_eq!(
            ServiceError::from_parts(None, &huge),
            ServiceError::default()
        );
        // Control characters and long texts are flattened and cut.
        let xml = format!(
            "<Error><Code>C\u{7}\tD</Code><Message>{}</Message></Error>",
            "y".repeat(500)
        );
        let e = ServiceError::from_parts(None, &xml);
        assert_eq!(e.code, "C D");
        assert_eq!(e.message.chars().count(), 241);
    }

    #[test]
    fn kinds_and_messages() {
        let c = container();
        let nf = |code: &str| ServiceError::from_parts(Some(code.into()), "");
        let e = nf("ContainerNotFound").into_error(StatusCode::NOT_FOUND, &c, None);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(
            e.message()
                .contains("does not exist (HTTP 404 ContainerNotFound)"),
            "{e}"
        );
        let e = nf("BlobNotFound").into_error(StatusCode::NOT_FOUND, &c, Some("k.backup"));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(
            e.message()
                .starts_with("blob k.backup is not in the container"),
            "{e}"
        );
        let e = nf("").into_error(StatusCode::NOT_FOUND, &c, None);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message().contains("(HTTP 404)"), "{e}");

        let e = ServiceError::from_parts(None, EXPIRED).into_error(StatusCode::FORBIDDEN, &c, None);
        assert_eq!(e.kind(), ErrorKind::Service);
        assert!(e.message().contains("refused the access token (HTTP 403 AuthenticationFailed: Lifetime validation failed. The token is expired.)"), "{e}");
        let e = nf("AuthorizationPermissionMismatch").into_error(StatusCode::FORBIDDEN, &c, None);
        assert!(e.message().contains("Storage Blob Data Contributor"), "{e}");
        let e = nf("").into_error(StatusCode::UNAUTHORIZED, &c, None);
        assert!(
            e.message().contains("refused the access token (HTTP 401)"),
            "{e}"
        );
        let e = nf("ServerBusy").into_error(StatusCode::SERVICE_UNAVAILABLE, &c, None);
        assert_eq!(e.kind(), ErrorKind::Service);
        assert_eq!(
            e.message(),
            "Blob Storage failed at https://acct.blob.core.windows.net/backups (HTTP 503 ServerBusy)"
        );
    }
}
