//! The offline tests' shared helper: a key generated on the token.

use crate::common::*;

pub(crate) fn keygen(tok: &Token, label: &str, bits: usize) -> std::path::PathBuf {
    ok(&tok.byok(&["keygen", "--label", label, "--size", &bits.to_string()]));
    tok.dir().join(format!("{label}.pub.pem"))
}
