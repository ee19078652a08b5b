#!/usr/bin/env bash
# Run byok's tests: installs SoftHSM2, OpenSC and the checkers when missing, then runs
# every test on throwaway tokens in temp dirs (never your own tokens).
set -euo pipefail
cd "$(dirname "$0")/.."
softhsm/setup.sh --tests
export BYOK_BAO="$PWD/.venv-test/bin/bao"
cargo test --all-targets "$@"
