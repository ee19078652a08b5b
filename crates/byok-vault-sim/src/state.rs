//! The simulated vault's contents and their file, `DIR/state.json`.
//!
//! THIS IS A SIMULATOR: the private halves of its "HSM" keys are stored here, in the
//! clear (base64url PKCS#8), in a file only its owner can read. A real Key Vault never
//! lets key material out of its HSMs. Never put a production key into the simulator.
//!
//! The file is rewritten whole and atomically (temp file, fsync, rename, fsync dir)
//! after every change, so a crash leaves the old state or the new one.

use byok_core::fsutil;
use byok_core::{bail, err, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The state file in the state directory.
pub const STATE_FILE: &str = "state.json";

/// The format number written to the state file; a file with another one is refused.
const FORMAT: u32 = 1;

/// Everything the vault holds.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub format: u32,
    /// Keys by name, live and soft-deleted.
    pub keys: BTreeMap<String, KeyRecord>,
}

/// One key name: its versions, oldest first (the last is the current one).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    pub name: String,
    pub versions: Vec<Version>,
    /// Set while the key is soft-deleted.
    #[serde(default)]
    pub deleted: Option<Deleted>,
}

/// When a key was soft-deleted and when the vault would purge it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Deleted {
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
}

/// One key version, with its private key (simulator only, see the module comment).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Version {
    /// 32 lowercase hex digits.
    pub version: String,
    /// `RSA` or `RSA-HSM`.
    pub kty: String,
    pub key_ops: Vec<String>,
    pub enabled: bool,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Public modulus and exponent, base64url (as in the JWK).
    pub n: String,
    pub e: String,
    /// PKCS#8 PrivateKeyInfo DER, base64url. Simulator only.
    pub private_pkcs8: String,
    /// `generated` (made in the vault by create) or `imported`; what a Managed HSM
    /// attestation reports as CKA_LOCAL. Absent in older state files: taken as imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl State {
    /// A vault with no keys, in the current format.
    pub fn empty() -> State {
        State {
            format: FORMAT,
            keys: BTreeMap::new(),
        }
    }
}

impl KeyRecord {
    pub fn latest(&self) -> Option<&Version> {
        self.versions.last()
    }

    /// A version by id; the empty id means the current version.
    pub fn version(&self, id: &str) -> Option<&Version> {
        if id.is_empty() {
            self.latest()
        } else {
            self.versions
                .iter()
                .find(|v| v.version.eq_ignore_ascii_case(id))
        }
    }

    pub fn version_mut(&mut self, id: &str) -> Option<&mut Version> {
        if id.is_empty() {
            self.versions.last_mut()
        } else {
            self.versions
                .iter_mut()
                .find(|v| v.version.eq_ignore_ascii_case(id))
        }
    }
}

/// The state and where it lives.
pub struct Store {
    path: PathBuf,
    pub state: State,
}

