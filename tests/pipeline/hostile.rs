//! Hostile endpoints in place of a vault or a storage account: answers too long to read,
//! answers about another key or naming a JSON key twice, a `--copy-to` host that is not
//! Blob Storage, and a blob endpoint that must never see the Key Vault token.
//!
//! The simulator cannot be made to lie, so these run a small HTTPS server of their own
//! (the simulator's certificate code, a thread per connection, one request each) that
//! records what it receives and answers as told.

use crate::common::*;
use crate::rig::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
}

/// How the server answers an authenticated request.
enum Answer {
    /// A status and a JSON body.
    Json(u16, String),
    /// 200 and a body that never ends (until the client hangs up).
    Endless,
    /// 200 with this `Content-Length`, then a body that runs until the client hangs up.
    Declared(u64),
}

struct Hostile {
    url: String,
    ca: PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
}

/// The challenge a vault answers a request without a token with.
const CHALLENGE: &str = "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://vault.azure.net\"";

impl Hostile {
    /// Serve on `bind` (e.g. `127.0.0.1:0`) with certificates made in `dir`.
    fn start(
        dir: &Path,
        bind: &str,
        answer: impl Fn(&Seen) -> Answer + Send + Sync + 'static,
    ) -> Hostile {
        std::fs::create_dir_all(dir).unwrap();
        byok_vault_sim::tls::ensure_certificates(dir).unwrap();
        let config = byok_vault_sim::tls::server_config(dir).unwrap();
        let listener = TcpListener::bind(bind).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(answer);
        {
            let (seen, connections) = (seen.clone(), connections.clone());
            std::thread::spawn(move || {
                for tcp in listener.incoming() {
                    let Ok(tcp) = tcp else { continue };
                    connections.fetch_add(1, Ordering::SeqCst);
                    let (config, seen, answer) = (config.clone(), seen.clone(), answer.clone());
                    std::thread::spawn(move || {
                        let conn = rustls::ServerConnection::new(config).unwrap();
                        let mut s = rustls::StreamOwned::new(conn, tcp);
                        let _ = serve_one(&mut s, &seen, answer.as_ref());
                    });
                }
            });
        }
        Hostile {
            url: format!("https://{addr}"),
            ca: dir.join("ca.pem"),
            seen,
            connections,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Read one request, record it, answer it, close.
fn serve_one(
    s: &mut (impl Read + Write),
    seen: &Mutex<Vec<Seen>>,
    answer: &dyn Fn(&Seen) -> Answer,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b)? == 0 {
            return Ok(());
        }
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, path) = (
        first.next().unwrap_or("").to_string(),
        first.next().unwrap_or("").to_string(),
    );
    let (mut authorization, mut length) = (None, 0usize);
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "authorization" => authorization = Some(v.trim().to_string()),
                "content-length" => length = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    s.read_exact(&mut body)?;
    let req = Seen {
        method,
        path,
        authorization,
    };
    seen.lock().unwrap().push(req.clone());
    if req.authorization.is_none() {
        write!(
            s,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {CHALLENGE}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return s.flush();
    }
    let endless = |s: &mut dyn Write| -> std::io::Result<()> {
        s.write_all(b"{\"key\": {\"kid\": \"")?;
        let chunk = vec![b'A'; 64 << 10];
        loop {
            s.write_all(&chunk)?;
        }
    };
    match answer(&req) {
        Answer::Json(status, body) => {
            write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            s.flush()
        }
        Answer::Endless => {
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
            )?;
            endless(s)
        }
        Answer::Declared(n) => {
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
            )?;
            endless(s)
        }
    }
}

/// A KeyBundle of a 2048-bit RSA-HSM key, import only, whose kid is `kid`.
fn bundle(kid: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&kek(2048).key_bundle_json()).unwrap();
    v["key"]["kid"] = kid.into();
    v.to_string()
}

const V1: &str = "0123456789abcdef0123456789abcdef";
const V2: &str = "fedcba9876543210fedcba9876543210";

fn fetch(tok: &Token, h: &Hostile, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "kek", "fetch", "--vault", &h.url, "--name", "KEK-A", "--out", "kek.json",
    ];
    args.extend_from_slice(extra);
    tok.cmd(&args)
        .env("BYOK_CA_FILE", &h.ca)
        .env("BYOK_ACCESS_TOKEN", "kv-token")
        .output()
        .unwrap()
}

