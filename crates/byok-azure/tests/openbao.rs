//! The OpenBao transit client against a real `bao server -dev` on loopback (`$BYOK_BAO`,
//! else `bao` on PATH), and against tiny local servers that misbehave: a redirect, a huge
//! answer, duplicate JSON keys, a connection broken after a write, a server echoing the
//! token.

use base64::Engine;
use byok_azure::openbao::{token_from_env_or_file, BaoToken, OpenBao};
use byok_core::hsm::OaepHash;
use byok_core::ErrorKind;
use byok_testkit::bao::{self, software_wrap};
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc;
use zeroize::Zeroizing;

fn token(t: &str) -> BaoToken {
    BaoToken::new(Zeroizing::new(t.to_string())).unwrap()
}

fn connect(addr: &str, tok: &str) -> OpenBao {
    OpenBao::connect(addr, "transit", None, true, token(tok)).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn spki(pem: &str) -> Vec<u8> {
    rsa::PublicKey::from_public_key_pem(pem.trim())
        .unwrap()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// One line, and no token in it.
fn clean(e: &byok_core::Error, tok: &str) -> String {
    let s = e.to_string();
    assert!(!s.contains(tok), "the token is in the error: {s}");
    assert!(!e.message().contains(tok), "the token is in the error: {s}");
    assert!(!s.contains('\n') && !s.contains('\r'), "{s:?}");
    s
}

#[test]
fn imports_software_wraps_with_both_hashes_and_reads_them_back() {
    let server = bao::start();
    let b = connect(&server.addr, &server.token);

    let pem = b.wrapping_key().unwrap();
    let wrapping = rsa::PublicKey::from_public_key_pem(pem.trim()).unwrap();
    use rsa::traits::PublicKeyParts;
    assert_eq!(
        wrapping.n().bit_width(),
        4096,
        "OpenBao's wrapping key is RSA-4096"
    );
    assert_eq!(pem, b.wrapping_key().unwrap(), "the same key each time");

    assert_eq!(b.read_key("bao-sha1").unwrap(), None);
    let k1 = rsa::PrivateKey::new(&mut rand::rng(), 2048).unwrap();
    let ct = b64(&software_wrap(&pem, &k1, OaepHash::Sha1));
    // OpenBao really unwraps: the wrong hash is refused, in one line.
    let e = b
        .import("bao-wrong", &ct, OaepHash::Sha256, "rsa-2048")
        .unwrap_err();
    let s = clean(&e, &server.token);
    assert!(s.contains("refused the import of key bao-wrong"), "{s}");
    assert_eq!(b.read_key("bao-wrong").unwrap(), None);

    b.import("bao-sha1", &ct, OaepHash::Sha1, "rsa-2048")
        .unwrap();
    let key = b.read_key("bao-sha1").unwrap().unwrap();
    assert_eq!(key.name, "bao-sha1");
    assert_eq!(key.key_type, "rsa-2048");
    assert!(key.imported_key);
    assert!(!key.exportable && !key.allow_plaintext_backup);
    assert_eq!(key.latest_version, 1);
    assert_eq!(key.versions.keys().copied().collect::<Vec<_>>(), [1]);
    assert_eq!(
        spki(&key.versions[&1]),
        k1.to_public_key().to_public_key_der().unwrap().as_bytes(),
        "OpenBao holds another key than the one wrapped"
    );

    let k2 = rsa::PrivateKey::new(&mut rand::rng(), 3072).unwrap();
    let ct2 = b64(&software_wrap(&pem, &k2, OaepHash::Sha256));
    b.import("bao-sha256", &ct2, OaepHash::Sha256, "rsa-3072")
        .unwrap();
    let key2 = b.read_key("bao-sha256").unwrap().unwrap();
    assert_eq!(key2.key_type, "rsa-3072");
    assert_eq!(
        spki(&key2.versions[&1]),
        k2.to_public_key().to_public_key_der().unwrap().as_bytes()
    );

    // An existing name is refused by OpenBao, shown in one line, and changes nothing.
    let e = b
        .import("bao-sha1", &ct2, OaepHash::Sha256, "rsa-3072")
        .unwrap_err();
    let s = clean(&e, &server.token);
    assert_eq!(e.kind(), ErrorKind::Service);
    assert!(s.contains("existing key") && s.contains("500"), "{s}");
    assert!(!s.contains("error occurred") && !s.contains('*'), "{s}");
    assert_eq!(b.read_key("bao-sha1").unwrap().unwrap(), key);

    // A roll: version 2, version 1 kept.
    let k3 = rsa::PrivateKey::new(&mut rand::rng(), 2048).unwrap();
    let ct3 = b64(&software_wrap(&pem, &k3, OaepHash::Sha1));
    b.import_version("bao-sha1", &ct3, OaepHash::Sha1).unwrap();
    let rolled = b.read_key("bao-sha1").unwrap().unwrap();
    assert_eq!(rolled.latest_version, 2);
    assert_eq!(rolled.versions[&1], key.versions[&1]);
    assert_eq!(
        spki(&rolled.versions[&2]),
        k3.to_public_key().to_public_key_der().unwrap().as_bytes()
    );
    // A version of a key that is not there is refused.
    let e = b
        .import_version("bao-none", &ct3, OaepHash::Sha1)
        .unwrap_err();
    clean(&e, &server.token);

    // A mount that is not there is an error, not a missing key.
    let other = OpenBao::connect(
        &server.addr,
        "no-such-mount",
        None,
        true,
        token(&server.token),
    )
    .unwrap();
    let e = other.read_key("bao-sha1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        clean(&e, &server.token).contains("no handler for route"),
        "{e}"
    );
    let e = other.wrapping_key().unwrap_err();
    clean(&e, &server.token);

    // A wrong token: refused, the hint says to check it, and it is not shown.
    let wrong = "hvs.NotTheRootTokenAtAll";
    let w = connect(&server.addr, wrong);
    for e in [
        w.wrapping_key().unwrap_err(),
        w.read_key("bao-sha1").unwrap_err(),
        w.import("bao-x", &ct, OaepHash::Sha1, "rsa-2048")
            .unwrap_err(),
    ] {
        let s = clean(&e, wrong);
        assert!(s.contains("403") && s.contains("check the token"), "{s}");
    }
}

#[test]
fn the_token_comes_from_a_private_file_or_the_environment() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("token");
    std::fs::write(&f, "hvs.FromTheFile\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = token_from_env_or_file(Some(&f)).unwrap_err();
    assert!(e.message().contains("chmod 600"), "{e}");
    assert!(!e.to_string().contains("FromTheFile"), "{e}");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();

    // This is the only test in this binary that reads or sets these variables.
    let show = |t: BaoToken| {
        // The token is only reachable by sending it: check through a server echoing it.
        let (addr, rx) = serve(1, |req| {
            let tok = header(req, "x-vault-token").unwrap_or_default();
            answer("200 OK", &format!(r#"{{"data":{{"public_key":"{tok}"}}}}"#))
        });
        let b = OpenBao::connect(&addr, "transit", None, true, t).unwrap();
        let _ = b.wrapping_key();
        header(&rx.recv().unwrap(), "x-vault-token").unwrap()
    };
    std::env::set_var("BAO_TOKEN", "hvs.FromBao");
    std::env::set_var("VAULT_TOKEN", "hvs.FromVault");
    assert_eq!(
        show(token_from_env_or_file(Some(&f)).unwrap()),
        "hvs.FromTheFile"
    );
    assert_eq!(show(token_from_env_or_file(None).unwrap()), "hvs.FromBao");
    std::env::remove_var("BAO_TOKEN");
    assert_eq!(show(token_from_env_or_file(None).unwrap()), "hvs.FromVault");
    std::env::set_var("BAO_TOKEN", "hvs.Bad\u{1b}[2J");
    let e = token_from_env_or_file(None).unwrap_err();
    assert!(!e.to_string().contains("hvs.Bad"), "{e}");
    std::env::remove_var("BAO_TOKEN");
    std::env::remove_var("VAULT_TOKEN");
    let e = token_from_env_or_file(None).unwrap_err();
    assert!(e.message().contains("BAO_TOKEN"), "{e}");
}

const TOKEN: &str = "hvs.TheSecretTokenOfTheTests";

#[test]
fn a_redirect_is_refused_and_not_followed() {
    let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let there: &'static str =
        Box::leak(format!("http://{}", elsewhere.local_addr().unwrap()).into_boxed_str());
    for status in [
        "307 Temporary Redirect",
        "302 Found",
        "308 Permanent Redirect",
    ] {
        let redirect = move |_: &str| {
            format!(
                "HTTP/1.1 {status}\r\nLocation: {there}/v1/transit/wrapping_key\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .into_bytes()
        };
        let (addr, rx) = serve(1, redirect);
        let e = connect(&addr, TOKEN).wrapping_key().unwrap_err();
        let s = clean(&e, TOKEN);
        assert!(s.contains("redirect") && s.contains(&status[..3]), "{s}");
        let req = rx.recv().unwrap();
        assert!(req.starts_with("GET /v1/transit/wrapping_key "), "{req}");
        // A write is not followed either.
        let (addr, rx) = serve(1, redirect);
        let e = connect(&addr, TOKEN)
            .import("k", "AAAA", OaepHash::Sha1, "rsa-2048")
            .unwrap_err();
        assert!(clean(&e, TOKEN).contains("redirect"), "{e}");
        rx.recv().unwrap();
    }
    assert!(
        matches!(elsewhere.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "byok followed a redirect"
    );
}

#[test]
fn a_huge_answer_is_refused() {
    let huge = 1usize << 21;
    // Declared by Content-Length, and streamed without one.
    let (addr, _rx) = serve(1, move |_| {
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {huge}\r\n\r\n{{\"data\":")
            .into_bytes()
    });
    let e = connect(&addr, TOKEN).wrapping_key().unwrap_err();
    assert!(
        clean(&e, TOKEN).contains("longer than 1048576 bytes"),
        "{e}"
    );
    let (addr, _rx) = serve(1, move |_| {
        let mut a = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"data\":{\"public_key\":\"".to_vec();
        a.extend(std::iter::repeat_n(b'A', huge));
        a
    });
    let e = connect(&addr, TOKEN).read_key("k").unwrap_err();
    assert!(
        clean(&e, TOKEN).contains("longer than 1048576 bytes"),
        "{e}"
    );
    // An error answer as well.
    let (addr, _rx) = serve(1, move |_| {
        let mut a = b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\n{\"errors\":[\"".to_vec();
        a.extend(std::iter::repeat_n(b'x', huge));
        a
    });
    let e = connect(&addr, TOKEN)
        .import("k", "AAAA", OaepHash::Sha1, "rsa-2048")
        .unwrap_err();
    assert!(clean(&e, TOKEN).contains("longer than"), "{e}");
}

#[test]
fn duplicate_json_keys_are_refused() {
    let (addr, _rx) = serve(1, |_| {
        answer(
            "200 OK",
            r#"{"data":{"public_key":"-----BEGIN PUBLIC KEY-----","public_key":"x"}}"#,
        )
    });
    let e = connect(&addr, TOKEN).wrapping_key().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity);
    assert!(clean(&e, TOKEN).contains("\"public_key\" twice"), "{e}");
    let (addr, _rx) = serve(1, |_| {
        answer(
            "200 OK",
            r#"{"data":{"name":"k","type":"rsa-2048","latest_version":1,"keys":{"1":{"public_key":"a"},"1":{"public_key":"b"}}}}"#,
        )
    });
    let e = connect(&addr, TOKEN).read_key("k").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Integrity);
    clean(&e, TOKEN);
}

#[test]
fn a_write_broken_after_sending_is_outcome_unknown_and_not_retried() {
    // Two connections taken: a retry would be seen.
    let (addr, rx) = serve(2, |_| Vec::new());
    let b = connect(&addr, TOKEN);
    let e = b
        .import("bao-key", "AAAA", OaepHash::Sha1, "rsa-2048")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
    let s = clean(&e, TOKEN);
    assert!(
        s.contains("outcome unknown") && s.contains("`bao read transit/keys/bao-key`"),
        "{s}"
    );
    let req = rx.recv().unwrap();
    assert!(
        req.starts_with("POST /v1/transit/keys/bao-key/import "),
        "{req}"
    );
    let body: serde_json::Value =
        serde_json::from_str(req.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"ciphertext": "AAAA", "hash_function": "SHA1", "type": "rsa-2048",
            "exportable": false, "allow_rotation": false, "allow_plaintext_backup": false})
    );
    assert_eq!(header(&req, "x-vault-token").as_deref(), Some(TOKEN));
    // The server would take a second connection: none came.
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(500))
            .is_err(),
        "the write was sent twice"
    );

    let (addr, rx) = serve(1, |_| Vec::new());
    let e = connect(&addr, TOKEN)
        .import_version("bao-key", "AAAA", OaepHash::Sha256)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown, "{e}");
    let req = rx.recv().unwrap();
    let body: serde_json::Value =
        serde_json::from_str(req.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"ciphertext": "AAAA", "hash_function": "SHA256"})
    );

    // A read broken the same way is only a failure; a server not listening is no
    // unknown outcome either.
    let (addr, _rx) = serve(1, |_| Vec::new());
    let e = connect(&addr, TOKEN).read_key("bao-key").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Service, "{e}");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = connect(&format!("http://127.0.0.1:{port}"), TOKEN)
        .import("bao-key", "AAAA", OaepHash::Sha1, "rsa-2048")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Service, "{e}");
    assert!(clean(&e, TOKEN).contains("cannot reach"), "{e}");
}