impl Store {
    /// Load `DIR/state.json`, or start empty when there is none.
    pub fn open(dir: &Path) -> Result<Store> {
        let path = dir.join(STATE_FILE);
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let state: State = serde_json::from_slice(&bytes).map_err(|e| {
                    err!(
                        Integrity,
                        "{} is not a simulator state file ({e}); move it away to start empty",
                        path.display()
                    )
                })?;
                if state.format != FORMAT {
                    bail!(
                        "{} has format {}; this simulator reads format {FORMAT}",
                        path.display(),
                        state.format
                    );
                }
                state
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::empty(),
            Err(e) => return Err(err!(Io, "cannot read {}: {e}", path.display())),
        };
        Ok(Store { path, state })
    }

    /// Write `next` to disk and, only when that worked, make it the current state.
    pub fn commit(&mut self, next: State) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| err!(Internal, "cannot serialize the simulator state: {e}"))?;
        fsutil::write_replace(&self.path, &bytes, 0o600)?;
        self.state = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;

    fn version(id: &str) -> Version {
        Version {
            version: id.to_string(),
            kty: "RSA-HSM".into(),
            key_ops: vec!["import".into()],
            enabled: true,
            nbf: Some(1),
            exp: None,
            created: 10,
            updated: 11,
            tags: BTreeMap::from([("a".into(), "b".into())]),
            n: "AQ".into(),
            e: "AQAB".into(),
            private_pkcs8: "MA".into(),
            origin: Some("generated".into()),
        }
    }

    fn record() -> KeyRecord {
        KeyRecord {
            name: "Kek".into(),
            versions: vec![version("aa"), version("BB")],
            deleted: Some(Deleted {
                deleted_date: 5,
                scheduled_purge_date: 6,
            }),
        }
    }

    #[test]
    fn versions_by_id_and_latest() {
        let mut r = record();
        assert_eq!(r.latest().unwrap().version, "BB");
        assert_eq!(r.version("").unwrap().version, "BB");
        assert_eq!(r.version("AA").unwrap().version, "aa");
        assert_eq!(r.version("bb").unwrap().version, "BB");
        assert!(r.version("cc").is_none());
        r.version_mut("aa").unwrap().enabled = false;
        assert!(!r.versions[0].enabled);
        r.version_mut("").unwrap().updated = 99;
        assert_eq!(r.versions[1].updated, 99);
        assert!(r.version_mut("cc").is_none());
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert!(store.state.keys.is_empty());
        assert!(!dir.path().join(STATE_FILE).exists(), "nothing written yet");
        let mut next = store.state.clone();
        next.keys.insert("kek".into(), record());
        store.commit(next).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(STATE_FILE))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o077, 0, "the state file must be private");
        let again = Store::open(dir.path()).unwrap();
        assert_eq!(again.state.format, FORMAT);
        assert_eq!(again.state.keys["kek"], record());
        // A second commit replaces the file whole.
        let mut store = again;
        store.commit(State::empty()).unwrap();
        assert!(Store::open(dir.path()).unwrap().state.keys.is_empty());
    }

    #[test]
    fn older_files_without_origin_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = serde_json::to_value(version("aa")).unwrap();
        v.as_object_mut().unwrap().remove("origin");
        let text = serde_json::json!({"format": 1, "keys": {"k": {"name": "k", "versions": [v]}}});
        std::fs::write(dir.path().join(STATE_FILE), text.to_string()).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rec = &store.state.keys["k"];
        assert_eq!(rec.versions[0].origin, None);
        assert_eq!(rec.deleted, None);
    }

    #[test]
    fn damaged_or_foreign_state_files_are_refused() {
        let mut good = serde_json::to_value(State::empty()).unwrap();
        good["keys"]["k"] = serde_json::to_value(record()).unwrap();
        let mut unknown = good.clone();
        unknown["keys"]["k"]["versions"][0]["extractable"] = true.into();
        let mut other_format = good.clone();
        other_format["format"] = 2.into();
        let (unknown, other_format) = (unknown.to_string(), other_format.to_string());
        let cases: [(&[u8], ErrorKind); 5] = [
            (b"{\"format\": 1, \"keys\": {", ErrorKind::Integrity),
            (b"\x00\x01", ErrorKind::Integrity),
            (b"[]", ErrorKind::Integrity),
            (unknown.as_bytes(), ErrorKind::Integrity),
            (other_format.as_bytes(), ErrorKind::BadInput),
        ];
        for (i, (bytes, kind)) in cases.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(STATE_FILE), bytes).unwrap();
            let e = Store::open(dir.path())
                .err()
                .unwrap_or_else(|| panic!("case {i}"));
            assert_eq!(e.kind(), *kind, "case {i}: {e}");
            assert!(e.message().contains(STATE_FILE), "{e}");
        }
        // The good one loads.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), good.to_string()).unwrap();
        assert_eq!(Store::open(dir.path()).unwrap().state.keys["k"], record());
    }

    #[test]
    fn an_unreadable_state_file_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be cannot be read as one.
        std::fs::create_dir(dir.path().join(STATE_FILE)).unwrap();
        let e = Store::open(dir.path()).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
    }
}
