//! `ceremony import` for the targets besides Azure: OpenBao (or Vault) transit, imported
//! through its HTTP API and read back; AWS KMS and Google Cloud KMS, for which byok holds
//! no credentials, as the exact commands to run and the check to make afterwards.

use super::inputs::ManifestKey;
use crate::openbao::{BaoKey, OpenBao};
use byok_core::ceremony::plan::{KeyPlan, KeyTarget};
use byok_core::targets::{aws, gcp, shell_quote};
use byok_core::transcript::{Record, StepName, Writer};
use byok_core::{bail, err, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// An OpenBao key the import made (or found made by an earlier run).
#[derive(Debug, Serialize)]
pub struct BaoImported {
    pub name: String,
    pub address: String,
    pub mount: String,
    /// The key's version that holds the HSM's key.
    pub version: u32,
    pub uploaded_now: bool,
    pub verified: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub roll: bool,
}

/// What to run for a key of a cloud byok holds no credentials for (AWS KMS, Google
/// Cloud KMS), and how to check the result.
#[derive(Debug, Clone, Serialize)]
pub struct CloudCommands {
    pub name: String,
    pub target: &'static str,
    pub destination: String,
    /// The import, then fetching the public key the cloud then holds.
    pub import: Vec<String>,
    /// `byok verify --pub-from … --key NAME.pub.pem`: the cloud holds the HSM's key.
    pub verify: String,
}

/// The connected OpenBao mounts, by (address, mount).
pub(super) type BaoClients = BTreeMap<(String, String), OpenBao>;

/// What the OpenBao import of a key will do, decided before anything is sent.
pub(super) enum BaoPlan {
    /// `import` (a new key).
    Import,
    /// `import_version` (a roll of an existing imported key).
    ImportVersion,
    /// An earlier run did it: this version holds the HSM's key.
    Done(u32),
}

/// The SPKI SHA-256 of a version's public key (PEM), or `None` if it is not RSA.
fn spki_sha256(pem: &str) -> Option<String> {
    byok_core::kek::rsa_public_from_bytes(pem.as_bytes())
        .ok()
        .map(|k| hex::encode(k.sha256()))
}

/// The version of `key` that holds the HSM's key (SPKI SHA-256 `spki`).
fn version_of(key: &BaoKey, spki: &str) -> Option<u32> {
    key.versions
        .iter()
        .find(|(_, pem)| spki_sha256(pem).as_deref() == Some(spki))
        .map(|(v, _)| *v)
}

/// Connect to every OpenBao mount the plan's keys name (a token from `token_file`, else
/// `BAO_TOKEN`, else `VAULT_TOKEN`) and decide, reading only, what each key needs. A key
/// that exists and is not the HSM's is refused unless the plan rolls it; a roll needs
/// the key to exist and to be an imported key.
pub(super) fn connect(
    plan: &[&KeyPlan],
    manifest: &[ManifestKey],
    ca_file: Option<&Path>,
    token_file: Option<&Path>,
    rehearsal: bool,
) -> Result<(BaoClients, BTreeMap<String, BaoPlan>)> {
    let mut clients = BaoClients::new();
    let mut decided = BTreeMap::new();
    for pk in plan {
        let KeyTarget::OpenBao {
            address,
            mount,
            key_type,
            ..
        } = &pk.target
        else {
            continue;
        };
        let mk = manifest_key(manifest, pk)?;
        let at = (address.clone(), mount.clone());
        if !clients.contains_key(&at) {
            let token = crate::openbao::token_from_env_or_file(token_file)?;
            let c = OpenBao::connect(address, mount, ca_file, rehearsal, token)?;
            clients.insert(at.clone(), c);
        }
        let c = clients
            .get(&at)
            .ok_or_else(|| err!(Internal, "internal: no OpenBao connection"))?;
        let name = &pk.key.name;
        let here = format!("OpenBao {address} mount {mount}");
        let d = match c.read_key(name)? {
            None if pk.key.roll => bail!(
                NotFound,
                "key {name} does not exist in {here}, and the plan rolls it: a roll adds a version to an existing imported key; check the plan's address, mount and key name, or drop \"roll\"; nothing was sent"
            ),
            None => BaoPlan::Import,
            Some(k) => match version_of(&k, &mk.spki_sha256) {
                Some(v) => BaoPlan::Done(v),
                None if !pk.key.roll => bail!(
                    Exists,
                    "key {name} already exists in {here} and does not hold this ceremony's key: OpenBao imports only into a new name; rename the key in the plan, or plan a roll (\"roll\": true) to add a version; nothing was sent"
                ),
                None if !k.imported_key => bail!(
                    "key {name} in {here} was made by OpenBao, not imported: import_version adds versions only to imported keys; roll an imported key, or rename the key in the plan; nothing was sent"
                ),
                None if k.key_type != key_type.name() => bail!(
                    "key {name} in {here} is of type {}, the plan says {}: fix the plan's type or name; nothing was sent",
                    byok_core::text::printable(&k.key_type),
                    key_type.name()
                ),
                None => BaoPlan::ImportVersion,
            },
        };
        decided.insert(name.clone(), d);
    }
    Ok((clients, decided))
}

fn manifest_key<'a>(manifest: &'a [ManifestKey], pk: &KeyPlan) -> Result<&'a ManifestKey> {
    manifest
        .iter()
        .find(|m| m.name == pk.key.name)
        .ok_or_else(|| {
            err!(
                Internal,
                "internal: key {} vanished from the manifest",
                pk.key.name
            )
        })
}

