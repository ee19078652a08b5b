//! The ceremony transcript: an append-only, hash-chained JSON Lines file.
//!
//! Every step of a ceremony appends one record, one JSON object on one line:
//!
//! ```json
//! {"seq":3,"prev":"<hex SHA-256 of line 2's bytes>","time":"2026-12-01T09:14:03Z",
//!  "step":"keygen","actor":"byok","inputs":{},"outputs":{"Contoso-…-Key001.pub.pem":"<hex>"},
//!  "hsm":{"label":"…","manufacturer":"…","model":"…","serial":"…","firmware":"…","hardware":"…"},
//!  "tool":{"name":"byok","version":"0.1.0"},"detail":{…}}
//! ```
//!
//! - `seq` counts from 0. `prev` is the SHA-256 of the previous record's exact line bytes
//!   (without its newline); for record 0 (step `open`) it is the SHA-256 of the plan
//!   file's bytes, which the `open` record also lists as `inputs.plan`. Editing,
//!   deleting or reordering any record breaks the chain at the next record.
//! - `inputs` and `outputs` map a name (a file in the ceremony directory, or a
//!   role such as `kek` or `public-key`) to the hex SHA-256 of its bytes.
//! - `hsm` is the token's identity (null for steps that do not touch it); `tool` is byok's.
//! - Each record is written with `O_APPEND` in one `write`, then `fsync`ed (and the
//!   directory too when the file is created) before the step is reported done.
//! - The last record, step `close`, ends the ceremony; nothing may follow it. Where the
//!   token can sign, it carries `signature`: an RSASSA-PKCS1-v1_5 SHA-256 signature
//!   (`CKM_SHA256_RSA_PKCS`) made in the HSM by the ceremony's transcript signer key
//!   over the close record's line **without** its `signature` field, i.e. the line's
//!   bytes up to `,"signature":` followed by `}`. The signer's SPKI is in the signature
//!   (base64) and its SHA-256 was recorded earlier, in the `signer` record, so the
//!   chain binds the key. See `docs/transcript.md` for checking it with openssl.
//!
//! The SHA-256 of the close record's line is the transcript's *digest*: the officers
//! write it (hex and PGP words) on the printed record and sign it, which protects the
//! whole chain even where the token could not sign.

pub mod custody;
mod verify;
mod writer;

pub use custody::{check_offline, parse_digest, Custody};
pub use verify::{signed_body, verify, verify_bytes, Verified, VerifyReport};
pub use writer::{read_unfinished, unfinished_bytes, Writer};

use crate::{err, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The format name the `open` record carries in `detail.format`.
pub const FORMAT: &str = "byok-transcript/1";
/// The signature algorithm of a signed close record.
pub const SIG_ALG: &str = "RSASSA-PKCS1-v1_5-SHA256";
/// Largest transcript byok reads.
const LIMIT: u64 = 64 << 20;

/// The token's identity as a record carries it: the HSM layer's own identity type.
pub use crate::hsm::TokenIdentity as HsmId;

/// What a record records: the `step` value of every record byok writes, in the offline
/// ceremony and in the connected import. The same names name the crash points
/// ([`crate::crashpoint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepName {
    /// The first record: the plan's hash, the officers, the token.
    Open,
    /// An interrupted ceremony is taken up again.
    Resume,
    /// The token's BYOK verdict, library and module.
    Preflight,
    /// The self-test's result.
    Selftest,
    /// The transcript signer key (or why there is none).
    Signer,
    /// The officers confirmed a KEK's fingerprint.
    KekConfirmed,
    /// A key is about to be generated (written before the HSM is asked).
    KeygenStarted,
    /// A key was generated and its public key written.
    Keygen,
    /// A key was wrapped into a package.
    Wrap,
    /// `manifest.json` was written.
    Manifest,
    /// The last record.
    Close,
    /// Import: a package was uploaded (or found uploaded).
    Upload,
    /// Import: the vault's key passed the Customer Key rules.
    Verify,
    /// Import: a key was backed up.
    Backup,
}

