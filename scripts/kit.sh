#!/usr/bin/env bash
# The offline kit: the air-gapped byok (no network crate in it), its man pages, its shell
# completions and the ceremony documents, in one tarball that installs into any prefix on a
# fresh Debian without network:
#
#   scripts/kit.sh [OUTDIR]     writes OUTDIR/byok-<version>-<target>.tar.gz (default
#                               OUTDIR: target/kit) and prints its SHA-256
#
# Inside, byok-<version>-<target>/:
#   bin/byok                                  the air-gapped release build
#   share/man/man1/byok.1, byok-*.1           a page per command (byok man --out-dir)
#   share/bash-completion/completions/byok    byok completions bash
#   share/zsh/site-functions/_byok            byok completions zsh
#   share/fish/vendor_completions.d/byok.fish byok completions fish
#   share/doc/byok/README.md, SECURITY.md, ceremony/…
#   install.sh                                install.sh PREFIX: checks SHA256SUMS, then copies
#   SHA256SUMS                                every file above
#
# The tarball is deterministic: names sorted, every mtime SOURCE_DATE_EPOCH (default: the
# commit's time), owner and group 0, fixed modes, gzip without a name or time. Given the
# same byok binary, two runs give the same bytes (scripts/kit-test.sh checks it).
#
# The binary is built here by scripts/reproduce.sh --once (cargo build --release --locked
# -p byok --no-default-features from a fresh clone of HEAD, paths remapped), so its
# SHA-256 is the one a rebuild of the commit gives.
# BYOK_KIT_BINARY=PATH uses an air-gapped release byok already built instead (for local runs
# on a slow machine; CI builds it). Either way the binary is refused if it has connected
# commands or the test hook.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/kit}
export LC_ALL=C
git rev-parse --git-dir >/dev/null 2>&1 || {
  echo "error: scripts/kit.sh runs in byok's git checkout (it takes the commit's time and the committed documents)" >&2; exit 1; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
# The kit is a commit's: its binary says `git rev-parse HEAD` and its documents are the
# committed ones, so a tracked file changed and not committed would make it lie.
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "error: the checkout has uncommitted changes (git status): commit or stash them, then make the kit" >&2; exit 1
fi

if [ -n "${BYOK_KIT_BINARY:-}" ]; then
  bin=$BYOK_KIT_BINARY
  echo "==> using $bin (BYOK_KIT_BINARY)" >&2
else
  # Built by scripts/reproduce.sh --once: a fresh clone of HEAD, an emptied environment,
  # the same path remapping and SOURCE_DATE_EPOCH, so the kit's binary is the one a
  # rebuild of the commit gives, byte for byte.
  echo "==> scripts/reproduce.sh --once (the air-gapped release byok of HEAD)" >&2
  built=target/kit-build
  rm -rf "$built"
  scripts/reproduce.sh --once --out "$built" HEAD >&2
  bin=$built/byok
fi
[ -x "$bin" ] || { echo "error: $bin is not an executable: build it (cargo build --release -p byok --no-default-features) or unset BYOK_KIT_BINARY" >&2; exit 1; }
if grep -q BYOK_TEST_CRASH_AFTER "$bin"; then
  echo "error: $bin has the test hook (built with --features test-hooks): build without it" >&2; exit 1
fi
if "$bin" upload --help >/dev/null 2>&1; then
  echo "error: $bin has the connected commands: the kit takes the air-gapped build (cargo build --release -p byok --no-default-features)" >&2; exit 1
fi

version=$("$bin" --version | awk '{print $2}')
target=$(rustc -vV | sed -n 's/^host: //p')
name=byok-$version-$target
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
k=$stage/$name
mkdir -p "$k/bin" "$k/share/man/man1" "$k/share/bash-completion/completions" \
  "$k/share/zsh/site-functions" "$k/share/fish/vendor_completions.d" "$k/share/doc/byok"
cp "$bin" "$k/bin/byok"
"$bin" man --out-dir "$k/share/man/man1"
"$bin" completions bash >"$k/share/bash-completion/completions/byok"
"$bin" completions zsh >"$k/share/zsh/site-functions/_byok"
"$bin" completions fish >"$k/share/fish/vendor_completions.d/byok.fish"
# The documents as committed (git ls-files: no stray local files).
git ls-files -z README.md SECURITY.md ceremony | while IFS= read -r -d '' f; do
  mkdir -p "$k/share/doc/byok/$(dirname "$f")"
  cp "$f" "$k/share/doc/byok/$f"
done
cp scripts/kit-install.sh "$k/install.sh"

# Fixed modes, whatever the umask: executables 755, the rest 644.
find "$k" -type d -exec chmod 755 {} +
find "$k" -type f -exec chmod 644 {} +
chmod 755 "$k/bin/byok" "$k/install.sh"
(cd "$k" && find . -type f ! -name SHA256SUMS -printf '%P\n' | sort | xargs -d '\n' sha256sum >SHA256SUMS)
chmod 644 "$k/SHA256SUMS"

mkdir -p "$out"
tarball=$out/$name.tar.gz
tar --sort=name --format=gnu --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  -C "$stage" -cf - "$name" | gzip -n -9 >"$tarball.tmp"
mv "$tarball.tmp" "$tarball"
(cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
echo "==> $tarball" >&2
cat "$out/$name.tar.gz.sha256"
