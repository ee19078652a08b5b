#!/usr/bin/env bash
# The offline kit's test (CI runs it): makes the kit with scripts/kit.sh, makes it again in
# another directory and compares the tarballs byte for byte, installs it with its
# install.sh into a clean temporary prefix, and checks what was installed: the binary runs
# and is the air-gapped build, man -l renders its pages, the bash completion completes when
# sourced, the zsh and fish files are there. Also: a kit with one altered file installs
# nothing.
#
# It builds the release binary (cargo build --release --locked -p byok
# --no-default-features); BYOK_KIT_BINARY=PATH reuses one already built (local runs only).
# Needs groff and man (softhsm/setup.sh --tests installs groff-base and man-db).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C.UTF-8
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "error: kit test: $*" >&2; exit 1; }

scripts/kit.sh "$work/a" >/dev/null
tarball=$(ls "$work"/a/byok-*.tar.gz)
name=$(basename "$tarball" .tar.gz)
# The second run reuses the binary the first one built or took: only the packing is compared.
BYOK_KIT_BINARY=${BYOK_KIT_BINARY:-target/kit-build/byok} scripts/kit.sh "$work/b" >/dev/null
cmp "$tarball" "$work/b/$name.tar.gz" || fail "two runs of scripts/kit.sh gave different tarballs"
(cd "$work/a" && sha256sum --check --quiet "$name.tar.gz.sha256") || fail "the .sha256 beside the tarball is wrong"
echo "kit: $name.tar.gz ($(wc -c <"$tarball") bytes), the same bytes from two runs"

# The kit's binary is the reproducible build: BYOK_REPRODUCED_BINARY (CI: the one
# scripts/reproduce.sh --out kept, rebuilt from two fresh clones) has the same bytes.
if [ -n "${BYOK_REPRODUCED_BINARY:-}" ]; then
  tar -xzf "$tarball" -C "$work" "$name/bin/byok"
  a=$(sha256sum <"$work/$name/bin/byok" | cut -d' ' -f1)
  b=$(sha256sum <"$BYOK_REPRODUCED_BINARY" | cut -d' ' -f1)
  [ "$a" = "$b" ] || fail "the kit's byok ($a) is not the reproducible build $BYOK_REPRODUCED_BINARY ($b)"
  echo "kit: bin/byok is the reproducible build (SHA-256 $a)"
  rm -rf "${work:?}/$name"
fi

# The layout, owners and times as promised.
listing=$(tar -tvzf "$tarball")
grep -v ' 0/0 ' <<<"$listing" && fail "entries not owned by 0/0"
for f in bin/byok install.sh SHA256SUMS share/man/man1/byok.1 share/man/man1/byok-ceremony-run.1 \
  share/bash-completion/completions/byok share/zsh/site-functions/_byok \
  share/fish/vendor_completions.d/byok.fish share/doc/byok/README.md share/doc/byok/SECURITY.md \
  share/doc/byok/ceremony/officers-checklist.md; do
  grep -q " $name/$f\$" <<<"$listing" || fail "$f missing from the tarball"
done

# Unpack and install into a clean prefix.
mkdir "$work/unpacked" "$work/prefix"
tar -xzf "$tarball" -C "$work/unpacked"
kit=$work/unpacked/$name
prefix=$work/prefix/usr
"$kit/install.sh" "$prefix" >"$work/install.log" || { cat "$work/install.log" >&2; fail "install.sh failed"; }
# A relative PREFIX is the caller's directory's, not the kit's.
(cd "$work" && "$kit/install.sh" relative-prefix >/dev/null) || fail "install.sh with a relative prefix failed"
[ -x "$work/relative-prefix/bin/byok" ] || fail "install.sh put a relative prefix somewhere else than the caller's directory"
[ ! -e "$kit/relative-prefix" ] || fail "install.sh put a relative prefix inside the kit"
grep -q "^installed .* each checked against SHA256SUMS" "$work/install.log" || fail "install.sh said: $(cat "$work/install.log")"

# The binary: runs, is the air-gapped build, is the kit's own.
"$prefix/bin/byok" --version | grep -q "^byok " || fail "byok --version"
"$prefix/bin/byok" hsm info --help >/dev/null || fail "byok hsm info --help"
help=$("$prefix/bin/byok" --help)
grep -q "Offline commands" <<<"$help" || fail "byok --help lists no offline commands"
grep -q "Connected commands" <<<"$help" && fail "the kit's byok has the connected commands"
cmp "$prefix/bin/byok" "$kit/bin/byok" || fail "installed byok differs from the kit's"
[ "$(stat -c %a "$prefix/bin/byok")" = 755 ] || fail "bin/byok is not mode 755"

# The man pages, as man(1) shows them.
out=$(MANPAGER=cat MANWIDTH=100 man -l "$prefix/share/man/man1/byok.1") || fail "man -l byok.1"
for w in NAME SYNOPSIS keygen ceremony --rehearsal; do
  grep -q -- "$w" <<<"$out" || fail "man byok lacks $w"
done
out=$(MANPAGER=cat MANWIDTH=100 MANPATH="$prefix/share/man" man byok-ceremony-run) || fail "man byok-ceremony-run (MANPATH)"
grep -q -- "--non-interactive" <<<"$out" || fail "man byok-ceremony-run lacks --non-interactive"
warnings=$(groff -k -man -Tutf8 -ww -z "$prefix"/share/man/man1/*.1 2>&1)
[ -z "$warnings" ] || fail "groff warns: $warnings"

# The completions.
bash -n "$prefix/share/bash-completion/completions/byok" || fail "bash -n on the bash completion"
got=$(bash --norc -c 'source "$1"; complete -p byok >/dev/null || exit 1
  COMP_WORDS=(byok ceremony r); COMP_CWORD=2; _byok byok r ceremony; printf "%s\n" "${COMPREPLY[@]}"' _ \
  "$prefix/share/bash-completion/completions/byok") || fail "sourcing the bash completion"
[ "$got" = run ] || fail "bash completion of 'byok ceremony r' gave: $got"
grep -q "^#compdef byok" "$prefix/share/zsh/site-functions/_byok" || fail "zsh completion"
grep -q "complete -c byok" "$prefix/share/fish/vendor_completions.d/byok.fish" || fail "fish completion"
echo "kit: installed into a clean prefix; byok runs (air-gapped), man renders, bash completes"

# A kit with an altered file installs nothing.
echo "# altered" >>"$kit/share/doc/byok/README.md"
if "$kit/install.sh" "$work/prefix2" >/dev/null 2>"$work/err"; then
  fail "install.sh installed a kit whose README.md was altered"
fi
grep -q "does not match its SHA256SUMS" "$work/err" || fail "install.sh said: $(cat "$work/err")"
[ ! -e "$work/prefix2" ] || fail "install.sh created the prefix of an altered kit"
# An extra, unlisted file: refused too.
tar -xzf "$tarball" -C "$work" && touch "$work/$name/bin/extra"
"$work/$name/install.sh" "$work/prefix3" >/dev/null 2>&1 && fail "install.sh installed a kit with an unlisted file"
echo "kit: an altered kit and a kit with an extra file install nothing"
