//! Which PKCS#11 module, token, key and PIN file a command means: from flags, the
//! environment, or RFC 7512 PKCS#11 URIs. The same thing named twice, differently, is an
//! error, never a silent choice.

use super::Hsm;
use crate::{bail, Result};
use cryptoki::slot::TokenInfo;
use std::path::PathBuf;

/// Which token to use: a label, or the parts of a PKCS#11 URI that name a token.
#[derive(Debug, Clone, Default)]
pub struct TokenSelector {
    pub label: Option<String>,
    pub serial: Option<String>,
    pub model: Option<String>,
    pub manufacturer: Option<String>,
}

impl TokenSelector {
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = &self.label {
            parts.push(format!("label \"{l}\""));
        }
        if let Some(s) = &self.serial {
            parts.push(format!("serial {s}"));
        }
        if let Some(m) = &self.model {
            parts.push(format!("model {m}"));
        }
        if let Some(m) = &self.manufacturer {
            parts.push(format!("manufacturer {m}"));
        }
        parts.join(", ")
    }

    pub(crate) fn matches(&self, t: &TokenInfo) -> bool {
        let eq = |want: &Option<String>, have: &str| {
            want.as_ref().is_none_or(|w| w.trim() == have.trim())
        };
        eq(&self.label, t.label())
            && eq(&self.serial, t.serial_number())
            && eq(&self.model, t.model())
            && eq(&self.manufacturer, t.manufacturer_id())
    }
}

/// Where a command's HSM, token, key and PIN come from, after reading any PKCS#11 URIs.
#[derive(Debug, Default)]
pub struct Target {
    pub module: Option<PathBuf>,
    pub token: TokenSelector,
    pub pin_file: Option<PathBuf>,
    pub key_label: Option<String>,
    pub key_id: Option<Vec<u8>>,
}

impl Target {
    /// Combine `--module`, `--token` (label or URI), `--key` (label or URI) and `--pin-file`.
    /// A URI may name the token, the key and the module; the same thing named twice
    /// differently is an error.
    pub fn resolve(
        module: Option<PathBuf>,
        token: Option<&str>,
        key: Option<&str>,
        pin_file: Option<PathBuf>,
    ) -> Result<Target> {
        let mut t = Target {
            module,
            pin_file,
            ..Target::default()
        };
        for (arg, is_key) in [(token, false), (key, true)] {
            let Some(arg) = arg else { continue };
            if !crate::p11uri::Pkcs11Uri::is_uri(arg) {
                let slot = if is_key {
                    &mut t.key_label
                } else {
                    &mut t.token.label
                };
                merge(slot, arg.to_string(), if is_key { "key" } else { "token" })?;
                continue;
            }
            let uri = crate::p11uri::Pkcs11Uri::parse(arg)?;
            if let Some(v) = uri.token {
                merge(&mut t.token.label, v, "token")?;
            }
            if let Some(v) = uri.serial {
                merge(&mut t.token.serial, v, "token serial")?;
            }
            if let Some(v) = uri.model {
                merge(&mut t.token.model, v, "token model")?;
            }
            if let Some(v) = uri.manufacturer {
                merge(&mut t.token.manufacturer, v, "token manufacturer")?;
            }
            if let Some(v) = uri.module_path {
                merge(&mut t.module, v, "module")?;
            }
            if let Some(v) = uri.pin_source {
                merge(&mut t.pin_file, v, "PIN file")?;
            }
            if let Some(ty) = &uri.object_type {
                if ty != "private" {
                    bail!("the URI names a {ty} object; byok wraps private keys (type=private)");
                }
            }
            if uri.object.is_some() || uri.id.is_some() {
                if !is_key {
                    bail!("--token names a key (object= or id=): name the key with --key");
                }
                if let Some(v) = uri.object {
                    merge(&mut t.key_label, v, "key")?;
                }
                if let Some(v) = uri.id {
                    merge(&mut t.key_id, v, "key id")?;
                }
            }
        }
        Ok(t)
    }

    pub fn open(&self) -> Result<Hsm> {
        Hsm::open(self.module.as_deref(), &self.token)
    }
}

fn merge<T: PartialEq + std::fmt::Debug>(slot: &mut Option<T>, v: T, what: &str) -> Result<()> {
    match slot {
        Some(old) if *old != v => {
            bail!("the {what} is named twice, differently ({old:?} and {v:?}): name it once")
        }
        _ => {
            *slot = Some(v);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_uris_combine() {
        let t = Target::resolve(
            Some("/lib/x.so".into()),
            Some("pkcs11:token=Contoso%20Ceremony;serial=0042"),
            Some("pkcs11:object=Key001;id=%01%02;type=private"),
            None,
        )
        .unwrap();
        assert_eq!(t.token.label.as_deref(), Some("Contoso Ceremony"));
        assert_eq!(t.token.serial.as_deref(), Some("0042"));
        assert_eq!(t.key_label.as_deref(), Some("Key001"));
        assert_eq!(t.key_id, Some(vec![1, 2]));
        assert_eq!(t.module, Some(PathBuf::from("/lib/x.so")));
        assert_eq!(
            t.token.describe(),
            "label \"Contoso Ceremony\", serial 0042"
        );
        let t = Target::resolve(None, Some("Plain"), Some("Key"), None).unwrap();
        assert_eq!(t.token.label.as_deref(), Some("Plain"));
        assert_eq!(t.key_label.as_deref(), Some("Key"));
    }

    #[test]
    fn the_same_thing_named_twice_differently_is_refused() {
        for (module, token, key) in [
            (Some("/a.so"), "pkcs11:token=T?module-path=/b.so", None),
            (None, "pkcs11:token=A", Some("pkcs11:token=B;object=K")),
            (None, "pkcs11:token=T;object=K", None),
            (None, "pkcs11:token=T", Some("pkcs11:object=K;type=public")),
        ] {
            let r = Target::resolve(module.map(PathBuf::from), Some(token), key, None);
            assert!(r.is_err(), "{token} {key:?} accepted");
        }
        let e =
            Target::resolve(None, Some("pkcs11:token=T?pin-value=1234"), None, None).unwrap_err();
        assert!(!e.message().contains("1234"), "{e}");
    }

    #[test]
    fn a_uri_pin_source_is_a_pin_file() {
        let t = Target::resolve(
            None,
            Some("pkcs11:token=T?pin-source=file:/run/pin"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(t.pin_file, Some(PathBuf::from("/run/pin")));
        let e = Target::resolve(
            None,
            Some("pkcs11:token=T?pin-source=file:/run/pin"),
            None,
            Some(PathBuf::from("/other")),
        )
        .unwrap_err();
        assert!(e.message().contains("named twice"), "{e}");
    }
}
