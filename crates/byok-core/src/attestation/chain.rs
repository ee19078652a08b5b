//! The chain rules: from a pinned Marvell root KEY to the partition key that signs the
//! attestation, and the owner's certificates beside it.
//!
//! Hand-written on purpose: no crate verifies this chain. Generic path builders (webpki,
//! x509 path validation) refuse the card certificate, which is X.509 v1 without
//! extensions (so without basicConstraints), they anchor trust in root certificates
//! where byok pins root keys (Marvell reissued its root with the same key and serial
//! number 0), and they check validity dates, which must not be checked here (the 2015
//! root has expired while its key is still the anchor; an attestation speaks of the
//! moment it was made). What the rules need from a library, reading certificates and
//! checking signatures, comes from `der` and `rsa`.

use rsa::PublicKey;

use super::der::Cert;
use super::pem;
use super::roots::TrustRoots;
use super::signature::{cert_signed_by, rsa_key_from_spki};
use crate::error::Result;
use crate::{bail, err};

/// A verified chain: which root vouched for the card, and the partition key.
#[derive(Debug)]
pub(super) struct Chain {
    pub root: String,
    pub extra_root: bool,
    pub card: Cert,
    pub partition: Cert,
    pub partition_key: PublicKey,
    pub owner_partition: Cert,
    pub owner_root: Option<String>,
}

/// The certificates of a PEM bundle, parsed.
pub(super) fn parse_bundle(text: &str) -> Result<Vec<Cert>> {
    let ders = pem::certificates(text).map_err(|e| e.context("attestation certificates"))?;
    if ders.is_empty() {
        bail!("attestation: the certificate bundle holds no certificate; get a fresh attestation from the vault");
    }
    ders.iter()
        .enumerate()
        .map(|(i, d)| {
            Cert::parse(d).map_err(|e| e.context(format!("attestation certificate #{}", i + 1)))
        })
        .collect()
}