/// Import key `pk` into OpenBao as [`connect`] decided, read it back, check it holds the
/// HSM's key (imported, not exportable), and record both steps.
pub(super) fn import_bao(
    clients: &BaoClients,
    decided: &BTreeMap<String, BaoPlan>,
    pk: &KeyPlan,
    mk: &ManifestKey,
    dir: &Path,
    w: &mut Writer,
) -> Result<BaoImported> {
    let KeyTarget::OpenBao {
        address,
        mount,
        hash,
        key_type,
    } = &pk.target
    else {
        bail!(Internal, "internal: not an OpenBao key");
    };
    let c = clients
        .get(&(address.clone(), mount.clone()))
        .ok_or_else(|| err!(Internal, "internal: no OpenBao connection"))?;
    let name = &mk.name;
    let here = format!("OpenBao {address} mount {mount}");
    let done_before = match decided.get(name) {
        Some(BaoPlan::Done(v)) => Some(*v),
        Some(how) => {
            let bytes =
                byok_core::fsutil::read_limited(&dir.join(&mk.package), 1 << 20, "wrapped key")?;
            // The bytes sent are the bytes the manifest names, checked again here.
            if byok_core::util::sha256_hex(&bytes) != mk.package_sha256 {
                bail!(
                    Integrity,
                    "{} changed since the ceremony directory was checked: stop; nothing was sent for {name}",
                    mk.package
                );
            }
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| {
                    err!(
                        Integrity,
                        "{} is not base64 text: the file was altered; stop",
                        mk.package
                    )
                })?
                .trim_end_matches('\n');
            match how {
                BaoPlan::Import => c.import(name, text, hash.oaep(), key_type.name())?,
                _ => c.import_version(name, text, hash.oaep())?,
            }
            None
        }
        None => bail!(Internal, "internal: no decision for key {name}"),
    };
    // (Test builds only: a kill here leaves the key imported, unrecorded.)
    byok_core::crashpoint::hit(byok_core::crashpoint::CrashPoint::Done(StepName::Upload));
    let k = c.read_key(name)?.ok_or_else(|| {
        err!(
            Integrity,
            "key {name} is not in {here} right after its import: stop and check the server"
        )
    })?;
    let Some(version) = version_of(&k, &mk.spki_sha256) else {
        bail!(
            Integrity,
            "key {name} in {here} does not hold the HSM's key (SPKI SHA-256 {}) after the import: stop and investigate",
            mk.spki_sha256
        );
    };
    let mut failed = Vec::new();
    if !k.imported_key {
        failed.push("it is not marked imported");
    }
    if k.exportable {
        failed.push("it is exportable");
    }
    if k.allow_plaintext_backup {
        failed.push("it allows plaintext backup");
    }
    if k.key_type != key_type.name() {
        failed.push("its type is not the plan's");
    }
    // OpenBao encrypts and signs with the latest version: it must be the HSM's key, and
    // a new key has no other.
    if version != k.latest_version {
        failed.push("the HSM's key is not its latest version (another version was added)");
    }
    if matches!(decided.get(name), Some(BaoPlan::Import)) && k.versions.len() != 1 {
        failed.push("a new key with more than one version");
    }
    if !failed.is_empty() {
        bail!(
            Integrity,
            "key {name} in {here}: {}; stop and check the server",
            failed.join(", ")
        );
    }
    let mut rec = Record::new(StepName::Upload, "byok")
        .input(&mk.package, &mk.package_sha256)
        .detail("target", "openbao")
        .detail("address", address)
        .detail("mount", mount)
        .detail("key", name)
        .detail("hash_function", hash.name())
        .detail("version", version)
        .detail("already_done", done_before.is_some())
        .detail("spki_sha256", &mk.spki_sha256);
    if pk.key.roll {
        rec = rec.detail("roll", true);
    }
    w.append(rec)?;
    w.append(
        Record::new(StepName::Verify, "byok")
            .input(&mk.public_key, &mk.public_key_sha256)
            .detail("key", name)
            .detail("version", version)
            .detail(
                "rules",
                [
                    "openbao-same-key",
                    "openbao-imported",
                    "openbao-not-exportable",
                    "openbao-no-plaintext-backup",
                    "openbao-type",
                ],
            ),
    )?;
    Ok(BaoImported {
        name: name.clone(),
        address: address.clone(),
        mount: mount.clone(),
        version,
        uploaded_now: done_before.is_none(),
        verified: true,
        roll: pk.key.roll,
    })
}

