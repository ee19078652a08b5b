//! The simulated vault's contents and their file, `DIR/state.json`.
//!
//! THIS IS A SIMULATOR: the private halves of its "HSM" keys are stored here, in the
//! clear (base64url PKCS#8), in a file only its owner can read. A real Key Vault never
//! lets key material out of its HSMs. Never put a production key into the simulator.
//!
//! The file is rewritten whole and atomically (temp file, fsync, rename, fsync dir)
//! after every change, so a crash leaves the old state or the new one.

use byok_core::fsutil;
use byok_core::{err, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
        let path = dir.join("state.json");
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let state: State = serde_json::from_slice(&bytes).map_err(|e| {
                    err!(
                        "{} is not a simulator state file ({e}); move it away to start empty",
                        path.display()
                    )
                })?;
                if state.format != FORMAT {
                    return Err(err!(
                        "{} has format {}; this simulator reads format {FORMAT}",
                        path.display(),
                        state.format
                    ));
                }
                state
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                format: FORMAT,
                keys: BTreeMap::new(),
            },
            Err(e) => return Err(err!("cannot read {}: {e}", path.display())),
        };
        Ok(Store { path, state })
    }

    /// Write `next` to disk and, only when that worked, make it the current state.
    pub fn commit(&mut self, next: State) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| err!("cannot serialize the simulator state: {e}"))?;
        fsutil::write_replace(&self.path, &bytes, 0o600)?;
        self.state = next;
        Ok(())
    }
}
