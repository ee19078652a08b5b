//! Which kind of vault a loopback address plays (rehearsals only): a Key Vault or a
//! Managed HSM. A real vault's host says it (`*.vault.azure.net`, `*.managedhsm.azure.net`);
//! the simulator's `https://127.0.0.1:PORT` does not, so byok asks it once, as the SDKs
//! learn where to get a token: an unauthenticated request, whose 401 challenge names the
//! resource the vault's tokens are for — `https://managedhsm.azure.net` for a Managed HSM,
//! `https://vault.azure.net` for a Key Vault (`byok-vault-sim --managed-hsm` answers as
//! the real services do).
//!
//! Only the printed permission commands depend on the answer; anything unexpected gives
//! the Key Vault form and a warning saying so.

use super::API_VERSION;
use byok_core::keyid::Service;

/// The longest challenge header read; a real one is about 130 bytes.
const MAX_CHALLENGE: usize = 4096;
/// How often a 429 or 503 answer is retried.
const RETRIES: u32 = 3;
/// The longest wait between tries, whatever `Retry-After` says.
const MAX_WAIT_MS: u64 = 2000;
/// The wait when a 429 or 503 names none.
const DEFAULT_WAIT_MS: u64 = 500;

/// The service a `WWW-Authenticate` challenge names by its `resource`: a Bearer challenge
/// whose one `resource` parameter is `https://managedhsm.azure.net` (Managed HSM) or
/// `https://vault.azure.net` (Key Vault), case-insensitive, a trailing `/` allowed.
/// `Err` says why it names neither.
pub(crate) fn service_of_challenge(header: Option<&str>) -> Result<Service, String> {
    let Some(h) = header else {
        return Err("it sent no WWW-Authenticate challenge".into());
    };
    if h.len() > MAX_CHALLENGE {
        return Err(format!(
            "its WWW-Authenticate challenge is {} bytes long, not a Key Vault challenge",
            h.len()
        ));
    }
    let params = bearer_params(h)
        .ok_or_else(|| "its WWW-Authenticate header is not a Bearer challenge".to_string())?;
    let resources: Vec<&String> = params
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("resource"))
        .map(|(_, v)| v)
        .collect();
    let [resource] = resources.as_slice() else {
        return Err(format!(
            "its challenge names {} resources, not one",
            resources.len()
        ));
    };
    let r = resource.trim_end_matches('/').to_ascii_lowercase();
    match r.as_str() {
        "https://managedhsm.azure.net" => Ok(Service::ManagedHsm),
        "https://vault.azure.net" => Ok(Service::KeyVault),
        _ => Err(format!(
            "its challenge names resource {:?}, neither Key Vault's nor Managed HSM's",
            byok_core::text::printable(resource)
        )),
    }
}

/// The parameters of a `Bearer` challenge (`Bearer k="v", k2=v2`), or `None` when the
/// header is not one or does not parse.
fn bearer_params(h: &str) -> Option<Vec<(String, String)>> {
    let rest = h.trim_start();
    let scheme_len = rest.find(|c: char| c.is_ascii_whitespace())?;
    if !rest[..scheme_len].eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut chars = rest[scheme_len..].chars().peekable();
    let mut out = Vec::new();
    loop {
        while chars
            .next_if(|c| c.is_ascii_whitespace() || *c == ',')
            .is_some()
        {}
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ',' && !c.is_ascii_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if key.is_empty() || chars.next() != Some('=') {
            return None;
        }
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',' && !c.is_ascii_whitespace()) {
                value.push(c);
            }
        }
        out.push((key, value));
    }
}

/// How long to wait before retrying an answer with this `Retry-After` (seconds), capped.
fn wait_ms(retry_after: Option<&str>) -> u64 {
    retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000))
        .unwrap_or(DEFAULT_WAIT_MS)
        .min(MAX_WAIT_MS)
}

