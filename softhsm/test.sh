#!/usr/bin/env bash
# Run byok's tests: installs SoftHSM2, OpenSC and the checkers when missing and builds the
# two other test tokens (softhsm/setup.sh --tests --tokens), then runs every test on
# throwaway tokens in temp dirs (never your own tokens) and local simulators on loopback:
# all of them on Debian's SoftHSM 2.6.1, then the token-dependent suites (the offline
# core, the ceremony, the rehearsal, OpenBao's import, the connected pipeline, whose
# simulator is strict there, and the other clouds' targets) again on SoftHSM 2.7.0 and
# on Kryoptic. Ends with one line
# "N passed, N failed" over all of them; a token that could not be built is named on that
# line with the number of suites skipped for it.
#
# The tests need the crash hook, so everything is built with the `test-hooks` feature
# (release builds never have it).
set -euo pipefail
cd "$(dirname "$0")/.."
softhsm/setup.sh --tests --tokens
export BYOK_BAO="$PWD/.venv-test/bin/bao"
export BYOK_VAULT_SIM="$PWD/target/debug/byok-vault-sim"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
features=(--workspace --features byok/test-hooks)
cargo build "${features[@]}" --bins
cargo test "${features[@]}" --lib --bins --tests "$@" 2>&1 | tee "$log" || status=$?
# The official Python SDK against the simulator (the binary built above).
.venv-test/bin/python -m pytest -q -p no:cacheprovider tests/python 2>&1 | tee -a "$log" || status=$?
# The token matrix. (The pkcs11-spy audit stays on 2.6.1: OpenSC 0.23's spy crashes on
# SoftHSM 2.7.0 itself.)
matrix=(--test offline --test ceremony --test rehearsal --test openbao --test pipeline --test targets)
skipped=0
skipped_why=()
for kind in softhsm-2.7.0 kryoptic; do
  case "$kind" in
    softhsm-2.7.0) module=.tokens/softhsm-2.7.0/lib/softhsm/libsofthsm2.so why=.tokens/softhsm-2.7.0.skipped ;;
    kryoptic) module=.tokens/kryoptic/libkryoptic_pkcs11.so why=/nonexistent ;;
  esac
  if [ ! -f "$module" ]; then
    skipped=$((skipped + ${#matrix[@]} / 2))
    skipped_why+=("$kind ($(cat "$why" 2>/dev/null || echo "$module missing"))")
    echo "==> skipping the $kind suites: ${skipped_why[-1]}" | tee -a "$log"
    continue
  fi
  echo "==> the token-dependent suites on $kind"
  BYOK_TEST_TOKEN=$kind cargo test -p byok --features test-hooks "${matrix[@]}" 2>&1 | tee -a "$log" || status=$?
done
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     /^[0-9]+ passed|^[0-9]+ failed|, [0-9]+ passed|, [0-9]+ failed/ && !/^test result/ {
       for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "%d passed, %d failed", p, f
           if (skipped > 0) printf ", %d skipped: %s", skipped, why
           printf "\n" }' skipped="$skipped" why="$(IFS=';'; echo "${skipped_why[*]:-}")" "$log"
exit "$status"