#[test]
fn answers_too_long_to_read_are_refused_quickly() {
    let tok = Token::new("hostile-long");
    for (name, answer) in [("endless", 0u64), ("declared", 400 << 20)] {
        let h = Hostile::start(&tok.dir().join(name), "127.0.0.1:0", move |_| {
            if answer == 0 {
                Answer::Endless
            } else {
                Answer::Declared(answer)
            }
        });
        let t0 = Instant::now();
        let o = fetch(&tok, &h, &[]);
        let took = t0.elapsed();
        fails(&o, &["longer than 1048576 bytes", "refused"]);
        assert!(took < Duration::from_secs(20), "{name}: took {took:?}");
        assert!(!tok.dir().join("kek.json").exists());
        // Refused, not retried: one request with the token.
        let with_token = h
            .seen()
            .iter()
            .filter(|s| s.authorization.is_some())
            .count();
        assert_eq!(with_token, 1, "{name}: {:?}", h.seen());
    }
}

#[test]
fn an_answer_about_another_key_is_refused_and_nothing_written() {
    let tok = Token::new("hostile-kid");
    let dir = tok.dir();
    let slot: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let s2 = slot.clone();
    let h = Hostile::start(&dir.join("v"), "127.0.0.1:0", move |_| {
        Answer::Json(200, s2.lock().unwrap().clone())
    });
    let own = h.url.clone();
    // The answer names another vault, another key, another version than asked for.
    for (kid, extra) in [
        (
            format!("https://contoso-other.vault.azure.net/keys/KEK-A/{V1}"),
            vec![],
        ),
        (format!("{own}/keys/KEK-B/{V1}"), vec![]),
        (format!("{own}/keys/KEK-A/{V2}"), vec!["--version", V1]),
        (format!("{own}/keys/KEK-A/../KEK-B/{V1}"), vec![]),
    ] {
        *slot.lock().unwrap() = bundle(&kid);
        fails(&fetch(&tok, &h, &extra), &["KEK-A"]);
        assert!(!dir.join("kek.json").exists(), "{kid}");
    }
    // A faithful answer passes the checks and is written.
    *slot.lock().unwrap() = bundle(&format!("{own}/keys/KEK-A/{V1}"));
    ok(&fetch(&tok, &h, &["--version", V1]));
    assert!(dir.join("kek.json").exists());
    std::fs::remove_file(dir.join("kek.json")).unwrap();
    // A version that is not 32 hex digits never reaches the vault.
    let before = h.connections.load(Ordering::SeqCst);
    for bad in ["../KEK-B", "../../deletedkeys/KEK-B", "0123"] {
        fails(&fetch(&tok, &h, &["--version", bad]), &["32 hex digits"]);
    }
    assert_eq!(h.connections.load(Ordering::SeqCst), before);
    assert!(!dir.join("kek.json").exists());
}

#[test]
fn answers_naming_a_json_key_twice_are_refused() {
    let tok = Token::new("hostile-dup");
    let slot: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let s2 = slot.clone();
    let h = Hostile::start(&tok.dir().join("v"), "127.0.0.1:0", move |_| {
        Answer::Json(200, s2.lock().unwrap().clone())
    });
    let good = bundle(&format!("{}/keys/KEK-A/{V1}", h.url));
    let other_n = {
        let v: serde_json::Value = serde_json::from_str(&kek(3072).key_bundle_json()).unwrap();
        v["key"]["n"].to_string()
    };
    // "n" twice (the second another key's), "kid" twice, "key" twice.
    let twice = [
        good.replacen("\"n\":", &format!("\"n\":{other_n},\"n\":"), 1),
        good.replacen(
            "\"kid\":",
            "\"kid\":\"https://contoso-other.vault.azure.net/keys/X/0\",\"kid\":",
            1,
        ),
        good.replacen("{\"", "{\"key\":{},\"", 1),
    ];
    for body in twice {
        assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
        *slot.lock().unwrap() = body.clone();
        fails(&fetch(&tok, &h, &[]), &["twice"]);
        assert!(!tok.dir().join("kek.json").exists(), "{body}");
    }
    *slot.lock().unwrap() = good;
    ok(&fetch(&tok, &h, &[]));
}