#[test]
fn a_server_echoing_the_token_does_not_get_it_into_a_message() {
    let (addr, _rx) = serve(3, |req| {
        let tok = header(req, "x-vault-token").unwrap_or_default();
        answer(
            "403 Forbidden",
            &format!(r#"{{"errors":["permission denied for {tok}\u001b[2J", "{tok}"]}}"#),
        )
    });
    let b = connect(&addr, TOKEN);
    for e in [
        b.wrapping_key().unwrap_err(),
        b.read_key("k").unwrap_err(),
        b.import("k", "AAAA", OaepHash::Sha1, "rsa-2048")
            .unwrap_err(),
    ] {
        let s = clean(&e, TOKEN);
        assert!(s.contains("permission denied for [token]"), "{s}");
        assert!(!s.contains('\u{1b}'), "{s:?}");
    }
    // In a success's odd content too.
    let (addr, _rx) = serve(1, |req| {
        let tok = header(req, "x-vault-token").unwrap_or_default();
        answer(
            "200 OK",
            &format!(
                r#"{{"data":{{"name":"{tok}","type":"rsa-2048","latest_version":1,"keys":{{}}}}}}"#
            ),
        )
    });
    let e = connect(&addr, TOKEN).read_key("k").unwrap_err();
    clean(&e, TOKEN);
}

/// An HTTP answer with a JSON body.
fn answer(status: &str, json: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .into_bytes()
}

/// The value of header `name` (lowercase) in a request's text.
fn header(req: &str, name: &str) -> Option<String> {
    req.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_string())
    })
}

/// A server on 127.0.0.1 taking up to `n` connections: each request (headers and
/// `Content-Length` body) is sent on the channel, then answered with `f`'s bytes (none:
/// the connection is closed unanswered). Returns `http://127.0.0.1:PORT`.
fn serve(
    n: usize,
    f: impl Fn(&str) -> Vec<u8> + Send + 'static,
) -> (String, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut c, _)) = l.accept() else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let req = loop {
                let Ok(k) = c.read(&mut chunk) else {
                    break None;
                };
                if k == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = header(&text, "content-length")
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break Some(text);
                    }
                }
            };
            let Some(req) = req else { continue };
            let out = f(&req);
            let _ = tx.send(req);
            let _ = c.write_all(&out);
            let _ = c.flush();
        }
    });
    (addr, rx)
}