pub(super) fn build_chain(
    certs: &[Cert],
    roots: &TrustRoots,
    need_owner_root: bool,
) -> Result<Chain> {
    if roots.roots.is_empty() {
        bail!(UntrustedRoot, "attestation: no trust root is configured (neither the pinned Marvell keys nor an extra root), so no chain can be trusted; this is a bug");
    }
    // 1. The card certificate: signed by a trusted root key (skip copies of
    //    the self-signed roots themselves, which some bundles include; a card
    //    certificate that is also given as an extra root is still a card).
    //    Roots are tried in order, the pinned ones first.
    let mut card = None;
    'outer: for r in &roots.roots {
        for c in certs {
            if c.is_self_issued() && roots.roots.iter().any(|r| r.spki == c.spki) {
                continue;
            }
            if cert_signed_by(c, &r.key) {
                card = Some((c, r));
                break 'outer;
            }
        }
    }
    let Some((card, root)) = card else {
        let hint = certs
            .iter()
            .find(|c| c.version == 1 || c.issuer_cn.contains("liquidsecurity"))
            .map(|c| {
                format!(
                    " (the card certificate {} is not signed by it)",
                    c.describe()
                )
            })
            .unwrap_or_default();
        let anchors = if roots.has_extra() {
            "a pinned Marvell root key or an extra trust root"
        } else {
            "a pinned Marvell root key"
        };
        bail!(UntrustedRoot, "attestation: no certificate in the bundle is signed by {anchors}{hint}: the chain does not reach Marvell; get a fresh attestation from the vault");
    };
    let card_key = rsa_key_from_spki(&card.spki).ok_or_else(|| {
        err!("attestation: the card certificate ({}) does not carry an RSA key; the chain is malformed", card.describe())
    })?;

    // 2. The Marvell partition certificate: signed by the card key.
    let partition = certs
        .iter()
        .find(|c| c.spki != card.spki && cert_signed_by(c, &card_key));
    let Some(partition) = partition else {
        let named = certs
            .iter()
            .find(|c| c.spki != card.spki && c.issuer_der == card.subject_der);
        match named {
            Some(p) => bail!(Integrity, "attestation: partition certificate ({}) is not signed by the card certificate ({}): the chain is broken; get a fresh attestation from the vault", p.describe(), card.describe()),
            None => bail!("attestation: the bundle has no partition certificate issued by the card certificate ({}): the chain is incomplete; get a fresh attestation from the vault", card.describe()),
        }
    };
    let partition_key = rsa_key_from_spki(&partition.spki).ok_or_else(|| {
        err!("attestation: the partition certificate ({}) does not carry an RSA key; the chain is malformed", partition.describe())
    })?;

    // 3. The owner's partition certificate: another certificate with the
    //    same key. Any other partition certificate with another key is an
    //    error: the bundle would describe two partitions.
    //    Likewise an owner card certificate (same CN as Marvell's card
    //    certificate, as in Google's bundles) must carry the card key.
    for c in certs {
        if c.der == partition.der || c.der == card.der {
            continue;
        }
        if (c.subject_cn.contains(":PARTN:") || c.subject_cn == partition.subject_cn)
            && c.spki != partition.spki
        {
            bail!(Integrity, "attestation: owner partition certificate ({}) carries a different public key than the Marvell partition certificate ({}): the chain is inconsistent; get a fresh attestation from the vault", c.describe(), partition.describe());
        }
        if c.subject_cn == card.subject_cn && c.spki != card.spki {
            bail!(Integrity, "attestation: owner card certificate ({}) carries a different public key than the Marvell card certificate: the chain is inconsistent; get a fresh attestation from the vault", c.describe());
        }
    }
    let owners: Vec<&Cert> = certs
        .iter()
        .filter(|c| c.der != partition.der && c.spki == partition.spki)
        .collect();
    let Some(first_owner) = owners.first() else {
        bail!( "attestation: the bundle has no owner partition certificate carrying the Marvell partition key ({}): the owner chain is missing; get a fresh attestation from the vault", partition.describe());
    };

    // 4. The owner root: a self-signed certificate in the bundle that signs
    //    an owner partition certificate (Azure: the per-HSM Microsoft root).
    let self_signed: Vec<(&Cert, PublicKey)> = certs
        .iter()
        .filter(|c| c.is_self_issued() && c.spki != partition.spki && c.spki != card.spki)
        .filter_map(|c| rsa_key_from_spki(&c.spki).map(|k| (c, k)))
        .filter(|(c, k)| cert_signed_by(c, k))
        .collect();
    let mut owner = None;
    for o in &owners {
        if let Some((r, _)) = self_signed.iter().find(|(_, k)| cert_signed_by(o, k)) {
            owner = Some(((*o).clone(), Some(r.subject_cn.clone())));
            break;
        }
    }
    let (owner_partition, owner_root) = match owner {
        Some(x) => x,
        None if need_owner_root => bail!(Integrity, "attestation: owner partition certificate ({}) is not signed by a self-signed owner root in the bundle: the owner chain is broken; get a fresh attestation from the vault", first_owner.describe()),
        None => ((*first_owner).clone(), None),
    };

    Ok(Chain {
        root: root.name.clone(),
        extra_root: root.extra,
        card: card.clone(),
        partition: partition.clone(),
        partition_key,
        owner_partition,
        owner_root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const CHAIN: &str =
        include_str!("../../../../tests/fixtures/attestation/gcp-ec-p256-chain.pem");
    const ROOTS: &str =
        include_str!("../../../../tests/fixtures/attestation/marvell-liquidsecurity-roots.pem");

    /// Google's bundle: 0 Marvell partition, 1 Marvell card (v1), 2 owner partition,
    /// 3 owner card.
    fn certs() -> Vec<Cert> {
        parse_bundle(CHAIN).expect("bundle")
    }

    #[test]
    fn google_chain_reaches_the_pinned_root() {
        let certs = certs();
        let c = build_chain(&certs, &TrustRoots::marvell().expect("pins"), false).expect("chain");
        assert!(c.root.contains("localca.liquidsecurity"), "{}", c.root);
        assert!(!c.extra_root);
        assert_eq!(c.card.version, 1);
        assert_eq!(c.partition.der, certs[0].der);
        assert_eq!(c.owner_partition.der, certs[2].der);
        assert_eq!(c.owner_root, None);
        // Google's owner root is not in the bundle: where it is required, refused.
        let e = build_chain(&certs, &TrustRoots::marvell().expect("pins"), true).unwrap_err();
        assert!(e.is(ErrorKind::Integrity), "{e}");
        assert!(e.message().contains("self-signed owner root"), "{e}");
    }

    /// Bundle order does not matter, and copies of the root in the bundle are skipped.
    #[test]
    fn order_and_root_copies_do_not_matter() {
        let mut certs = certs();
        certs.reverse();
        certs.extend(parse_bundle(ROOTS).expect("roots"));
        let c = build_chain(&certs, &TrustRoots::marvell().expect("pins"), false).expect("chain");
        assert_eq!(c.card.version, 1);
    }

    #[test]
    fn no_trusted_root_is_untrusted_root() {
        let certs = certs();
        let e = build_chain(&certs, &TrustRoots::empty(), false).unwrap_err();
        assert!(e.is(ErrorKind::UntrustedRoot), "{e}");
        // An extra root that signs nothing here: also UntrustedRoot, naming extra roots.
        let mut other = TrustRoots::empty();
        let partition_pem = CHAIN
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .expect("first");
        other.add_extra_pem(partition_pem).expect("extra");
        let e = build_chain(&certs, &other, false).unwrap_err();
        assert!(e.is(ErrorKind::UntrustedRoot), "{e}");
        assert!(e.message().contains("or an extra trust root"), "{e}");
        assert!(e.message().contains("is not signed by it"), "{e}");
        // Without the card certificate nothing reaches the pinned root.
        let mut less = certs.clone();
        less.remove(1);
        let e = build_chain(&less, &TrustRoots::marvell().expect("pins"), false).unwrap_err();
        assert!(e.is(ErrorKind::UntrustedRoot), "{e}");
        assert!(e.message().contains("pinned Marvell root key"), "{e}");
        // The published root certificates as extra roots work.
        let mut extra = TrustRoots::empty();
        extra.add_extra_pem(ROOTS).expect("roots");
        assert!(
            build_chain(&certs, &extra, false)
                .expect("chain")
                .extra_root
        );
    }

    #[test]
    fn broken_links_have_their_kinds() {
        let roots = TrustRoots::marvell().expect("pins");
        // No Marvell partition certificate: incomplete (bad input).
        let mut less = certs();
        less.remove(0);
        let e = build_chain(&less, &roots, false).unwrap_err();
        assert!(e.is(ErrorKind::BadInput), "{e}");
        assert!(e.message().contains("no partition certificate"), "{e}");
        // A partition certificate whose signature is damaged: integrity.
        let mut bad = certs();
        let last = bad[0].signature.len() - 1;
        bad[0].signature[last] ^= 1;
        let e = build_chain(&bad, &roots, false).unwrap_err();
        assert!(e.is(ErrorKind::Integrity), "{e}");
        assert!(e.message().contains("is not signed by the card"), "{e}");
        // An owner partition certificate with another key: integrity.
        let mut swapped = certs();
        swapped[2].spki = swapped[1].spki.clone();
        let e = build_chain(&swapped, &roots, false).unwrap_err();
        assert!(e.is(ErrorKind::Integrity), "{e}");
        assert!(e.message().contains("different public key"), "{e}");
        // No owner partition certificate at all: incomplete.
        let mut less = certs();
        less.remove(2);
        let e = build_chain(&less, &roots, false).unwrap_err();
        assert!(e.is(ErrorKind::BadInput), "{e}");
        assert!(
            e.message().contains("no owner partition certificate"),
            "{e}"
        );
    }

    #[test]
    fn empty_bundle_is_refused() {
        let e = parse_bundle("nothing here").unwrap_err();
        assert!(e.message().contains("no certificate"), "{e}");
        let e = parse_bundle("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")
            .unwrap_err();
        assert!(
            e.message()
                .starts_with("attestation certificate #1: malformed"),
            "{e}"
        );
    }
}
