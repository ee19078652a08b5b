//! Container URLs and blob names, checked before any request.
//!
//! A container URL is `https://ACCOUNT.blob.core.windows.net/CONTAINER` (or the
//! sovereign clouds' `.blob.core.usgovcloudapi.net`, `.blob.core.chinacloudapi.cn`), or
//! in a rehearsal only, for a local emulator on this machine (a loopback address or
//! `localhost`) the path-style `http(s)://127.0.0.1:PORT/ACCOUNT/CONTAINER`: a real
//! backup's token for Blob Storage never goes to whatever listens on this machine, nor
//! over plain http. No other host: the copy sends
//! a bearer token, which must reach Blob Storage only. It never carries a query string: a
//! SAS token in a URL would be a secret on the command line. Nor a user name, password or
//! fragment.

use byok_core::keyid::Mode;
use byok_core::{bail, err, Result};
use reqwest::Url;
use std::net::IpAddr;

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
    /// An emulator on this machine is accepted only in a rehearsal.
    pub fn parse(s: &str, mode: Mode) -> Result<ContainerUrl> {
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
        // A loopback address or localhost: a local emulator, with path-style URLs.
        let ip = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        let loopback = host == "localhost" || ip.is_some_and(|a| a.is_loopback());
        let emulator = loopback;
        if !loopback && !is_blob_host(&host) {
            bail!(
                "the container URL's host {host} is not a Blob Storage endpoint \
                 (ACCOUNT{}, ACCOUNT{} or ACCOUNT{}, ACCOUNT 3 to 24 lowercase letters and \
                 digits) nor this machine (an emulator): the copy sends a bearer token, so \
                 byok sends it nowhere else; {fix}",
                BLOB_SUFFIXES[0],
                BLOB_SUFFIXES[1],
                BLOB_SUFFIXES[2]
            );
        }
        if loopback && mode != Mode::Rehearsal {
            bail!(
                "the container URL's host {host} is this machine: only a rehearsal \
                 (--rehearsal) copies backups to a local emulator, since the copy sends a \
                 real token for Blob Storage; {fix}"
            );
        }
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
        let Some(container) = segments.last().copied() else {
            bail!("the container URL names no container; {fix}");
        };
        check_container_name(container)?;
        let container = container.to_string();
        let path = format!("/{}", segments.join("/"));
        let mut url = url;
        url.set_path(&path);
        Ok(ContainerUrl { container, url })
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
            let mut segs = url.path_segments_mut().map_err(|_| {
                err!(
                    Internal,
                    "internal: the container URL cannot take a blob name"
                )
            })?;
            // `push` percent-encodes each segment; '/' in a blob name is a virtual folder.
            for part in name.split('/') {
                segs.push(part);
            }
        }
        Ok(url)
    }
}

/// Blob Storage endpoint host suffixes: the public cloud, Azure Government, Azure China.
const BLOB_SUFFIXES: [&str; 3] = [
    ".blob.core.windows.net",
    ".blob.core.usgovcloudapi.net",
    ".blob.core.chinacloudapi.cn",
];

