//! The rules on a plan's stand-alone `keys`: each key's name, size and KEK as for a
//! policy's key, and its target's block (Azure, AWS KMS, Google Cloud KMS, OpenBao),
//! every name and method parsed strictly (they end up in printed commands and URLs),
//! every size matched against the wrapping key and the method.

use super::normalize_vault;
use crate::ceremony::plan::{
    roll_label, KekAttestation, KeyPlan, KeyTarget, Plan, PlanKey, StandaloneKey, TargetKind,
};
use crate::kek::Kek;
use crate::keyid::{valid_key_name, Mode};
use crate::targets::{aws, gcp, openbao};
use crate::text::printable;
use crate::Error;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest AWS import token byok reads (a real one is about 1.5 KB).
const IMPORT_TOKEN_LIMIT: u64 = 1 << 16;

/// What the stand-alone rules share with the policies' rules: names taken, KEK files
/// loaded (each once), load errors (reported once per file).
pub(super) struct Shared<'a> {
    pub key_names: &'a mut BTreeMap<String, String>,
    pub keks: &'a mut BTreeMap<PathBuf, Option<Kek>>,
    pub load_errors: &'a mut Vec<(String, Error)>,
}

/// Where a stand-alone key is named in violations.
fn place(k: &StandaloneKey) -> String {
    format!("key {:?}", printable(&k.name))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn check(
    plan: &Plan,
    base: &Path,
    mode: Mode,
    roots: &crate::attestation::TrustRoots,
    add: &mut dyn FnMut(&'static str, String, String),
    warnings: &mut Vec<String>,
    sh: Shared<'_>,
    out: &mut Vec<KeyPlan>,
) {
    let signer = crate::ceremony::plan::signer_label(&plan.ceremony);
    // AWS: one key per ARN, and an import token belongs to one GetParametersForImport of
    // one key.
    let mut arns: BTreeMap<String, String> = BTreeMap::new();
    let mut tokens: BTreeMap<String, String> = BTreeMap::new();
    for k in plan.keys.iter().filter(|k| k.target == TargetKind::AwsKms) {
        let Some(a) = &k.aws else { continue };
        if let Some(other) = arns.insert(a.key_arn.clone(), k.name.clone()) {
            add(
                "aws-one-key-per-arn",
                place(k),
                format!("key {:?} also goes to {}: an AWS KMS key imports one key material; give each its own key (--origin EXTERNAL)", printable(&other), printable(&a.key_arn)),
            );
        }
        if let Some(other) = tokens.insert(a.import_token.clone(), k.name.clone()) {
            add(
                "aws-one-key-per-arn",
                place(k),
                format!("key {:?} uses the same import token {}: each AWS key has its own wrapping key and token (get-parameters-for-import per key)", printable(&other), printable(&a.import_token)),
            );
        }
    }
    for k in &plan.keys {
        let kplace = place(k);
        if !valid_key_name(&k.name) {
            add(
                "key-name",
                kplace.clone(),
                "not a key name byok uses (1-127 letters, digits and dashes: the key's label on the token and its files' names)".into(),
            );
        } else if k.name == signer {
            add(
                "key-name",
                kplace.clone(),
                format!("{signer:?} is the label of the transcript signer key"),
            );
        }
        if let Some(other) = sh
            .key_names
            .insert(k.name.to_lowercase(), "the plan's keys".into())
        {
            add(
                "unique-key-names",
                kplace.clone(),
                format!("the name is also used in {}; each key needs its own name (compared without case)", where_(&other)),
            );
        }
        if !crate::keygen::KEY_BITS.contains(&k.size) {
            add(
                "key-size",
                kplace.clone(),
                format!("size {} is not 2048, 3072 or 4096", k.size),
            );
        }
        blocks(k, &kplace, add);
        let label = if k.roll {
            match k.target {
                TargetKind::Azure | TargetKind::OpenBao => {}
                TargetKind::AwsKms => add(
                    "roll-target",
                    kplace.clone(),
                    "AWS KMS re-imports only the same key material into an asymmetric key: a new key needs a new KMS key (--origin EXTERNAL), not \"roll\"".into(),
                ),
                TargetKind::GcpKms => add(
                    "roll-target",
                    kplace.clone(),
                    "every Cloud KMS import adds a new version to the existing key: leave \"roll\" out".into(),
                ),
            }
            let label = roll_label(&k.name, &plan.ceremony);
            if valid_key_name(&k.name) && !valid_key_name(&label) {
                add(
                    "roll-label",
                    kplace.clone(),
                    format!("the rolled key's token label {label:?} (the key name, a dash and the ceremony id) is longer than 127 characters; shorten the ceremony id"),
                );
            } else if label == signer {
                add(
                    "key-name",
                    kplace.clone(),
                    format!("the rolled key's label {label:?} is the label of the transcript signer key"),
                );
            } else if let Some(other) = sh
                .key_names
                .insert(label.to_lowercase(), "the plan's keys".into())
            {
                add(
                    "unique-key-names",
                    kplace.clone(),
                    format!("the rolled key's token label {label:?} is also a key name in {}; rename one", where_(&other)),
                );
            }
            label
        } else {
            k.name.clone()
        };
        let Some((kek_path, kek)) = super::load_pinned_kek(
            &k.kek,
            &k.kek_sha256,
            &format!("the {} side", k.target.name()),
            &kplace,
            base,
            mode,
            add,
            sh.keks,
            sh.load_errors,
        ) else {
            continue;
        };
        let bits_ok =
            |want: usize, what: &str, add: &mut dyn FnMut(&'static str, String, String)| {
                if want != k.size {
                    add(
                        "target-size",
                        kplace.clone(),
                        format!(
                            "{what} is for RSA-{want} keys but the key's size is {}",
                            k.size
                        ),
                    );
                }
            };
        let mut vault = String::new();
        let mut attestation = None;
        let target = match k.target {
            TargetKind::Azure => {
                match k.vault.as_deref().map(|u| normalize_vault(u, mode)) {
                    None => add(
                        "vault-url",
                        kplace.clone(),
                        "an azure key needs \"vault\" (https://VAULT.vault.azure.net)".into(),
                    ),
                    Some(Err(m)) => add("vault-url", kplace.clone(), m),
                    Some(Ok(u)) => vault = u,
                }
                match &kek.kid {
                    None => add(
                        "kek-vault",
                        kplace.clone(),
                        format!("{} has no kid: use the KeyBundle JSON of `az keyvault key show` (or `byok kek fetch`)", k.kek),
                    ),
                    Some(kid) if !vault.is_empty() && kid.vault != vault => add(
                        "kek-vault",
                        kplace.clone(),
                        format!("the KEK {} is in vault {}, not in the key's vault {vault}: a KEK only imports into its own vault", kid.url(), kid.vault),
                    ),
                    _ => {}
                }
                let as_policy_key = plan_key(k, &vault);
                let required =
                    as_policy_key.kek_attestation_or_default() == KekAttestation::Required;
                match crate::attestation::policy::check_kek_files(
                    &kek_path, None, &kek, required, roots,
                ) {
                    Ok(a) => attestation = Some(a),
                    Err(e) => add("kek-attestation", kplace.clone(), e.message().to_string()),
                }
                if vault.is_empty() {
                    continue;
                }
                KeyTarget::Azure
            }
            TargetKind::AwsKms => {
                let Some(a) = &k.aws else { continue };
                not_azure(k, &kek, &kplace, add);
                let arn = aws::KeyArn::parse(&a.key_arn)
                    .map_err(|e| add("aws-key-arn", kplace.clone(), e.message().to_string()))
                    .ok();
                let alg = aws::WrappingAlgorithm::parse(&a.wrapping_algorithm)
                    .map_err(|e| {
                        add(
                            "aws-wrapping-algorithm",
                            kplace.clone(),
                            e.message().to_string(),
                        )
                    })
                    .ok();
                let token = relative_file(&a.import_token, "import_token", &kplace, base, add).and_then(|p| {
                    match crate::fsutil::read_limited(&p, IMPORT_TOKEN_LIMIT, "AWS import token") {
                        Ok(b) if !b.is_empty() && b.iter().all(|c| c.is_ascii_alphanumeric() || b"+/=\r\n".contains(c)) => {
                            add("aws-import-token", kplace.clone(), format!("{} is base64 text: the import token is binary; decode it (base64 -d) as the README shows", a.import_token));
                            None
                        }
                        Ok(b) if b.is_empty() => {
                            add("aws-import-token", kplace.clone(), format!("{} is empty: save GetParametersForImport's ImportToken (base64-decoded) there", a.import_token));
                            None
                        }
                        Ok(b) => Some((p, crate::util::sha256_hex(&b))),
                        Err(e) => {
                            add("aws-import-token", kplace.clone(), e.message().to_string());
                            None
                        }
                    }
                });
                let (Some(key_arn), Some(algorithm), Some((token_path, token_sha))) =
                    (arn, alg, token)
                else {
                    continue;
                };
                warnings.push(format!(
                    "{kplace}: AWS's wrapping public key and import token {} (SHA-256 {token_sha}) are a pair valid 24 hours from GetParametersForImport: import within that time, or fetch a new pair and update the plan",
                    a.import_token
                ));
                KeyTarget::Aws {
                    key_arn,
                    algorithm,
                    import_token: a.import_token.clone(),
                    import_token_path: token_path,
                    import_token_sha256: token_sha,
                }
            }
            TargetKind::GcpKms => {
                let Some(g) = &k.gcp else { continue };
                not_azure(k, &kek, &kplace, add);
                let key = gcp::CryptoKeyName::parse(&g.crypto_key)
                    .map_err(|e| add("gcp-crypto-key", kplace.clone(), e.message().to_string()))
                    .ok();
                let job = gcp::ImportJobName::parse(&g.import_job)
                    .map_err(|e| add("gcp-import-job", kplace.clone(), e.message().to_string()))
                    .ok();
                let method = gcp::ImportMethod::parse(&g.import_method)
                    .map_err(|e| add("gcp-import-method", kplace.clone(), e.message().to_string()))
                    .ok();
                let alg = gcp::Algorithm::parse(&g.algorithm)
                    .map_err(|e| add("gcp-algorithm", kplace.clone(), e.message().to_string()))
                    .ok();
                if let (Some(key), Some(job)) = (&key, &job) {
                    if !gcp::same_key_ring(key, job) {
                        add(
                            "gcp-key-ring",
                            kplace.clone(),
                            format!("the import job {job} is not in the key ring of {key}: Cloud KMS imports only through a job of the key's own ring"),
                        );
                    }
                }
                if let Some(m) = method {
                    if m.bits() != kek.bits() {
                        add(
                            "gcp-method-size",
                            kplace.clone(),
                            format!("the import method {m} has an RSA-{} wrapping key but {} is RSA-{}: use the job's own publicKey.pem and method", m.bits(), k.kek, kek.bits()),
                        );
                    }
                }
                if let Some(a) = alg {
                    bits_ok(a.bits(), &format!("algorithm {a}"), add);
                }
                let mut att = None;
                if let (Some(file), Some(m)) = (&g.attestation, method) {
                    if let Some(p) = relative_file(file, "attestation", &kplace, base, add) {
                        let checked = crate::fsutil::read_limited(
                            &p,
                            gcp::DESCRIBE_LIMIT as u64,
                            "import job description",
                        )
                        .and_then(|b| {
                            let r = gcp::verify_import_job(&b, &kek, m, roots)?;
                            job_is_current(&b, &g.import_job)?;
                            Ok(r)
                        });
                        match checked {
                            Ok(r) => {
                                let summary = match &r.attestation {
                                    Some(a) => format!(
                                        "verified: the import job's key was generated in a Marvell HSM and never left it (root {}{})",
                                        a.root,
                                        if a.extra_root_used { ", an extra root given for a rehearsal" } else { "" }
                                    ),
                                    None => format!("the job is at protection level {}, without an attestation", r.protection_level),
                                };
                                att = Some(crate::ceremony::plan::GcpAttestation {
                                    file: file.clone(),
                                    path: p.clone(),
                                    summary,
                                });
                            }
                            Err(e) => {
                                add("gcp-attestation", kplace.clone(), e.message().to_string())
                            }
                        }
                    }
                }
                let (Some(crypto_key), Some(import_job), Some(method), Some(algorithm)) =
                    (key, job, method, alg)
                else {
                    continue;
                };
                KeyTarget::Gcp {
                    crypto_key,
                    import_job,
                    method,
                    algorithm,
                    attestation: att,
                }
            }
            TargetKind::OpenBao => {
                let Some(b) = &k.openbao else { continue };
                not_azure(k, &kek, &kplace, add);
                if let Err(e) = openbao::check_wrapping_key(&kek) {
                    add(
                        "openbao-wrapping-key",
                        kplace.clone(),
                        e.message().to_string(),
                    );
                }
                let address = openbao::check_address(&b.address, mode)
                    .map_err(|e| add("openbao-address", kplace.clone(), e.message().to_string()))
                    .ok();
                let mount_ok = openbao::check_mount(&b.mount)
                    .map_err(|e| add("openbao-mount", kplace.clone(), e.message().to_string()))
                    .is_ok();
                let hash = openbao::BaoHash::parse(&b.hash_function)
                    .map_err(|e| add("openbao-hash", kplace.clone(), e.message().to_string()))
                    .ok();
                let ty = openbao::BaoKeyType::parse(&b.key_type)
                    .map_err(|e| add("openbao-type", kplace.clone(), e.message().to_string()))
                    .ok();
                if let Some(t) = ty {
                    bits_ok(t.bits(), &format!("type {}", t.name()), add);
                }
                let (Some(address), true, Some(hash), Some(key_type)) =
                    (address, mount_ok, hash, ty)
                else {
                    continue;
                };
                KeyTarget::OpenBao {
                    address,
                    mount: b.mount.clone(),
                    hash,
                    key_type,
                }
            }
        };
        out.push(KeyPlan {
            policy: String::new(),
            service: String::new(),
            target,
            key: plan_key(k, &vault),
            label,
            vault,
            kek_path,
            kek,
            attestation,
            wrap_with_trusted: k.wrap_with_trusted.unwrap_or(plan.wrap_with_trusted),
        });
    }
}

/// The import job's description is of the plan's job (`name`) and not expired
/// (`expireTime`): a stale description still saying ACTIVE must not stand for a job
/// Google has closed.
fn job_is_current(describe: &[u8], job: &str) -> crate::Result<()> {
    let text = std::str::from_utf8(describe)
        .map_err(|_| crate::err!("the import job's description is not text"))?;
    let v = crate::json::parse_unique(text)?;
    let name = v.get("name").and_then(|n| n.as_str()).unwrap_or("");
    if name != job {
        crate::bail!(
            "the import job's description is of {:?}, not of the plan's import_job {job}: describe the plan's job",
            printable(name)
        );
    }
    let expires = v.get("expireTime").and_then(|n| n.as_str()).unwrap_or("");
    let at = crate::util::parse_rfc3339(expires).ok_or_else(|| {
        crate::err!("the import job's description has no expireTime: describe the job again (gcloud kms import-jobs describe --format=json)")
    })?;
    if at <= crate::util::unix_now() {
        crate::bail!(
            "the import job expired at {}: Cloud KMS import jobs last 3 days; create a new job, fetch its publicKey.pem and description, and update the plan",
            printable(expires)
        );
    }
    Ok(())
}

/// "policy X" or "the plan's keys", as the names map records where a name was taken.
fn where_(other: &str) -> String {
    if other == "the plan's keys" {
        "another of the plan's keys".into()
    } else {
        format!("policy {other:?}")
    }
}

/// The key's fields as a policy key's (the parts of byok that are the same for every
/// target read them there).
fn plan_key(k: &StandaloneKey, vault: &str) -> PlanKey {
    PlanKey {
        vault: vault.to_string(),
        name: k.name.clone(),
        size: k.size,
        kek: k.kek.clone(),
        kek_sha256: k.kek_sha256.clone(),
        kek_attestation: k.kek_attestation,
        wrap_with_trusted: k.wrap_with_trusted,
        roll: k.roll,
        key_type: None,
    }
}

/// Exactly the target's block, and no field of another target.
fn blocks(k: &StandaloneKey, kplace: &str, add: &mut dyn FnMut(&'static str, String, String)) {
    let present = [
        (TargetKind::AwsKms, "aws", k.aws.is_some()),
        (TargetKind::GcpKms, "gcp", k.gcp.is_some()),
        (TargetKind::OpenBao, "openbao", k.openbao.is_some()),
    ];
    for (t, block, there) in present {
        if t == k.target && !there {
            add(
                "target-block",
                kplace.to_string(),
                format!("a {} key needs its \"{block}\" block", t.name()),
            );
        } else if t != k.target && there {
            add(
                "target-block",
                kplace.to_string(),
                format!(
                    "the \"{block}\" block is for {} keys; this key's target is {}",
                    t.name(),
                    k.target.name()
                ),
            );
        }
    }
    if k.target != TargetKind::Azure && (k.vault.is_some() || k.kek_attestation.is_some()) {
        add(
            "target-block",
            kplace.to_string(),
            format!(
                "\"vault\" and \"kek_attestation\" are for azure keys; this key's target is {}",
                k.target.name()
            ),
        );
    }
}

/// A KEK of another target is a bare public key: an Azure KeyBundle (with a kid) there
/// means the wrong file.
fn not_azure(
    k: &StandaloneKey,
    kek: &Kek,
    kplace: &str,
    add: &mut dyn FnMut(&'static str, String, String),
) {
    if let Some(kid) = &kek.kid {
        add(
            "kek-form",
            kplace.to_string(),
            format!(
                "{} is an Azure KEK ({}), not the {} wrapping key",
                k.kek,
                kid.url(),
                k.target.name()
            ),
        );
    }
}

/// A file the plan names, relative to the plan.
fn relative_file(
    rel: &str,
    field: &str,
    kplace: &str,
    base: &Path,
    add: &mut dyn FnMut(&'static str, String, String),
) -> Option<PathBuf> {
    let p = Path::new(rel);
    if rel.is_empty() || p.is_absolute() || crate::text::has_hidden(rel) {
        add(
            "file-path",
            kplace.to_string(),
            format!(
                "{field} {:?} must be a path relative to the plan file",
                printable(rel)
            ),
        );
        return None;
    }
    Some(base.join(p))
}

#[cfg(test)]
#[path = "standalone_tests.rs"]
mod tests;
