#!/usr/bin/env bash
# A whole Office 365 Customer Key rehearsal on the built-in defaults: a throwaway SoftHSM2
# token and two local simulated Key Vaults (byok-vault-sim), printing each step.
#
#   connected side:  KEKs created in both vaults and fetched, fingerprints pinned in a plan
#   offline side:    byok ceremony check, byok ceremony run (keygen and wrap on the token,
#                    a hash-chained transcript signed by the token), transcript verify/render
#   connected side:  byok ceremony import (upload, verify, back up every key; the Office 365
#                    commands), byok backup verify with a restore drill into a scratch vault
#
# Everything goes to a new temp dir; your own tokens and vaults are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
softhsm/setup.sh
step() { printf '\n==> %s\n' "$*"; }
step "building byok and byok-vault-sim (release)"
cargo build --release --quiet -p byok -p byok-vault-sim -p byok-testkit --bins --examples
bin=$PWD/target/release
work=$(mktemp -d "${TMPDIR:-/tmp}/byok-rehearsal.XXXXXX")
cd "$work"

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
start_vault() { # NAME FLAGS... : start a simulated vault, print its URL
  local name=$1; shift
  "$bin/byok-vault-sim" --listen 127.0.0.1:0 --state-dir "$work/$name" \
    --subscription-key "$work/subscription.key" "$@" >"$work/$name.json" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/$name.json" ] && break; sleep 0.1; done
  sed -n 's/.*"url": "\([^"]*\)".*/\1/p' "$work/$name.json"
}

step "two simulated Key Vaults (HTTPS on loopback) and a scratch vault for restore drills"
# --accept-padded-pkcs8: SoftHSM 2.6 zero-pads wrapped keys (see SECURITY.md); real HSMs do not.
VAULT_A=$(start_vault vault-a --accept-padded-pkcs8)
VAULT_B=$(start_vault vault-b --accept-padded-pkcs8)
SCRATCH=$(start_vault scratch --recovery-level Recoverable+Purgeable)
cat vault-a/ca.pem vault-b/ca.pem scratch/ca.pem > cas.pem
export BYOK_CA_FILE=$work/cas.pem
# The simulators accept any bearer token; against Azure, byok uses az login or a service principal.
# Simulated vaults live on loopback addresses, which byok accepts only in a rehearsal:
# --rehearsal on the commands, "rehearsal": true in the plan (warned every time).
export BYOK_ACCESS_TOKEN=rehearsal
echo "vault A $VAULT_A, vault B $VAULT_B, scratch $SCRATCH"

step "connected side: a KEK in each vault (RSA-HSM, import only), fetched for the ceremony"
mkdir keks
"$bin/byok" --rehearsal kek create --vault "$VAULT_A" --name Contoso-KEK-A --size 4096 >/dev/null
"$bin/byok" --rehearsal kek create --vault "$VAULT_B" --name Contoso-KEK-B --size 4096 >/dev/null
"$bin/byok" --rehearsal kek fetch --vault "$VAULT_A" --name Contoso-KEK-A --out keks/vault-a.json
"$bin/byok" --rehearsal kek fetch --vault "$VAULT_B" --name Contoso-KEK-B --out keks/vault-b.json
FP_A=$("$bin/byok" --rehearsal kek inspect keks/vault-a.json --json | sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p')
FP_B=$("$bin/byok" --rehearsal kek inspect keks/vault-b.json --json | sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p')

step "offline side: a throwaway SoftHSM2 token (random PINs in files, mode 600)"
eval "$("$bin/examples/softhsm-token" "$work/hsm" Contoso-Ceremony)"
# The plan pins this token's serial: no other token labelled the same is accepted.
SERIAL=$("$bin/byok" hsm info --json | sed -n 's/.*"serial": "\([^"]*\)".*/\1/p' | head -n 1)
echo "token serial $SERIAL"

step "the plan: an Exchange DEP and a SharePoint geo DEP, two keys each in two vaults"
key() { printf '{"vault": "%s", "name": "%s", "size": 3072, "kek": "%s", "kek_sha256": "%s"}' "$@"; }
cat > plan.json <<PLAN
{"ceremony": "contoso-rehearsal", "token": "Contoso-Ceremony", "token_serial": "$SERIAL", "rehearsal": true,
 "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
              {"name": "Bob Example", "role": "crypto officer"}],
 "policies": [
  {"name": "USA_mailboxes", "service": "exchange", "description": "US mailboxes",
   "keys": [$(key "$VAULT_A" Contoso-O365EX-NA-VaultA1-Key001 keks/vault-a.json "$FP_A"),
            $(key "$VAULT_B" Contoso-O365EX-NA-VaultA2-Key001 keks/vault-b.json "$FP_B")]},
  {"name": "NA_geo", "service": "sharepoint", "admin_url": "https://contoso-admin.sharepoint.com",
   "keys": [$(key "$VAULT_A" Contoso-O365SP-NA-VaultA1-Key001 keks/vault-a.json "$FP_A"),
            $(key "$VAULT_B" Contoso-O365SP-NA-VaultA2-Key001 keks/vault-b.json "$FP_B")]}]}
PLAN
cat plan.json


step "byok ceremony check plan.json"
"$bin/byok" ceremony check plan.json

step "byok ceremony run plan.json --out ceremony (non-interactive: the plan's pins stand in for the officers' read-back)"
"$bin/byok" ceremony run plan.json --out ceremony --non-interactive --pin-file "$work/hsm/user.pin"

step "byok transcript verify / render (the officers sign the digest on the printed record)"
"$bin/byok" transcript verify ceremony/transcript.jsonl --plan plan.json
"$bin/byok" transcript render ceremony/transcript.jsonl --out-dir printed
# What the officers wrote on paper and signed; the courier carries the directory, the
# officers' record carries the digest, and the import takes only the two together.
DIGEST=$("$bin/byok" transcript verify ceremony/transcript.jsonl --json | sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p')

step "connected side: byok ceremony import plan.json --packages ceremony --digest <the signed digest>"
# At a terminal the import shows the custody block (digest, HSM serial, signer) and waits for
# the operator's "yes"; the demo runs it without a terminal, where --digest is the check.
"$bin/byok" ceremony import plan.json --packages ceremony --digest "$DIGEST" </dev/null

step "byok backup verify ceremony/backups --restore-to <scratch vault>"
"$bin/byok" --rehearsal backup verify ceremony/backups --restore-to "$SCRATCH"

printf '\ndone: plan, KEKs, ceremony directory, transcripts, backups and printable record are in %s\n' "$work"