/// Is `host` (lowercase) a storage account's Blob endpoint: `ACCOUNT` + one of
/// [`BLOB_SUFFIXES`], the account name 3 to 24 lowercase letters and digits?
fn is_blob_host(host: &str) -> bool {
    BLOB_SUFFIXES.iter().any(|suffix| {
        host.strip_suffix(suffix).is_some_and(|account| {
            (3..=24).contains(&account.len())
                && account
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;

    #[test]
    fn container_urls() {
        let c = ContainerUrl::parse(
            "https://acct.blob.core.windows.net/backups/",
            Mode::Ceremony,
        )
        .unwrap();
        assert_eq!(c.container(), "backups");
        assert_eq!(c.as_str(), "https://acct.blob.core.windows.net/backups");
        let c = ContainerUrl::parse(
            " https://acct.blob.core.windows.net//backups ",
            Mode::Ceremony,
        )
        .unwrap();
        assert_eq!(c.as_str(), "https://acct.blob.core.windows.net/backups");
        let c = ContainerUrl::parse(
            "http://127.0.0.1:10000/devstoreaccount1/backups",
            Mode::Rehearsal,
        )
        .unwrap();
        assert_eq!(c.container(), "backups");
        assert_eq!(
            c.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1/backups"
        );
        ContainerUrl::parse(
            "http://[::1]:10000/devstoreaccount1/backups",
            Mode::Rehearsal,
        )
        .unwrap();
        ContainerUrl::parse(
            "http://localhost:10000/devstoreaccount1/backups",
            Mode::Rehearsal,
        )
        .unwrap();
        ContainerUrl::parse(
            "https://127.0.0.1:10000/devstoreaccount1/backups",
            Mode::Rehearsal,
        )
        .unwrap();
        // The sovereign clouds' endpoints.
        for host in [
            "acct.blob.core.usgovcloudapi.net",
            "acct.blob.core.chinacloudapi.cn",
            "ACCT123.Blob.Core.Windows.Net",
        ] {
            let c =
                ContainerUrl::parse(&format!("https://{host}/backups"), Mode::Ceremony).unwrap();
            assert_eq!(c.container(), "backups");
        }
    }

    #[test]
    fn only_blob_endpoints_and_this_machine_get_the_token() {
        for bad in [
            "https://evil.example.com/backups",
            "https://evil.example.com/devstoreaccount1/backups",
            "https://acct.blob.core.windows.net.evil.com/backups",
            "https://blob.core.windows.net/backups",
            "https://ab.blob.core.windows.net/backups",
            "https://a-b-c.blob.core.windows.net/backups",
            "https://x.acct.blob.core.windows.net/backups",
            &format!("https://{}.blob.core.windows.net/backups", "a".repeat(25)),
            "https://acct.file.core.windows.net/backups",
            "https://acct.vault.azure.net/backups",
            "https://acct.blob.core.cloudapi.de/backups",
            "https://203.0.113.7:10000/devstoreaccount1/backups",
            "https://192.0.2.2:10000/devstoreaccount1/backups",
            "https://10.0.0.1/devstoreaccount1/backups",
            "https://[fd00::2]:10000/devstoreaccount1/backups",
            "https://localhost.evil.com/devstoreaccount1/backups",
            "https://127.0.0.1.nip.io/devstoreaccount1/backups",
        ] {
            let e = ContainerUrl::parse(bad, Mode::Rehearsal).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadInput, "{bad}");
            assert!(
                e.message().contains("is not a Blob Storage endpoint"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn an_emulator_on_this_machine_only_in_a_rehearsal() {
        for u in [
            "http://127.0.0.1:10000/devstoreaccount1/backups",
            "https://127.0.0.1:10000/devstoreaccount1/backups",
            "https://[::1]:10000/devstoreaccount1/backups",
            "https://localhost:10000/devstoreaccount1/backups",
            "https://127.0.0.2/devstoreaccount1/backups",
        ] {
            ContainerUrl::parse(u, Mode::Rehearsal).unwrap();
            let e = ContainerUrl::parse(u, Mode::Ceremony).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadInput, "{u}");
            assert!(e.message().contains("only a rehearsal"), "{u}: {e}");
        }
    }

    #[test]
    fn bad_container_urls_say_what_to_fix() {
        let refused = |u: &str, says: &str| {
            let e = ContainerUrl::parse(u, Mode::Rehearsal).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadInput, "{u}");
            assert!(e.message().contains(says), "{u}: {e}");
        };
        refused(
            "http://acct.blob.core.windows.net/backups",
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
        refused("https://127.0.0.1:10000/a/b/c", "/ACCOUNT/CONTAINER");
        refused(
            "https://acct.blob.core.windows.net/Backups",
            "not a valid container name",
        );
        refused(
            "https://acct.blob.core.windows.net/a--b",
            "not a valid container name",
        );
        refused(
            "https://acct.blob.core.windows.net/ab",
            "not a valid container name",
        );
        refused(
            "https://acct.blob.core.windows.net/-ab",
            "not a valid container name",
        );
        refused(
            "https://acct.blob.core.windows.net/ab-",
            "not a valid container name",
        );
        refused(
            &format!("https://acct.blob.core.windows.net/{}", "a".repeat(64)),
            "not a valid container name",
        );
        refused(
            "https://u:p@acct.blob.core.windows.net/backups",
            "user name or password",
        );
        refused(
            "https://u@acct.blob.core.windows.net/backups",
            "user name or password",
        );
        refused("https://acct.blob.core.windows.net/backups#x", "#fragment");
        refused("ftp://acct.blob.core.windows.net/backups", "scheme ftp");
        refused("not a url", "not a URL");
        // No message echoes a SAS signature.
        let e = ContainerUrl::parse(
            "https://a.blob.core.windows.net/c?sig=SECRET",
            Mode::Ceremony,
        )
        .unwrap_err();
        assert!(!e.message().contains("SECRET"));
    }

    #[test]
    fn blob_urls() {
        let c = ContainerUrl::parse("https://acct.blob.core.windows.net/backups", Mode::Ceremony)
            .unwrap();
        assert_eq!(
            c.blob_url("k1/key 1#v?.backup").unwrap().as_str(),
            "https://acct.blob.core.windows.net/backups/k1/key%201%23v%3F.backup"
        );
        assert_eq!(
            c.blob_url("v-k-Backup-20260101.backup").unwrap().as_str(),
            "https://acct.blob.core.windows.net/backups/v-k-Backup-20260101.backup"
        );
        let long = "a".repeat(1025);
        for bad in [
            "", "a/../b", "a//b", "/a", "a/", "a.", "a\nb", "a\\b", ".", "..", &long,
        ] {
            assert_eq!(
                c.blob_url(bad).unwrap_err().kind(),
                ErrorKind::BadInput,
                "{bad:?}"
            );
        }
    }
}
