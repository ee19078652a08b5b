//! RFC 7512 PKCS#11 URIs (`pkcs11:token=…;object=…`), where a token or key is named.
//!
//! Only the attributes byok uses are accepted; anything else is an error rather than
//! silently ignored, so a URI never selects something other than what it says.
//! `pin-value` is refused outright: PINs never travel on a command line.

use crate::{bail, err, Result};
use percent_encoding::percent_decode_str;
use std::path::PathBuf;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pkcs11Uri {
    pub token: Option<String>,
    pub serial: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub object: Option<String>,
    pub id: Option<Vec<u8>>,
    pub object_type: Option<String>,
    pub module_path: Option<PathBuf>,
    pub pin_source: Option<PathBuf>,
}

impl Pkcs11Uri {
    pub fn is_uri(s: &str) -> bool {
        s.starts_with("pkcs11:")
    }

    pub fn parse(s: &str) -> Result<Pkcs11Uri> {
        let Some(rest) = s.strip_prefix("pkcs11:") else {
            // Not echoed: it may hold a pin-value, which an error must never show.
            bail!("this is not a PKCS#11 URI (it must start with pkcs11:)");
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut uri = Pkcs11Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| err!("PKCS#11 URI attribute {attr:?} has no value"))?;
            let bytes = percent_decode_str(v).collect::<Vec<u8>>();
            let text = || {
                String::from_utf8(bytes.clone())
                    .map_err(|_| err!("PKCS#11 URI attribute {k} is not UTF-8"))
            };
            let slot = match k {
                "token" => &mut uri.token,
                "serial" => &mut uri.serial,
                "manufacturer" => &mut uri.manufacturer,
                "model" => &mut uri.model,
                "object" => &mut uri.object,
                "type" => &mut uri.object_type,
                "id" => {
                    if uri.id.replace(bytes.clone()).is_some() {
                        bail!("PKCS#11 URI names id twice");
                    }
                    continue;
                }
                other => bail!(
                    "PKCS#11 URI attribute {other:?} is not supported here; byok understands token, serial, manufacturer, model, object, id and type"
                ),
            };
            if slot.replace(text()?).is_some() {
                bail!("PKCS#11 URI names {k} twice");
            }
        }
        if let Some(t) = &uri.object_type {
            if !["private", "public", "secret-key", "cert", "data"].contains(&t.as_str()) {
                bail!("PKCS#11 URI type {t:?} is unknown");
            }
        }
        for q in query.unwrap_or("").split('&').filter(|a| !a.is_empty()) {
            let (k, v) = q.split_once('=').unwrap_or((q, ""));
            let v = percent_decode_str(v)
                .decode_utf8()
                .map_err(|_| err!("PKCS#11 URI query {k} is not UTF-8"))?
                .into_owned();
            match k {
                "pin-value" => bail!(
                    "the PKCS#11 URI carries pin-value: PINs never go on the command line, where other users and shell history see them; remove it and use --pin-file or the prompt"
                ),
                "module-path" => uri.module_path = Some(PathBuf::from(v)),
                "pin-source" => {
                    let p = v.strip_prefix("file:").unwrap_or(&v);
                    uri.pin_source = Some(PathBuf::from(p));
                }
                other => bail!("PKCS#11 URI query attribute {other:?} is not supported here"),
            }
        }
        Ok(uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_token_object_and_id() {
        let u = Pkcs11Uri::parse("pkcs11:token=Contoso%20Ceremony;object=Key001;type=private;id=%01%ff?module-path=/usr/lib/x.so").unwrap();
        assert_eq!(u.token.as_deref(), Some("Contoso Ceremony"));
        assert_eq!(u.object.as_deref(), Some("Key001"));
        assert_eq!(u.id, Some(vec![1, 255]));
        assert_eq!(u.module_path, Some(PathBuf::from("/usr/lib/x.so")));
    }

    #[test]
    fn refuses_pins_unknowns_and_repeats() {
        for bad in [
            "pkcs11:token=a?pin-value=1234",
            "pkcs11:token=a;slot-id=3",
            "pkcs11:token=a;token=b",
            "pkcs11:token",
            "pkcs11:type=banana",
            "token=a",
        ] {
            assert!(Pkcs11Uri::parse(bad).is_err(), "{bad} accepted");
        }
        let e = Pkcs11Uri::parse("pkcs11:token=a?pin-value=secret123").unwrap_err();
        assert!(!e.to_string().contains("secret123"));
    }
}