/// Ask the vault at `url` which kind it is: `GET {url}/keys` without a token, expecting
/// the 401 challenge. A 429 or 503 is retried (up to [`RETRIES`] times, honouring a
/// short `Retry-After`). `Err` says why the answer names no kind.
pub(crate) async fn probe(http: &reqwest::Client, url: &str) -> Result<Service, String> {
    let target = format!("{url}/keys?api-version={API_VERSION}");
    let mut tries = 0;
    loop {
        let resp = http.get(&target).send().await.map_err(|e| {
            format!(
                "asking it failed ({})",
                byok_core::text::printable(&e.to_string())
            )
        })?;
        let status = resp.status().as_u16();
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if matches!(status, 429 | 503) && tries < RETRIES {
            tries += 1;
            let ms = wait_ms(header(reqwest::header::RETRY_AFTER).as_deref());
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            continue;
        }
        if status != 401 {
            return Err(format!(
                "it answered an unauthenticated request with {status}, not the 401 challenge"
            ));
        }
        return service_of_challenge(header(reqwest::header::WWW_AUTHENTICATE).as_deref());
    }
}

/// The warning for a loopback vault whose kind could not be learnt.
pub(crate) fn warning(url: &str, why: &str) -> String {
    format!(
        "cannot tell whether the rehearsal vault {url} plays a Key Vault or a Managed HSM ({why}): its permission commands are printed in the Key Vault form"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KV: &str = "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://vault.azure.net\"";
    const HSM: &str = "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://managedhsm.azure.net\"";

    #[test]
    fn the_services_challenges() {
        assert_eq!(service_of_challenge(Some(KV)), Ok(Service::KeyVault));
        assert_eq!(service_of_challenge(Some(HSM)), Ok(Service::ManagedHsm));
        for (h, want) in [
            ("bearer resource=https://managedhsm.azure.net/", Service::ManagedHsm),
            ("Bearer  RESOURCE = \"https://Vault.Azure.Net\" ,authorization=x", Service::KeyVault),
            ("Bearer authorization=\"a, resource=\\\"https://vault.azure.net\\\"\", resource=\"https://managedhsm.azure.net\"", Service::ManagedHsm),
        ] {
            assert_eq!(service_of_challenge(Some(h)), Ok(want), "{h}");
        }
    }

    #[test]
    fn hostile_challenges_name_no_kind() {
        assert!(service_of_challenge(None)
            .unwrap_err()
            .contains("no WWW-Authenticate"));
        let long = format!("{HSM}, x=\"{}\"", "a".repeat(5000));
        assert!(service_of_challenge(Some(&long))
            .unwrap_err()
            .contains("bytes long"));
        for h in [
            "",
            "Bearer",
            "Basic realm=\"x\"",
            "Bearerresource=\"https://managedhsm.azure.net\"",
            "Negotiate resource=\"https://managedhsm.azure.net\"",
            "Bearer resource=\"https://managedhsm.azure.net",
            "Bearer resource",
            "Bearer =x",
            "Bearer resource=\"https://managedhsm.azure.net\\",
            "\u{0}\u{ff}garbage",
        ] {
            assert!(service_of_challenge(Some(h)).is_err(), "{h:?}");
        }
        for h in [
            "Bearer authorization=\"https://login.microsoftonline.com/t\"",
            "Bearer resource=\"https://managedhsm.azure.net.evil.com\"",
            "Bearer resource=\"https://evil.com/https://managedhsm.azure.net\"",
            "Bearer resource=\"http://managedhsm.azure.net\"",
            "Bearer resource=\"https://storage.azure.com\"",
            "Bearer resource=\"\"",
            "Bearer scope=\"https://managedhsm.azure.net/.default\"",
            // Two resources, even the same twice: ambiguous.
            "Bearer resource=\"https://vault.azure.net\", resource=\"https://managedhsm.azure.net\"",
            "Bearer resource=\"https://vault.azure.net\", resource=\"https://vault.azure.net\"",
        ] {
            assert!(service_of_challenge(Some(h)).is_err(), "{h:?}");
        }
        let e = service_of_challenge(Some("Bearer resource=\"https://x\u{1b}[2J\"")).unwrap_err();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    /// A plain-HTTP server on loopback that gives each connection the next canned answer,
    /// and the requests it got.
    fn server(answers: Vec<String>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{BufRead, BufReader, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let t = std::thread::spawn(move || {
            let mut got = Vec::new();
            for a in answers {
                let (mut s, _) = l.accept().unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    head.push_str(&line);
                }
                got.push(head);
                s.write_all(a.as_bytes()).unwrap();
            }
            got
        });
        (url, t)
    }

    fn answer(status: &str, headers: &[(&str, &str)]) -> String {
        let mut a = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n");
        for (k, v) in headers {
            a.push_str(&format!("{k}: {v}\r\n"));
        }
        a + "\r\n"
    }

    fn probe_of(answers: Vec<String>) -> (Result<Service, String>, Vec<String>) {
        let (url, t) = server(answers);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // The vault's own client (no redirects followed, timeouts).
        let http = super::super::transport::http_client(&super::super::Connection {
            ca_file: None,
            access_token_file: None,
            mode: byok_core::Mode::Rehearsal,
        })
        .unwrap();
        let r = rt.block_on(probe(&http, &url));
        (r, t.join().unwrap())
    }

    #[test]
    fn the_probe_asks_once_without_a_token_and_retries_throttling() {
        let (r, got) = probe_of(vec![answer(
            "401 Unauthorized",
            &[("WWW-Authenticate", HSM)],
        )]);
        assert_eq!(r, Ok(Service::ManagedHsm));
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with(&format!("GET /keys?api-version={API_VERSION} ")),
            "{}",
            got[0]
        );
        assert!(
            !got[0].to_ascii_lowercase().contains("authorization"),
            "{}",
            got[0]
        );
        // Throttled three times (a short Retry-After honoured), then the challenge.
        let t = std::time::Instant::now();
        let (r, got) = probe_of(vec![
            answer("429 Too Many Requests", &[("Retry-After", "0")]),
            answer("503 Service Unavailable", &[("Retry-After", "0")]),
            answer("429 Too Many Requests", &[("Retry-After", "1")]),
            answer("401 Unauthorized", &[("WWW-Authenticate", KV)]),
        ]);
        assert_eq!((r, got.len()), (Ok(Service::KeyVault), 4));
        assert!(t.elapsed() >= std::time::Duration::from_millis(900));
        // A fourth throttling is not waited out.
        let (r, got) = probe_of(vec![
            answer("503 Service Unavailable", &[("Retry-After", "0")]),
            answer("503 Service Unavailable", &[("Retry-After", "0")]),
            answer("503 Service Unavailable", &[("Retry-After", "0")]),
            answer("503 Service Unavailable", &[("Retry-After", "0")]),
        ]);
        assert_eq!(got.len(), 4);
        assert!(r.unwrap_err().contains("503"));
        // Anything but the challenge names no kind.
        for a in [
            answer("200 OK", &[("WWW-Authenticate", HSM)]),
            answer("401 Unauthorized", &[]),
            answer(
                "401 Unauthorized",
                &[("WWW-Authenticate", "Basic realm=\"x\"")],
            ),
            answer("302 Found", &[("Location", "https://evil.example")]),
        ] {
            assert!(probe_of(vec![a.clone()]).0.is_err(), "{a}");
        }
        let w = warning("https://127.0.0.1:1", "why");
        assert!(w.contains("Key Vault form") && w.contains("why"), "{w}");
    }

    #[test]
    fn retry_waits_are_short() {
        assert_eq!(wait_ms(Some("1")), 1000);
        assert_eq!(wait_ms(Some(" 0 ")), 0);
        assert_eq!(wait_ms(Some("3600")), MAX_WAIT_MS);
        assert_eq!(wait_ms(Some("18446744073709551615")), MAX_WAIT_MS);
        assert_eq!(
            wait_ms(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            DEFAULT_WAIT_MS
        );
        assert_eq!(wait_ms(None), DEFAULT_WAIT_MS);
    }
}
