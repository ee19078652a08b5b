#!/usr/bin/env bash
# The offline BYOK flow end to end on a throwaway SoftHSM2 token, printing each step.
# Everything it makes goes to a new temp dir; your own tokens are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
softhsm/setup.sh
step() { printf '\n==> %s\n' "$*"; }
step "building byok (release)"
cargo build --release --quiet --bins --examples
bin=$PWD/target/release
work=$(mktemp -d "${TMPDIR:-/tmp}/byok-demo.XXXXXX")
cd "$work"

step "a throwaway SoftHSM2 token in $work/hsm (random PINs in files, mode 600)"
eval "$("$bin/examples/softhsm-token" "$work/hsm" byok-demo)"
export BYOK_PIN_FILE="$work/hsm/user.pin"
echo "token byok-demo, module $BYOK_PKCS11_MODULE"

step "byok hsm info"
"$bin/byok" hsm info

step "byok hsm selftest"
"$bin/byok" hsm selftest --pin-file "$BYOK_PIN_FILE"

step "a stand-in for the vault's KEK (software, RSA-2048; a real KEK comes from Key Vault)"
"$bin/examples/test-kek" "$work" 2048 >/dev/null
"$bin/byok" kek inspect kek.json

step "byok keygen: an RSA-3072 key that never leaves the token in the clear"
"$bin/byok" keygen --label Contoso-O365EX-NA-VaultA1-Key001 --size 3072 --pin-file "$BYOK_PIN_FILE"

step "byok wrap: the key wrapped under the KEK into an Azure BYOK package"
"$bin/byok" wrap --key Contoso-O365EX-NA-VaultA1-Key001 --kek kek.json \
  --out Contoso-O365EX-NA-VaultA1-Key001.byok --pin-file "$BYOK_PIN_FILE"

step "byok package inspect"
"$bin/byok" package inspect Contoso-O365EX-NA-VaultA1-Key001.byok --kek kek.json

step "independent check: unwrap in software (rsa + aes-kw crates) and compare with the HSM's public key"
"$bin/examples/check-package" kek-private.pem Contoso-O365EX-NA-VaultA1-Key001.byok \
  Contoso-O365EX-NA-VaultA1-Key001.pub.pem

step "what a refused input looks like: the same label again"
"$bin/byok" keygen --label Contoso-O365EX-NA-VaultA1-Key001 --size 3072 --pin-file "$BYOK_PIN_FILE" --out-dir "$work/hsm" || true

printf '\ndone: the token, KEK, public key and package are in %s\n' "$work"
