//! The result of a successful verification: the attested objects and the chain that
//! vouched for them, as data (JSON) and as text for people.

use std::fmt;

use serde::Serialize;

use super::attributes::CLASS_PRIVATE_KEY;
use crate::text::Printable as P;
use crate::util::yes_no_or;

/// One attested key object, decoded. `None` means the attribute is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttestedObject {
    pub handle: u32,
    pub class: Option<u64>,
    pub class_name: String,
    pub key_type: Option<u64>,
    pub key_type_name: String,
    /// RSA modulus bits, EC field size, or AES key bits.
    pub key_bits: Option<u32>,
    /// CKA_TOKEN as the HSM reports it (Marvell uses 2 where PKCS#11
    /// would say true, so this is kept as a number).
    pub token: Option<u64>,
    pub private: Option<bool>,
    pub sensitive: Option<bool>,
    pub always_sensitive: Option<bool>,
    pub extractable: Option<bool>,
    pub never_extractable: Option<bool>,
    /// Generated in the HSM (CKA_LOCAL).
    pub local: Option<bool>,
    pub encrypt: Option<bool>,
    pub decrypt: Option<bool>,
    pub wrap: Option<bool>,
    pub unwrap: Option<bool>,
    pub sign: Option<bool>,
    pub verify: Option<bool>,
    pub derive: Option<bool>,
    pub trusted: Option<bool>,
    pub wrap_with_trusted: Option<bool>,
    pub label: Option<String>,
    /// CKA_ID as text (Azure: `/keys/{name}/{version}`), or hex if not UTF-8.
    pub id: Option<String>,
    /// RSA modulus, hex (no leading zeros).
    pub modulus: Option<String>,
    /// RSA public exponent, hex (no leading zeros).
    pub public_exponent: Option<String>,
    /// EC public point (uncompressed), hex: Marvell stores it in 0x0120.
    pub ec_point: Option<String>,
    pub value_len: Option<u64>,
    pub key_check_value: Option<String>,
    /// Attribute types not decoded here (vendor-defined and others), hex.
    pub other_attributes: Vec<String>,
}

/// The result of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttestationReport {
    /// `"MRVL-1"` (Azure) or `"marvell"` (generic blob with a separate chain).
    pub format: String,
    /// How the blob was signed by the partition key.
    pub signature_form: String,
    /// The trust root that signed the card certificate.
    pub root: String,
    /// True when that root is an extra root passed in, not a pinned Marvell key.
    pub extra_root_used: bool,
    pub card_certificate: String,
    pub partition_certificate: String,
    pub owner_partition_certificate: String,
    /// CN of the self-signed owner root that signed the owner partition
    /// certificate, when the bundle holds it (Azure); `None` otherwise
    /// (Google's owner root is not in the bundle and is not checked).
    pub owner_root: Option<String>,
    /// HSM serial, e.g. `5.3G1953-ICM001225`.
    pub hsm_serial: Option<String>,
    /// Partition number/name from the partition certificate CN.
    pub partition: Option<String>,
    /// `"FIPS"`, `"non-FIPS"` or `"unknown"`.
    pub mode: String,
    /// Whether the attested key was compared with an expected key.
    pub key_compared: bool,
    pub kid: Option<String>,
    /// Key name and version from the attested id (Azure).
    pub key_name: Option<String>,
    pub key_version: Option<String>,
    pub objects: Vec<AttestedObject>,
}

impl AttestationReport {
    /// The attested private-key object, if any.
    pub fn private_object(&self) -> Option<&AttestedObject> {
        self.objects
            .iter()
            .find(|o| o.class == Some(CLASS_PRIVATE_KEY))
    }

