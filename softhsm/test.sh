#!/usr/bin/env bash
# Run byok's tests: installs SoftHSM2, OpenSC and the checkers when missing, then runs
# every test on throwaway tokens in temp dirs (never your own tokens) and local
# simulators on loopback. Ends with one line "N passed, N failed" over all of them.
#
# The tests need the crash hook, so everything is built with the `test-hooks` feature
# (release builds never have it).
set -euo pipefail
cd "$(dirname "$0")/.."
softhsm/setup.sh --tests
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
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     /^[0-9]+ passed|^[0-9]+ failed|, [0-9]+ passed|, [0-9]+ failed/ && !/^test result/ {
       for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
