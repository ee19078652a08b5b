//! The online backup copy (`byok_azure::blob`) against Azurite, the Azure Storage emulator,
//! over HTTPS with bearer tokens.
//!
//! CI install step (Node 20+ and npm): `npm ci --prefix tests/azurite`
//!
//! Azurite missing is a test FAILURE naming that step, never a skip. `BYOK_AZURITE` may
//! point at another azurite-blob executable.
#![cfg(feature = "network")]

mod common;

use base64::Engine as _;
use byok_azure::blob::{get_blob, put_new_blob, ContainerUrl};
use byok_core::keyid::Mode;
use common::azurite::{client, mint_token, Azurite, CONTAINER};
use sha2::Digest as _;
use std::time::{Duration, Instant};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

/// Azurite's container, as a rehearsal accepts it (an emulator on this machine).
fn rehearsal_container(url: &str) -> ContainerUrl {
    ContainerUrl::parse(url, Mode::Rehearsal).expect("Azurite's container URL")
}

#[test]
fn put_get_list_and_never_overwrite() {
    let az = Azurite::start();
    let http = client(Some(&az.ca_pem));
    let tok = az.token.as_str();
    let c = &rehearsal_container(&az.container_url);
    let first = b"backup-bytes of key one \x00\x01\x02".to_vec();
    let name = "contoso-key-1/20250101T000000Z.keybackup";

    block_on(async {
        let r = put_new_blob(&http, tok, c, name, &first).await.unwrap();
        assert_eq!(r.url, format!("{}/{name}", az.container_url));
        assert!(r.etag.starts_with('"') && r.etag.len() > 2, "{r:?}");
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&first));
        assert_eq!(r.content_md5, md5);
        assert_eq!(r.sha256, hex::encode(sha2::Sha256::digest(&first)));

        assert_eq!(get_blob(&http, tok, c, name).await.unwrap(), first);

        // A second put of the same name is refused and leaves the first content.
        let e = put_new_blob(&http, tok, c, name, b"other bytes")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("already exists"), "{e}");
        assert!(e.contains("never overwrites a backup"), "{e}");
        assert!(e.contains(name), "{e}");
        assert_eq!(get_blob(&http, tok, c, name).await.unwrap(), first);

        // Names with characters that need encoding, and an empty blob.
        let odd = "contoso-key-2/a b&c+d%e.keybackup";
        put_new_blob(&http, tok, c, odd, b"").await.unwrap();
        assert_eq!(get_blob(&http, tok, c, odd).await.unwrap(), b"");
    });
}

#[test]
fn missing_container_and_blob_say_so() {
    let az = Azurite::start();
    let http = client(Some(&az.ca_pem));
    let tok = az.token.as_str();
    let nosuch = rehearsal_container(&format!("{}/nosuch", az.account_url));
    block_on(async {
        let e = put_new_blob(&http, tok, &nosuch, "k.keybackup", b"x")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("does not exist") && e.contains("ContainerNotFound"),
            "{e}"
        );
        let e = get_blob(
            &http,
            tok,
            &rehearsal_container(&az.container_url),
            "absent.keybackup",
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("is not in the container") && e.contains("BlobNotFound"),
            "{e}"
        );
    });
}

#[test]
fn bad_tokens_are_refused_clearly_and_never_shown() {
    let az = Azurite::start();
    let http = client(Some(&az.ca_pem));
    let c = &rehearsal_container(&az.container_url);
    let expired = mint_token(-60);
    block_on(async {
        let e = put_new_blob(&http, &expired, c, "k.keybackup", b"x")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("refused the access token"), "{e}");
        assert!(e.contains("expired"), "{e}");
        assert!(e.contains("https://storage.azure.com/.default"), "{e}");
        assert!(!e.contains(&expired), "the token is in the message: {e}");

        let garbage = "not-a-jwt-SECRET";
        let e = get_blob(&http, garbage, c, "k.keybackup")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("refused the access token"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");

        // Nothing was stored by the refused put.
        let e = get_blob(&http, &az.token, c, "k.keybackup")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("BlobNotFound"), "{e}");
    });
}

#[test]
fn untrusted_endpoint_fails_fast_and_says_ca_file() {
    let az = Azurite::start();
    let http = client(None);
    let t0 = Instant::now();
    let e = block_on(put_new_blob(
        &http,
        &az.token,
        &rehearsal_container(&az.container_url),
        "k.keybackup",
        b"x",
    ))
    .unwrap_err()
    .to_string();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(e.contains("not trusted") && e.contains("--ca-file"), "{e}");
    assert!(e.contains("cannot reach Blob Storage"), "{e}");
    assert!(!e.contains(&az.token), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn bad_container_urls_are_refused_before_any_request() {
    // No server: these fail on the URL alone, before a request can be made.
    let cases = [
        (
            "http://acct.blob.core.windows.net/backups",
            "must use https",
        ),
        (
            "https://acct.blob.core.windows.net/backups?sv=2024-11-04&sig=SECRET",
            "query string",
        ),
        (
            "https://acct.blob.core.windows.net/",
            "exactly one container",
        ),
        (
            "https://acct.blob.core.windows.net/UPPER",
            "not a valid container name",
        ),
    ];
    for (url, says) in cases {
        for mode in [Mode::Ceremony, Mode::Rehearsal] {
            let e = ContainerUrl::parse(url, mode).unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
    }
    // Azurite on this machine is a rehearsal's target only, with a path-style URL.
    let e = ContainerUrl::parse("https://127.0.0.1:9/devstoreaccount1", Mode::Rehearsal)
        .unwrap_err()
        .to_string();
    assert!(e.contains("/ACCOUNT/CONTAINER"), "{e}");
    let e = ContainerUrl::parse(
        "https://127.0.0.1:9/devstoreaccount1/backups",
        Mode::Ceremony,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("only a rehearsal"), "{e}");
    assert_eq!(
        ContainerUrl::parse(
            &format!("https://acct.blob.core.windows.net/{CONTAINER}"),
            Mode::Ceremony
        )
        .unwrap()
        .container(),
        CONTAINER
    );
}

#[test]
fn missing_azurite_fails_naming_the_install_step() {
    let bogus = std::env::temp_dir().join("byok-no-such-azurite/azurite-blob");
    let r = std::panic::catch_unwind(|| Azurite::start_with(&bogus));
    let msg = match r {
        Ok(_) => panic!("started a missing Azurite"),
        Err(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    };
    assert!(msg.contains("npm ci --prefix tests/azurite"), "{msg}");
    assert!(msg.contains("BYOK_AZURITE"), "{msg}");
}