impl StepName {
    /// Every step name.
    pub const ALL: [StepName; 14] = [
        StepName::Open,
        StepName::Resume,
        StepName::Preflight,
        StepName::Selftest,
        StepName::Signer,
        StepName::KekConfirmed,
        StepName::KeygenStarted,
        StepName::Keygen,
        StepName::Wrap,
        StepName::Manifest,
        StepName::Close,
        StepName::Upload,
        StepName::Verify,
        StepName::Backup,
    ];

    /// The name as records carry it, e.g. `kek-confirmed`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepName::Open => "open",
            StepName::Resume => "resume",
            StepName::Preflight => "preflight",
            StepName::Selftest => "selftest",
            StepName::Signer => "signer",
            StepName::KekConfirmed => "kek-confirmed",
            StepName::KeygenStarted => "keygen-started",
            StepName::Keygen => "keygen",
            StepName::Wrap => "wrap",
            StepName::Manifest => "manifest",
            StepName::Close => "close",
            StepName::Upload => "upload",
            StepName::Verify => "verify",
            StepName::Backup => "backup",
        }
    }

    /// The step named `s`.
    pub fn parse(s: &str) -> Option<StepName> {
        StepName::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

impl std::fmt::Display for StepName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tool that wrote a record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    pub fn this() -> Tool {
        Tool {
            name: "byok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The HSM's signature on the close record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Always [`SIG_ALG`].
    pub alg: String,
    /// The signer key's label on the token.
    pub signer: String,
    /// The signer's SubjectPublicKeyInfo DER, standard base64.
    pub spki: String,
    /// Hex SHA-256 of the SPKI DER (as in the `signer` record).
    pub spki_sha256: String,
    /// The signature, standard base64.
    pub value: String,
}

/// One transcript record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub seq: u64,
    pub prev: String,
    pub time: String,
    pub step: StepName,
    pub actor: String,
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    pub hsm: Option<HsmId>,
    pub tool: Tool,
    #[serde(default)]
    pub detail: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

impl Record {
    /// A new record for `step` by `actor`; the writer fills `seq`, `prev` and `time`.
    pub fn new(step: StepName, actor: &str) -> Record {
        Record {
            seq: 0,
            prev: String::new(),
            time: String::new(),
            step,
            actor: actor.into(),
            inputs: BTreeMap::new(),
            outputs: BTreeMap::new(),
            hsm: None,
            tool: Tool::this(),
            detail: serde_json::Map::new(),
            signature: None,
        }
    }

    pub fn input(mut self, name: &str, sha256: &str) -> Record {
        self.inputs.insert(name.into(), sha256.into());
        self
    }

    pub fn output(mut self, name: &str, sha256: &str) -> Record {
        self.outputs.insert(name.into(), sha256.into());
        self
    }

    pub fn hsm(mut self, id: &HsmId) -> Record {
        self.hsm = Some(id.clone());
        self
    }

    pub fn detail(mut self, key: &str, value: impl Serialize) -> Record {
        self.detail.insert(
            key.into(),
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        );
        self
    }

    /// A string field of `detail`.
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.detail.get(key).and_then(|v| v.as_str())
    }

    pub(crate) fn line(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| err!(Internal, "internal: cannot encode a transcript record: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_are_their_serde_names() {
        for n in StepName::ALL {
            let json = serde_json::to_value(n).unwrap();
            assert_eq!(json, n.as_str(), "{n:?}");
            assert_eq!(StepName::parse(n.as_str()), Some(n));
            let back: StepName = serde_json::from_value(json).unwrap();
            assert_eq!(back, n);
        }
        assert_eq!(StepName::parse("kek_confirmed"), None);
    }

    #[test]
    fn records_are_strict_json() {
        let rec = Record::new(StepName::KekConfirmed, "Alice (officer)")
            .input("keks/a.json", "00")
            .detail("method", "yes");
        let line = String::from_utf8(rec.line().unwrap()).unwrap();
        assert!(line.contains(r#""step":"kek-confirmed""#), "{line}");
        assert_eq!(rec.detail_str("method"), Some("yes"));
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, rec);
        let extra = line.replacen('{', r#"{"extra":1,"#, 1);
        assert!(
            serde_json::from_str::<Record>(&extra).is_err(),
            "unknown fields refused"
        );
        let unknown = line.replace("kek-confirmed", "kek-forged");
        assert!(
            serde_json::from_str::<Record>(&unknown).is_err(),
            "unknown steps refused"
        );
    }
}
