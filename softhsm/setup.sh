#!/usr/bin/env bash
# Install what byok's demo and tests need, when it is missing:
#   softhsm/setup.sh            SoftHSM2 (Debian package softhsm2)
#   softhsm/setup.sh --tests    also OpenSC (pkcs11-spy), Chromium and poppler-utils (the
#                               printed ceremony record: HTML → PDF → text, tests/ceremony/record.rs),
#                               and a Python venv in .venv-test
#                               with the independent checkers (OpenBao's CLI, the Azure SDK)
#                               and Azurite (npm) in tests/azurite
#   softhsm/setup.sh --tokens   also the two other test tokens, built into .tokens/ (ignored
#                               by git), each cached by a stamp there:
#     SoftHSM 2.7.0 from its release tarball, whose SHA-256 softhsm/tokens.sha256 pins:
#       $BYOK_SOFTHSM27_SRC, or else ../shared/softhsm/SoftHSMv2-2.7.0.tar.gz beside the
#       checkout; without it it is not built, .tokens/softhsm-2.7.0.skipped says why, and the
#       tests that need it say they were skipped (softhsm/test.sh's last line counts them);
#     Kryoptic from its published crate (version and checksum pinned by
#       softhsm/kryoptic/Cargo.lock), built with its own Cargo.lock.
# Both flags may be given. Uses apt-get as root, or through sudo. Changes nothing that is
# already there.
set -euo pipefail
cd "$(dirname "$0")/.."

tests=false tokens=false
for a in "$@"; do
  case "$a" in
    --tests) tests=true ;;
    --tokens) tokens=true ;;
    *) echo "error: unknown option $a (use --tests and/or --tokens)" >&2; exit 2 ;;
  esac
done

want=(softhsm2)
$tests && want+=(opensc chromium poppler-utils)
# The man pages' test (tests/docs.rs, scripts/kit-test.sh) renders them with groff and man -l.
$tests && want+=(groff-base man-db)
# SoftHSM 2.7.0's autotools build; Kryoptic's bindgen needs libclang.
$tokens && want+=(autoconf automake libtool libssl-dev pkg-config g++ make libclang-dev libsqlite3-dev)

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

if $tests; then
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

if $tokens; then
  mkdir -p .tokens
  # SoftHSM 2.7.0: native CKM_RSA_AES_KEY_WRAP, exact RFC 5649 padding.
  sh27=.tokens/softhsm-2.7.0
  rm -f "$sh27.skipped"
  tarball=${BYOK_SOFTHSM27_SRC:-../shared/softhsm/SoftHSMv2-2.7.0.tar.gz}
  pinned=$(awk '$2 == "SoftHSMv2-2.7.0.tar.gz" { print $1 }' softhsm/tokens.sha256)
  recipe="sha256 $pinned; configure --disable-gost --disable-p11-kit --with-crypto-backend=openssl"
  if [ -f "$sh27/.byok-stamp" ] && [ "$(cat "$sh27/.byok-stamp")" = "$recipe" ] \
     && [ -f "$sh27/lib/softhsm/libsofthsm2.so" ]; then
    :
  elif [ -n "${BYOK_SOFTHSM27_SRC:-}" ] && [ ! -f "$tarball" ]; then
    echo "error: BYOK_SOFTHSM27_SRC names $tarball, which does not exist: give the path of SoftHSMv2-2.7.0.tar.gz" >&2
    exit 1
  elif [ ! -f "$tarball" ]; then
    echo "SoftHSM 2.7.0 source not found at $tarball (put the release tarball there or set BYOK_SOFTHSM27_SRC)" >"$sh27.skipped"
    echo "warning: $(cat "$sh27.skipped"); its tests will be skipped" >&2
  else
    got=$(sha256sum "$tarball" | awk '{ print $1 }')
    if [ "$got" != "$pinned" ]; then
      echo "error: $tarball has SHA-256 $got, not the $pinned that softhsm/tokens.sha256 pins: not building from it" >&2
      exit 1
    fi
    echo "==> building SoftHSM 2.7.0 into $sh27 (a few minutes, once)" >&2
    start=$SECONDS
    rm -rf "$sh27" .tokens/build-softhsm
    mkdir -p .tokens/build-softhsm
    tar xzf "$tarball" -C .tokens/build-softhsm
    prefix=$PWD/$sh27
    (
      cd .tokens/build-softhsm/SoftHSMv2-2.7.0
      sh autogen.sh >build.log 2>&1
      ./configure --prefix="$prefix" --disable-gost --disable-p11-kit --with-crypto-backend=openssl >>build.log 2>&1
      make -j2 >>build.log 2>&1
      make install >>build.log 2>&1
    ) || { echo "error: building SoftHSM 2.7.0 failed; see .tokens/build-softhsm/SoftHSMv2-2.7.0/build.log" >&2; exit 1; }
    echo "$recipe" >"$sh27/.byok-stamp"
    rm -rf .tokens/build-softhsm
    echo "==> SoftHSM 2.7.0 built in $((SECONDS - start)) s" >&2
  fi

  # Kryoptic: PKCS#11 3.x, CKM_AES_KEY_WRAP_KWP only, no CKA_TRUSTED. Its default
  # features need OpenSSL >= 3.2; "dynamic" links the system's OpenSSL 3.0.
  kry=.tokens/kryoptic
  features=minimal,kryoptic-lib/dynamic
  lockhash=$(sha256sum softhsm/kryoptic/Cargo.lock | awk '{ print $1 }')
  recipe="lock $lockhash; --no-default-features --features $features"
  if [ -f "$kry/.byok-stamp" ] && [ "$(cat "$kry/.byok-stamp")" = "$recipe" ] \
     && [ -f "$kry/libkryoptic_pkcs11.so" ]; then
    :
  else
    echo "==> building Kryoptic into $kry (about a minute, once)" >&2
    start=$SECONDS
    cargo fetch --locked --manifest-path softhsm/kryoptic/Cargo.toml
    src=$(cargo metadata --locked --format-version 1 --manifest-path softhsm/kryoptic/Cargo.toml |
      python3 -c 'import json, sys
m = json.load(sys.stdin)
print(next(p["manifest_path"] for p in m["packages"] if p["name"] == "kryoptic"))')
    rm -rf "$kry"
    mkdir -p "$kry"
    cargo build --release --locked --manifest-path "$src" --target-dir .tokens/build-kryoptic \
      --no-default-features --features "$features" -j2 2>.tokens/build-kryoptic.log \
      || { echo "error: building Kryoptic failed; see .tokens/build-kryoptic.log" >&2; exit 1; }
    cp .tokens/build-kryoptic/release/libkryoptic_pkcs11.so "$kry/"
    echo "$recipe" >"$kry/.byok-stamp"
    echo "==> Kryoptic built in $((SECONDS - start)) s" >&2
  fi
fi
