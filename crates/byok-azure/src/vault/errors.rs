//! One line, with a kind, for an error of the Key Vault SDK: the HTTP status, the
//! service's error code and message, and what to do.
//!
//! Kinds: a write whose connection broke (a [`WriteOutcomeUnknown`] among the causes) is
//! `OutcomeUnknown`; 404 is `NotFound`; 409 (a key name taken, also by a deleted key) is
//! `Exists`; everything else (HTTP errors, TLS, credentials) is `Service`.

use super::transport::{AnswerRefused, WriteOutcomeUnknown};
use crate::causes::{chain_text, has_cause};
use byok_core::{Error, ErrorKind};
use serde_json::Value;

/// One line for an SDK error from doing `what`.
pub fn sdk_error(what: &str, e: azure_core::Error) -> Error {
    if let Some(r) = crate::causes::find_cause::<AnswerRefused>(&e) {
        let kind = if r.duplicate {
            ErrorKind::Integrity
        } else {
            ErrorKind::Service
        };
        let msg = format!("{what} failed: {}", r.reason);
        return Error::new(kind, msg).with_source(e);
    }
    let detail = match http_detail(&e) {
        Some(d) => d,
        // The SDK's top message often hides the reason: the causes say it.
        None => chain_text(&e, 300),
    };
    let kind = if has_cause::<WriteOutcomeUnknown>(&e) {
        ErrorKind::OutcomeUnknown
    } else {
        match e.http_status().map(u16::from) {
            Some(404) => ErrorKind::NotFound,
            Some(409) => ErrorKind::Exists,
            _ => ErrorKind::Service,
        }
    };
    Error::new(kind, format!("{what} failed: {detail}")).with_source(e)
}

/// `HTTP <status> <code>: <message><hint>` for an HTTP error answer.
fn http_detail(e: &azure_core::Error) -> Option<String> {
    let azure_core::error::ErrorKind::HttpResponse {
        status,
        error_code,
        raw_response,
    } = e.kind()
    else {
        return None;
    };
    // Key Vault's error body: {"error": {"code": "...", "message": "..."}}.
    let body: Value = raw_response
        .as_ref()
        .and_then(|r| serde_json::from_slice(r.body().as_ref()).ok())
        .unwrap_or(Value::Null);
    let code = body["error"]["code"]
        .as_str()
        .map(str::to_string)
        .or_else(|| error_code.clone())
        .unwrap_or_default();
    let msg = crate::causes::one_line(body["error"]["message"].as_str().unwrap_or(""), 400);
    let status = u16::from(*status);
    let hint = match status {
        401 => "; check the credentials (az login, --access-token-file or BYOK_ACCESS_TOKEN)",
        403 => "; the identity lacks this permission on the vault (access policy or RBAC role), or the key's operations forbid it",
        409 => "; the name is taken (by a key, or a deleted key not yet purged): choose another name, or recover or purge the deleted key",
        429 => "; the vault is throttling: wait and run the command again",
        _ => "",
    };
    let mut line = format!("HTTP {status}");
    if !code.is_empty() {
        line = format!("{line} {code}");
    }
    if !msg.is_empty() {
        line = format!("{line}: {msg}");
    }
    Some(format!("{line}{hint}"))
}

/// Did this request break after it was sent, so that the vault may or may not have applied it?
pub fn outcome_unknown(e: &Error) -> bool {
    e.is(ErrorKind::OutcomeUnknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::{headers::Headers, RawResponse, StatusCode};

    fn http(status: u16, body: &str) -> azure_core::Error {
        let raw =
            RawResponse::from_bytes(StatusCode::from(status), Headers::new(), body.to_string());
        azure_core::Error::with_message(
            azure_core::error::ErrorKind::HttpResponse {
                status: StatusCode::from(status),
                error_code: Some("FromHeader".into()),
                raw_response: Some(Box::new(raw)),
            },
            "http error",
        )
    }

    #[test]
    fn statuses_give_kinds() {
        let body = r#"{"error":{"code":"KeyNotFound","message":"A key with (name/id) k was not found in this key vault."}}"#;
        let e = sdk_error("getting key k", http(404, body));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.message(),
            "getting key k failed: HTTP 404 KeyNotFound: A key with (name/id) k was not found in this key vault."
        );
        assert_eq!(sdk_error("x", http(409, "{}")).kind(), ErrorKind::Exists);
        for s in [400, 401, 403, 429, 500, 503] {
            assert_eq!(
                sdk_error("x", http(s, "{}")).kind(),
                ErrorKind::Service,
                "{s}"
            );
        }
    }

    #[test]
    fn messages_carry_code_and_hint() {
        // No JSON body: the code from the header.
        let e = sdk_error("creating key k", http(401, "<html>no</html>"));
        assert_eq!(
            e.message(),
            "creating key k failed: HTTP 401 FromHeader; check the credentials (az login, --access-token-file or BYOK_ACCESS_TOKEN)"
        );
        let body = r#"{"error":{"code":"Forbidden","message":"Operation import is not permitted.\nCaller: x"}}"#;
        let e = sdk_error("importing k", http(403, body));
        assert!(e.message().contains("HTTP 403 Forbidden: Operation import is not permitted. Caller: x; the identity lacks"), "{e}");
        assert!(!e.message().contains('\n'));
        let e = sdk_error("x", http(429, "{}"));
        assert!(e.message().contains("throttling"), "{e}");
    }

    #[test]
    fn a_broken_write_is_outcome_unknown() {
        let io = azure_core::Error::with_message(azure_core::error::ErrorKind::Io, "reset by peer");
        let wrapped = azure_core::Error::with_error(
            azure_core::error::ErrorKind::Other,
            WriteOutcomeUnknown(io),
            "byok: the connection broke after the request was sent",
        );
        let e = sdk_error("importing k", wrapped);
        assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
        assert!(outcome_unknown(&e));
        assert!(e.message().contains("reset by peer"), "{e}");
        // A plain I/O error (a read the SDK gave up on) is a service failure.
        let plain = azure_core::Error::with_message(azure_core::error::ErrorKind::Io, "reset");
        let e = sdk_error("getting key k", plain);
        assert_eq!(e.kind(), ErrorKind::Service);
        assert!(!outcome_unknown(&e));
    }

    #[test]
    fn the_source_is_kept() {
        let e = sdk_error("x", http(500, "{}"));
        assert!(std::error::Error::source(&e).is_some());
    }
}