/// The commands that import `pk` into AWS KMS or Google Cloud KMS, fetch the public key
/// the cloud then holds, and check it with `byok verify --pub-from`.
pub(super) fn cloud_commands(
    pk: &KeyPlan,
    mk: &ManifestKey,
    dir: &Path,
) -> Result<Option<CloudCommands>> {
    // Absolute paths: the commands are pasted wherever the operator's shell is.
    let abs = |p: std::path::PathBuf| std::fs::canonicalize(&p).unwrap_or(p);
    let wrapped = abs(dir.join(&mk.package));
    let public = abs(dir.join(&mk.public_key));
    let (target, import, fetched) = match &pk.target {
        KeyTarget::Aws {
            key_arn,
            import_token_path,
            ..
        } => {
            let out = Path::new(&format!("{}.aws-public.der", mk.name)).to_path_buf();
            (
                "aws-kms",
                vec![
                    aws::aws_import_command(key_arn, &wrapped, &abs(import_token_path.clone()))?,
                    aws::aws_get_public_key_command(key_arn, &out)?,
                ],
                out,
            )
        }
        KeyTarget::Gcp {
            crypto_key,
            import_job,
            algorithm,
            ..
        } => {
            let out = Path::new(&format!("{}.gcp-public.pem", mk.name)).to_path_buf();
            (
                "gcp-kms",
                vec![
                    gcp::gcloud_import_command(import_job, crypto_key, *algorithm, &wrapped)?,
                    gcp::gcloud_get_public_key_command(crypto_key, "VERSION", &out)?,
                ],
                out,
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(CloudCommands {
        name: mk.name.clone(),
        target,
        destination: pk.destination(),
        import,
        verify: format!(
            "byok verify --pub-from {} --key {}",
            shell_quote(&fetched)?,
            shell_quote(&public)?
        ),
    }))
}