    /// Human-readable rendering (several lines).
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

/// `yes` or `no`; an attribute the HSM did not attest prints as `(not attested)`.
const NOT_ATTESTED: &str = "(not attested)";

impl fmt::Display for AttestationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "HSM key attestation: VERIFIED ({})", self.format)?;
        writeln!(
            f,
            "  HSM serial:          {}",
            P(self.hsm_serial.as_deref().unwrap_or("(unknown)"))
        )?;
        writeln!(
            f,
            "  partition:           {}",
            P(self.partition.as_deref().unwrap_or("(unknown)"))
        )?;
        writeln!(f, "  mode:                {}", P(&self.mode))?;
        writeln!(f, "  trust root:          {}", P(&self.root))?;
        if self.extra_root_used {
            writeln!(
                f,
                "  WARNING: the chain ends at an extra trust root, not a pinned Marvell key"
            )?;
        }
        writeln!(f, "  card certificate:    {}", P(&self.card_certificate))?;
        writeln!(
            f,
            "  partition cert:      {}",
            P(&self.partition_certificate)
        )?;
        writeln!(
            f,
            "  owner partition:     {}",
            P(&self.owner_partition_certificate)
        )?;
        writeln!(
            f,
            "  owner root:          {}",
            P(self
                .owner_root
                .as_deref()
                .unwrap_or("(not in the bundle; not checked)"))
        )?;
        writeln!(f, "  signature:           {}", P(&self.signature_form))?;
        if let Some(kid) = &self.kid {
            writeln!(f, "  kid:                 {}", P(kid))?;
        }
        if let (Some(n), Some(v)) = (&self.key_name, &self.key_version) {
            writeln!(f, "  attested key:        {} version {}", P(n), P(v))?;
        }
        writeln!(
            f,
            "  key compared:        {}",
            if self.key_compared {
                "yes, modulus and exponent match"
            } else {
                "no (no expected key given)"
            }
        )?;
        for o in &self.objects {
            writeln!(
                f,
                "  object 0x{:x}: {} {}",
                o.handle,
                P(&o.class_name),
                P(&o.key_type_name)
            )?;
            if let Some(b) = o.key_bits {
                writeln!(f, "    size:              {b} bits")?;
            }
            if let Some(id) = &o.id {
                writeln!(f, "    id:                {}", P(id))?;
            }
            if let Some(l) = &o.label {
                writeln!(f, "    label:             {}", P(l))?;
            }
            writeln!(
                f,
                "    extractable:       {}",
                yes_no_or(o.extractable, NOT_ATTESTED)
            )?;
            writeln!(
                f,
                "    never extractable: {}",
                yes_no_or(o.never_extractable, NOT_ATTESTED)
            )?;
            writeln!(
                f,
                "    local (generated): {}",
                yes_no_or(o.local, NOT_ATTESTED)
            )?;
            writeln!(
                f,
                "    sensitive:         {}",
                yes_no_or(o.sensitive, NOT_ATTESTED)
            )?;
            writeln!(
                f,
                "    always sensitive:  {}",
                yes_no_or(o.always_sensitive, NOT_ATTESTED)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(class: u64, extractable: Option<bool>) -> AttestedObject {
        AttestedObject {
            handle: 0x2001,
            class: Some(class),
            class_name: "private key".into(),
            key_type: Some(0),
            key_type_name: "RSA".into(),
            key_bits: Some(2048),
            token: None,
            private: None,
            sensitive: Some(true),
            always_sensitive: None,
            extractable,
            never_extractable: Some(true),
            local: Some(false),
            encrypt: None,
            decrypt: None,
            wrap: None,
            unwrap: None,
            sign: None,
            verify: None,
            derive: None,
            trusted: None,
            wrap_with_trusted: None,
            label: Some("kek".into()),
            id: Some("/keys/k/v".into()),
            modulus: None,
            public_exponent: None,
            ec_point: None,
            value_len: None,
            key_check_value: None,
            other_attributes: Vec::new(),
        }
    }

    fn report(objects: Vec<AttestedObject>, extra_root_used: bool) -> AttestationReport {
        AttestationReport {
            format: "MRVL-1".into(),
            signature_form: "form".into(),
            root: "root".into(),
            extra_root_used,
            card_certificate: "CN=card".into(),
            partition_certificate: "CN=part".into(),
            owner_partition_certificate: "CN=owner part".into(),
            owner_root: None,
            hsm_serial: Some("S-1".into()),
            partition: None,
            mode: "FIPS".into(),
            key_compared: false,
            kid: None,
            key_name: Some("k".into()),
            key_version: Some("v".into()),
            objects,
        }
    }

    #[test]
    fn text_marks_unattested_attributes_and_extra_roots() {
        let r = report(vec![object(CLASS_PRIVATE_KEY, None)], true);
        let text = r.to_text();
        for needle in [
            "HSM key attestation: VERIFIED (MRVL-1)",
            "HSM serial:          S-1",
            "partition:           (unknown)",
            "WARNING: the chain ends at an extra trust root",
            "owner root:          (not in the bundle; not checked)",
            "attested key:        k version v",
            "key compared:        no (no expected key given)",
            "object 0x2001: private key RSA",
            "extractable:       (not attested)",
            "never extractable: yes",
            "local (generated): no",
            "always sensitive:  (not attested)",
        ] {
            assert!(text.contains(needle), "{needle:?} in\n{text}");
        }
        assert!(!report(Vec::new(), false).to_text().contains("WARNING"));
    }

    #[test]
    fn private_object_is_found_by_class() {
        let r = report(
            vec![
                object(2, Some(true)),
                object(CLASS_PRIVATE_KEY, Some(false)),
            ],
            false,
        );
        assert_eq!(r.private_object().map(|o| o.extractable), Some(Some(false)));
        assert!(report(vec![object(2, None)], false)
            .private_object()
            .is_none());
    }
}
