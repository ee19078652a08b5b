#!/bin/sh
# byok's offline kit: install.sh PREFIX
#
# Checks every file of the kit against SHA256SUMS first (nothing is installed when one
# differs or is missing), then copies bin/ and share/ into PREFIX (e.g. /usr/local, or
# $HOME/.local) and checks the installed copies again. Needs only coreutils: no network,
# no package manager. Compare the tarball's own SHA-256 with the one published for the
# release (or your own rebuild's) before you run this.
set -eu
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 PREFIX   (e.g. $0 /usr/local)" >&2
  exit 2
fi
prefix=$1
# A relative PREFIX is the caller's, not the kit's: made absolute before the cd below.
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac
kit=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
cd "$kit"

# 1. The kit as it was made: every listed file has its hash, and no file is unlisted.
if ! sha256sum --check --strict --quiet SHA256SUMS; then
  echo "error: the kit in $kit does not match its SHA256SUMS: nothing installed; unpack the tarball again and check its SHA-256" >&2
  exit 1
fi
listed=$(sed 's/^[0-9a-f]*  //' SHA256SUMS | LC_ALL=C sort)
present=$(find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort)
if [ "$listed" != "$present" ]; then
  echo "error: the kit in $kit holds files SHA256SUMS does not list: nothing installed; unpack the tarball again into an empty directory" >&2
  exit 1
fi

# 2. Copy bin/ and share/ (not install.sh, not SHA256SUMS).
mkdir -p "$prefix"
grep -E '  (bin|share)/' SHA256SUMS | sed 's/^[0-9a-f]*  //' | while IFS= read -r f; do
  case "$f" in bin/*) mode=755 ;; *) mode=644 ;; esac
  mkdir -p "$prefix/$(dirname "$f")"
  cp "$f" "$prefix/$f.tmp.$$"
  chmod "$mode" "$prefix/$f.tmp.$$"
  mv -f "$prefix/$f.tmp.$$" "$prefix/$f"
done

# 3. The installed copies.
if ! grep -E '  (bin|share)/' SHA256SUMS | (cd "$prefix" && sha256sum --check --strict --quiet); then
  echo "error: the files installed into $prefix differ from the kit's SHA256SUMS: remove them and install again" >&2
  exit 1
fi
n=$(grep -cE '  (bin|share)/' SHA256SUMS)
echo "installed $n files into $prefix, each checked against SHA256SUMS"
echo "  run:    $prefix/bin/byok --help   (add $prefix/bin to PATH)"
echo "  manual: man byok   (MANPATH=$prefix/share/man if $prefix is not /usr or /usr/local)"
echo "  bash:   completions in $prefix/share/bash-completion/completions/byok (or: source it)"