/// This machine's first non-loopback IPv4 address, where a "foreign" server can listen.
fn foreign_address() -> String {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .expect("hostname -I");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace()
        .find(|a| {
            a.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .expect("a non-loopback IPv4 address on this machine")
        .to_string()
}

#[test]
fn the_blob_copy_goes_to_blob_storage_only_and_never_with_the_key_vault_token() {
    let r = rig(&[]);
    let v = r.vault.url.as_str();
    ok(&r.byok(&[
        "kek", "create", "--vault", v, "--name", "KEK-A", "--size", "2048",
    ]));
    let bk = r.tok.dir().join("bk");
    std::fs::create_dir_all(&bk).unwrap();
    let backup = |copy_to: &str, env: &[(&str, &str)]| {
        let mut c = r.tok.cmd(&[
            "backup",
            "--vault",
            v,
            "--name",
            "KEK-A",
            "--out-dir",
            "bk",
            "--copy-to",
            copy_to,
        ]);
        c.env("BYOK_CA_FILE", &r.ca);
        for (k, val) in env {
            c.env(k, val);
        }
        c.output().unwrap()
    };
    let kv = [("BYOK_ACCESS_TOKEN", "kv-token")];
    let both = [
        ("BYOK_ACCESS_TOKEN", "kv-token"),
        ("BYOK_STORAGE_TOKEN", "storage-token"),
    ];
    // A host that is not Blob Storage: refused before connecting, before any backup.
    let foreign = Hostile::start(
        &r.tok.dir().join("foreign"),
        &format!("{}:0", foreign_address()),
        |_| Answer::Json(201, String::new()),
    );
    for env in [&kv[..], &both[..]] {
        fails(
            &backup(&format!("{}/devstoreaccount1/backups", foreign.url), env),
            &["not a Blob Storage endpoint"],
        );
        fails(
            &backup("https://evil.example.com/backups", env),
            &["not a Blob Storage endpoint"],
        );
    }
    assert_eq!(foreign.connections.load(Ordering::SeqCst), 0);
    assert_eq!(std::fs::read_dir(&bk).unwrap().count(), 0);

    // A blob endpoint on this machine (an emulator's place): with only the Key Vault
    // token, refused before connecting and before any backup.
    let blob = Hostile::start(&r.tok.dir().join("blob"), "127.0.0.1:0", |_| {
        Answer::Json(403, String::new())
    });
    let cas = r.tok.dir().join("cas-blob.pem");
    std::fs::write(
        &cas,
        [
            std::fs::read(&r.ca).unwrap(),
            std::fs::read(&blob.ca).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let container = format!("{}/devstoreaccount1/backups", blob.url);
    let run = |env: &[(&str, &str)]| {
        let mut c = r.tok.cmd(&[
            "backup",
            "--vault",
            v,
            "--name",
            "KEK-A",
            "--out-dir",
            "bk",
            "--copy-to",
            &container,
        ]);
        c.env("BYOK_CA_FILE", &cas);
        for (k, val) in env {
            c.env(k, val);
        }
        c.output().unwrap()
    };
    let line = fails(
        &run(&kv),
        &["never sent to Blob Storage", "BYOK_STORAGE_TOKEN"],
    );
    assert!(!line.contains("kv-token"));
    assert_eq!(blob.connections.load(Ordering::SeqCst), 0);
    assert_eq!(std::fs::read_dir(&bk).unwrap().count(), 0);
    // The same token given as both is refused too.
    fails(
        &run(&[
            ("BYOK_ACCESS_TOKEN", "kv-token"),
            ("BYOK_STORAGE_TOKEN", "kv-token"),
        ]),
        &["is the Key Vault access token"],
    );
    assert_eq!(blob.connections.load(Ordering::SeqCst), 0);
    // With a storage token, the blob endpoint sees that token and never the vault's.
    fails(&run(&both), &["online copy was not stored"]);
    let seen = blob.seen();
    assert!(!seen.is_empty());
    for s in &seen {
        assert_eq!(
            s.authorization.as_deref(),
            Some("Bearer storage-token"),
            "{} {}",
            s.method,
            s.path
        );
    }
}
