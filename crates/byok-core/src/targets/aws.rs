//! AWS KMS: the key's ARN, the wrapping algorithm, and the commands printed for the
//! connected side (`aws kms import-key-material`, `aws kms get-public-key`).
//!
//! The key must already exist (`aws kms create-key --origin EXTERNAL --key-spec
//! RSA_<bits>`); its wrapping key and import token come from
//! `aws kms get-parameters-for-import` (valid 24 hours).

use super::{charset, refuse_hostile, shell_quote, string_type};
use crate::hsm::OaepHash;
use crate::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

const ARN_FORMS: &str = "arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (partition aws, aws-cn or aws-us-gov; ACCOUNT 12 digits; KEY-ID a UUID or mrk-<32 hex digits>)";

/// A KMS key's ARN: `arn:aws[-cn|-us-gov]:kms:REGION:ACCOUNT:key/ID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyArn {
    partition: String,
    region: String,
    account: String,
    key_id: String,
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

fn is_mrk(s: &str) -> bool {
    s.strip_prefix("mrk-").is_some_and(|h| {
        h.len() == 32
            && h.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    })
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-5`: lowercase
/// words joined by `-`, the last a number.
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    charset(s, 32, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'
    }) && parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
}

impl KeyArn {
    pub fn parse(s: &str) -> Result<KeyArn> {
        refuse_hostile(s, "the AWS key ARN", ARN_FORMS)?;
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            bail!("the AWS key ARN {s:?} does not have six ':'-separated fields; expected {ARN_FORMS}");
        };
        if arn != "arn" {
            bail!("the AWS key ARN {s:?} does not start with \"arn:\"; expected {ARN_FORMS}");
        }
        if !["aws", "aws-cn", "aws-us-gov"].contains(&partition) {
            bail!("the AWS key ARN {s:?} names the partition {partition:?}; expected {ARN_FORMS}");
        }
        if service != "kms" {
            bail!("the AWS key ARN {s:?} is of the service {service:?}, not kms; expected {ARN_FORMS}");
        }
        if !is_region(region) {
            bail!("the AWS key ARN {s:?} names the region {region:?}, which is no AWS region (like us-east-1); expected {ARN_FORMS}");
        }
        let region_partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        if region_partition != partition {
            bail!("the AWS key ARN {s:?} puts the region {region} in the partition {partition}, but it is in {region_partition}; expected {ARN_FORMS}");
        }
        if !(account.len() == 12 && account.bytes().all(|c| c.is_ascii_digit())) {
            bail!("the AWS key ARN {s:?} names the account {account:?}, not 12 digits; expected {ARN_FORMS}");
        }
        let Some(key_id) = resource.strip_prefix("key/") else {
            if resource.starts_with("alias/") {
                bail!("the AWS key ARN {s:?} names an alias; an import needs the key itself: give the key's ARN (aws kms describe-key --key-id ALIAS)");
            }
            bail!("the AWS key ARN {s:?} does not name a key (key/ID); expected {ARN_FORMS}");
        };
        if !(is_uuid(key_id) || is_mrk(key_id)) {
            bail!("the AWS key ARN {s:?} has the key id {key_id:?}, neither a lowercase UUID nor mrk-<32 hex digits>; expected {ARN_FORMS}");
        }
        Ok(KeyArn {
            partition: partition.into(),
            region: region.into(),
            account: account.into(),
            key_id: key_id.into(),
        })
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }
    pub fn region(&self) -> &str {
        &self.region
    }
    pub fn account(&self) -> &str {
        &self.account
    }
    /// The UUID or `mrk-…` id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
    /// A multi-Region key (`mrk-…`).
    pub fn is_multi_region(&self) -> bool {
        self.key_id.starts_with("mrk-")
    }
}

impl fmt::Display for KeyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:kms:{}:{}:key/{}",
            self.partition, self.region, self.account, self.key_id
        )
    }
}
string_type!(KeyArn);

/// The wrapping algorithm of `get-parameters-for-import` for an RSA private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum WrappingAlgorithm {
    RsaAesKeyWrapSha1,
    RsaAesKeyWrapSha256,
}

impl WrappingAlgorithm {
    pub fn parse(s: &str) -> Result<WrappingAlgorithm> {
        const FORMS: &str = "RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256";
        refuse_hostile(s, "the AWS wrapping algorithm", FORMS)?;
        match s {
            "RSA_AES_KEY_WRAP_SHA_1" => Ok(WrappingAlgorithm::RsaAesKeyWrapSha1),
            "RSA_AES_KEY_WRAP_SHA_256" => Ok(WrappingAlgorithm::RsaAesKeyWrapSha256),
            s if s.starts_with("RSAES_OAEP_") || s.starts_with("RSAES_PKCS1") => bail!(
                "the AWS wrapping algorithm {s} wraps symmetric keys only: an RSA private key is too long for RSA alone and needs {FORMS}"
            ),
            s if s.starts_with("SM2") => {
                bail!("the AWS wrapping algorithm {s} is for China Regions' SM2 keys, not RSA; expected {FORMS}")
            }
            s => bail!("the AWS wrapping algorithm {s:?} is unknown; expected {FORMS}"),
        }
    }

    /// The OAEP (and MGF1) hash of the RSA part.
    pub fn hash(self) -> OaepHash {
        match self {
            WrappingAlgorithm::RsaAesKeyWrapSha1 => OaepHash::Sha1,
            WrappingAlgorithm::RsaAesKeyWrapSha256 => OaepHash::Sha256,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WrappingAlgorithm::RsaAesKeyWrapSha1 => "RSA_AES_KEY_WRAP_SHA_1",
            WrappingAlgorithm::RsaAesKeyWrapSha256 => "RSA_AES_KEY_WRAP_SHA_256",
        }
    }
}

impl fmt::Display for WrappingAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_type!(WrappingAlgorithm);

/// `aws kms import-key-material …` for the wrapped key and the import token (both
/// binary files, hence `fileb://`).
pub fn aws_import_command(
    arn: &KeyArn,
    encrypted_file: &Path,
    token_file: &Path,
) -> Result<String> {
    Ok(format!(
        "aws kms import-key-material --key-id {arn} --encrypted-key-material {} --import-token {} --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE",
        fileb(encrypted_file)?,
        fileb(token_file)?
    ))
}

/// `aws kms get-public-key …`: the key's public half as DER SubjectPublicKeyInfo in
/// `out`, for `byok verify --pub-from`.
pub fn aws_get_public_key_command(arn: &KeyArn, out: &Path) -> Result<String> {
    Ok(format!(
        "aws kms get-public-key --key-id {arn} --query PublicKey --output text | base64 -d > {}",
        shell_quote(out)?
    ))
}

/// `'fileb://PATH'` as one shell word.
fn fileb(path: &Path) -> Result<String> {
    let Some(s) = path.to_str() else {
        return shell_quote(path);
    };
    super::shell_quote_str(&format!("fileb://{s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn arns_parse_and_print_back() {
        for s in [
            ARN,
            "arn:aws:kms:eu-central-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            let a = KeyArn::parse(s).unwrap();
            assert_eq!(a.to_string(), s);
            let j: KeyArn = serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
            assert_eq!(j, a);
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{s}\""));
        }
        let a = KeyArn::parse(ARN).unwrap();
        assert_eq!(
            (a.partition(), a.region(), a.account(), a.key_id()),
            (
                "aws",
                "us-east-1",
                "111122223333",
                "1234abcd-12ab-34cd-56ef-1234567890ab"
            )
        );
        assert!(!a.is_multi_region());
    }

    #[test]
    fn bad_and_hostile_arns_are_refused_by_name() {
        let k = "key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let cases = [
            (String::new(), "empty"),
            (
                format!("arn:aws:kms:us-east-1:111122223333:{k} ; rm -rf ~"),
                "character ' '",
            ),
            (
                format!("arn:aws:kms:us-east-1:111122223333:{k}$(id)"),
                "character '$'",
            ),
            (
                format!("arn:aws:kms:us-east-1:111122223333:{k}\n"),
                "character '\\n'",
            ),
            (
                format!("arn:aws:kms:us-east-1:111122223333:{k}`x`"),
                "character '`'",
            ),
            (
                format!("arn:aws:kms:us-east-1:111122223333:{k}'"),
                "character '\\''",
            ),
            (
                format!("arn:aws:kms:us-east-1:111122223333:{k}|x"),
                "character '|'",
            ),
            (format!("arn:aws:s3:us-east-1:111122223333:{k}"), "not kms"),
            (
                format!("arn:aws:kms:us-east-1:11112222333:{k}"),
                "12 digits",
            ),
            (
                format!("arn:aws:kms:us-east-1:1111222233334:{k}"),
                "12 digits",
            ),
            (
                format!("arn:aws:kms:useast1:111122223333:{k}"),
                "no AWS region",
            ),
            (
                format!("arn:aws:kms:cn-north-1:111122223333:{k}"),
                "is in aws-cn",
            ),
            (
                format!("arn:aws-cn:kms:us-east-1:111122223333:{k}"),
                "is in aws",
            ),
            (
                format!("arn:azure:kms:us-east-1:111122223333:{k}"),
                "partition",
            ),
            ("arn:aws:kms:us-east-1:111122223333:alias/k".into(), "alias"),
            (
                "arn:aws:kms:us-east-1:111122223333:key/1234ABCD-12ab-34cd-56ef-1234567890ab"
                    .into(),
                "lowercase UUID",
            ),
            (
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890a".into(),
                "lowercase UUID",
            ),
            (
                "arn:aws:kms:us-east-1:111122223333:key/mrk-1234".into(),
                "mrk-",
            ),
            (
                "arn:aws:kms:us-east-1:111122223333:key/a:b".into(),
                "lowercase UUID",
            ),
            ("arn:aws:kms:us-east-1".into(), "six"),
            (
                format!("xrn:aws:kms:us-east-1:111122223333:{k}"),
                "start with",
            ),
        ];
        for (s, words) in cases {
            let e = KeyArn::parse(&s).unwrap_err();
            assert!(e.message().contains(words), "{s:?}: {e}");
            assert!(e.message().contains("expected") || words == "alias", "{e}");
            assert!(!e.to_string().contains('\n'), "{e}");
            assert!(serde_json::from_str::<KeyArn>(&serde_json::to_string(&s).unwrap()).is_err());
        }
    }

    #[test]
    fn wrapping_algorithms() {
        let a = WrappingAlgorithm::parse("RSA_AES_KEY_WRAP_SHA_1").unwrap();
        assert_eq!(
            (a.hash(), a.to_string().as_str()),
            (OaepHash::Sha1, "RSA_AES_KEY_WRAP_SHA_1")
        );
        let a: WrappingAlgorithm = serde_json::from_str("\"RSA_AES_KEY_WRAP_SHA_256\"").unwrap();
        assert_eq!(a.hash(), OaepHash::Sha256);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            "\"RSA_AES_KEY_WRAP_SHA_256\""
        );
        for (s, words) in [
            (
                "RSAES_OAEP_SHA_256",
                "needs RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256",
            ),
            ("RSAES_OAEP_SHA_1", "symmetric keys only"),
            ("SM2PKE", "SM2"),
            ("rsa_aes_key_wrap_sha_256", "unknown"),
            ("RSA_AES_KEY_WRAP_SHA_256 ", "character ' '"),
        ] {
            let e = WrappingAlgorithm::parse(s).unwrap_err();
            assert!(e.message().contains(words), "{s}: {e}");
        }
    }

    #[test]
    fn printed_commands_quote_paths() {
        let a = KeyArn::parse(ARN).unwrap();
        assert_eq!(
            aws_import_command(&a, Path::new("out/k1.aws.bin"), Path::new("token.bin")).unwrap(),
            format!("aws kms import-key-material --key-id {ARN} --encrypted-key-material 'fileb://out/k1.aws.bin' --import-token 'fileb://token.bin' --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE")
        );
        assert_eq!(
            aws_import_command(&a, Path::new("my k1's $(x).bin"), Path::new("t")).unwrap(),
            format!("aws kms import-key-material --key-id {ARN} --encrypted-key-material 'fileb://my k1'\\''s $(x).bin' --import-token 'fileb://t' --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE")
        );
        assert_eq!(
            aws_get_public_key_command(&a, Path::new("k1.aws.pub.der")).unwrap(),
            format!("aws kms get-public-key --key-id {ARN} --query PublicKey --output text | base64 -d > 'k1.aws.pub.der'")
        );
        for bad in ["k1\n; rm -rf ~", "k1\r", "\u{1b}]0;x\u{7}"] {
            assert!(aws_import_command(&a, Path::new(bad), Path::new("t")).is_err());
            assert!(aws_import_command(&a, Path::new("t"), Path::new(bad)).is_err());
            assert!(aws_get_public_key_command(&a, Path::new(bad)).is_err());
        }
    }
}
