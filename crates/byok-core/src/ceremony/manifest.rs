//! The ceremony directory's files and `manifest.json`: the SHA-256 of every public key
//! and package the offline run made, which the connected side checks before it sends
//! anything. Deterministic (no times), so a resumed run can tell whether a manifest
//! already on disk is the one it would write.

use super::plan::CheckedPlan;
use crate::fsutil;
use crate::transcript::HsmId;
use crate::util::sha256_hex;
use crate::{err, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The transcript's file name in the ceremony directory.
pub const TRANSCRIPT: &str = "transcript.jsonl";
/// The manifest's file name in the ceremony directory.
pub const MANIFEST: &str = "manifest.json";

/// The public key file of key `name`.
pub fn pub_file(name: &str) -> String {
    format!("{name}.pub.pem")
}

/// The package file of key `name`.
pub fn package_file(name: &str) -> String {
    format!("{name}.byok")
}

/// The wrapped key's file of key `name` for a target: `NAME.byok` (Azure),
/// `NAME.aws.bin`, `NAME.gcp.bin` (raw bytes), `NAME.openbao.b64` (base64).
pub fn output_file(name: &str, target: super::plan::TargetKind) -> String {
    use super::plan::TargetKind;
    match target {
        TargetKind::Azure => package_file(name),
        TargetKind::AwsKms => format!("{name}.aws.bin"),
        TargetKind::GcpKms => format!("{name}.gcp.bin"),
        TargetKind::OpenBao => format!("{name}.openbao.b64"),
    }
}

/// `DIR/manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub ceremony: String,
    pub plan_sha256: String,
    pub byok_version: String,
    pub token: HsmId,
    pub signer_spki_sha256: Option<String>,
    pub keys: Vec<ManifestKey>,
}

/// One key in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestKey {
    /// The key's target (`azure` when absent, as manifests before other targets had it).
    #[serde(default, skip_serializing_if = "is_azure")]
    pub target: super::plan::TargetKind,
    /// The import method as the target names it (not for Azure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The hash of the wrap's RSA-OAEP (not for Azure, which is SHA-1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oaep_hash: Option<crate::hsm::OaepHash>,
    /// Empty for a stand-alone key.
    pub policy: String,
    pub service: String,
    /// Empty for a key of another target.
    pub vault: String,
    pub name: String,
    pub size: usize,
    pub kek_kid: String,
    pub kek_sha256: String,
    pub public_key: String,
    pub public_key_sha256: String,
    pub spki_sha256: String,
    /// The wrapped key's file ([`output_file`]) and its SHA-256: the package, for Azure.
    pub package: String,
    pub package_sha256: String,
    /// A key roll: the package is a new version of key `name`, which exists in the vault.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub roll: bool,
    /// The key's label on the token, where it is not `name` (a roll's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

fn is_azure(t: &super::plan::TargetKind) -> bool {
    *t == super::plan::TargetKind::Azure
}

/// The manifest and its bytes, computed from the files in `dir`. `spki_of` maps each key
/// name to its public key's fingerprint as the transcript recorded it.
pub fn build(
    plan: &CheckedPlan,
    dir: &Path,
    token: &HsmId,
    signer_spki_sha256: Option<String>,
    spki_of: &BTreeMap<String, String>,
) -> Result<(Manifest, Vec<u8>)> {
    let mut keys = Vec::new();
    for k in &plan.keys {
        let name = &k.key.name;
        let label = &k.label;
        let pem = fsutil::read_limited(&dir.join(pub_file(label)), 1 << 16, "public key")?;
        let out = k.output_file();
        let pkg = fsutil::read_limited(&dir.join(&out), 1 << 20, "wrapped key")?;
        let azure = k.target.kind() == super::plan::TargetKind::Azure;
        keys.push(ManifestKey {
            target: k.target.kind(),
            method: (!azure).then(|| k.target.method()),
            oaep_hash: (!azure).then(|| k.target.hash()),
            policy: k.policy.clone(),
            service: k.service.clone(),
            vault: k.vault.clone(),
            name: name.clone(),
            size: k.key.size,
            kek_kid: k.kek.kid.as_ref().map(|x| x.url()).unwrap_or_default(),
            kek_sha256: hex::encode(k.kek.sha256()),
            public_key: pub_file(label),
            public_key_sha256: sha256_hex(&pem),
            spki_sha256: spki_of.get(name).cloned().unwrap_or_default(),
            package: out,
            package_sha256: sha256_hex(&pkg),
            roll: k.key.roll,
            label: (label != name).then(|| label.clone()),
        });
    }
    let m = Manifest {
        ceremony: plan.plan.ceremony.clone(),
        plan_sha256: plan.sha256_hex(),
        byok_version: env!("CARGO_PKG_VERSION").into(),
        token: token.clone(),
        signer_spki_sha256,
        keys,
    };
    let mut bytes =
        serde_json::to_vec_pretty(&m).map_err(|e| err!(Internal, "internal: manifest: {e}"))?;
    bytes.push(b'\n');
    Ok((m, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(pub_file("K-1"), "K-1.pub.pem");
        assert_eq!(package_file("K-1"), "K-1.byok");
    }

    #[test]
    fn a_manifest_reads_back_as_written() {
        let m = Manifest {
            ceremony: "c".into(),
            plan_sha256: "00".into(),
            byok_version: "0.1.0".into(),
            token: HsmId {
                label: "T".into(),
                manufacturer: "M".into(),
                model: "X".into(),
                serial: "1".into(),
                firmware: "2.6".into(),
                hardware: "2.6".into(),
            },
            signer_spki_sha256: None,
            keys: vec![],
        };
        let json = serde_json::to_string(&m).unwrap();
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }
}
