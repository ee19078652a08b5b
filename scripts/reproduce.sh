#!/usr/bin/env bash
# Reproducible build check: builds the air-gapped byok (the binary for the air-gapped
# workstation) twice from the same commit, in two separate clones, each with its own
# HOME, CARGO_HOME (the registry's download cache shared, its extracted sources not) and
# target directory, and compares the two executables byte for byte.
#
#   scripts/reproduce.sh [--out DIR] [COMMIT]       (COMMIT: default HEAD)
#   scripts/reproduce.sh --once --out DIR [COMMIT]  (one such build, kept as DIR/byok:
#                                                    what scripts/kit.sh packs)
#
# The build is exactly what the air-gapped workstation's binary must be built with:
#
#   cargo build --release --locked -p byok --no-default-features
#   with SOURCE_DATE_EPOCH = the commit's time (git log -1 --format=%ct COMMIT) and
#   RUSTFLAGS="--remap-path-prefix=SRC=/byok --remap-path-prefix=CARGO_HOME=/cargo
#              --remap-path-prefix=TARGET_DIR=/target"
#
# (SRC the checkout, CARGO_HOME the cargo home, TARGET_DIR the target directory), from
# a git checkout of COMMIT (the binary records `git rev-parse HEAD`; outside git it says
# "unknown" and so differs). Any directory, user or machine with the same toolchain
# (see `byok version`: rustc and target) gives the same bytes. Only committed files are
# built: uncommitted changes in this working tree are not. cargo runs with an emptied
# environment (env -i: PATH, HOME, CARGO_HOME, RUSTUP_HOME, TMPDIR and the variables
# above only), so no CARGO_PROFILE_*, RUSTC, RUSTUP_TOOLCHAIN or linker setting of the
# caller's, and no cargo config of the caller's home, changes the build.
#
# Prints both SHA-256s and exits 0 when they are equal, 1 (with the first differing
# bytes and the ELF sections they fall in) when not. --out DIR keeps the first build's
# binary as DIR/byok.
#
# Run time: two clean release builds of the air-gapped binary, about 3.5 minutes each on
# two (shared) cores: 7 min 51 s in all when measured; the crates come from the cargo
# registry cache (downloaded first if missing). The release profile's codegen-units = 4
# builds reproducibly: no need for 1.
set -euo pipefail

out=
once=false
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --once) once=true; shift ;;
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "error: unknown option $1 (see $0 --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse --verify "${1:-HEAD}^{commit}")
epoch=$(git -C "$repo" log -1 --format=%ct "$commit")
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# A changed HOME must not make rustup lose its toolchains.
if [ -z "${RUSTUP_HOME:-}" ] && command -v rustup >/dev/null; then
  RUSTUP_HOME=$(rustup show home)
  export RUSTUP_HOME
fi

if $once && [ -z "$out" ]; then
  echo "error: --once keeps its build: give --out DIR" >&2; exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/byok-reproduce.XXXXXX")
trap 'rm -rf "$work"' EXIT
# cargo sees the physical path (getcwd): the remapped prefixes must be that path too.
work=$(cd "$work" && pwd -P)
echo "reproducing the air-gapped byok of commit $commit (SOURCE_DATE_EPOCH=$epoch) in $work"

start=$SECONDS
# Two layouts of different depths, so that no path can agree by accident.
builds=(a b/second)
$once && builds=(a)
for n in "${builds[@]}"; do
  dir=$work/$n
  src=$dir/src
  home=$dir/home
  target=$dir/target
  mkdir -p "$home/.cargo/registry"
  git clone -q --no-checkout "$repo" "$src"
  git -C "$src" -c advice.detachedHead=false checkout -q --detach "$commit"
  # The downloaded crates and the index are shared; each build extracts its own sources.
  for d in index cache; do
    if [ -d "$cargo_home/registry/$d" ]; then
      ln -s "$cargo_home/registry/$d" "$home/.cargo/registry/$d"
    fi
  done
  flags=(
    "--remap-path-prefix=$src=/byok"
    "--remap-path-prefix=$home/.cargo=/cargo"
    "--remap-path-prefix=$target=/target"
  )
  echo "==> build $n: $src"
  (
    cd "$src"
    keep=(PATH="$PATH" TMPDIR="${TMPDIR:-/tmp}")
    [ -n "${RUSTUP_HOME:-}" ] && keep+=(RUSTUP_HOME="$RUSTUP_HOME")
    env -i "${keep[@]}" \
      HOME="$home" CARGO_HOME="$home/.cargo" CARGO_TARGET_DIR="$target" \
      SOURCE_DATE_EPOCH="$epoch" \
      CARGO_ENCODED_RUSTFLAGS="$(IFS=$'\x1f'; echo "${flags[*]}")" \
      cargo build --release --locked -p byok --no-default-features
  )
done
elapsed=$((SECONDS - start))

one=$work/a/target/release/byok
if $once; then
  mkdir -p "$out"
  cp "$one" "$out/byok"
  echo "built $out/byok in ${elapsed}s (SHA-256 $(sha256sum "$one" | cut -d' ' -f1))"
  exit 0
fi
two=$work/b/second/target/release/byok
sha_one=$(sha256sum "$one" | cut -d' ' -f1)
sha_two=$(sha256sum "$two" | cut -d' ' -f1)
echo "build a: $sha_one"
echo "build b: $sha_two"
echo "two builds in ${elapsed}s"
if [ -n "$out" ]; then
  mkdir -p "$out"
  cp "$one" "$out/byok"
  echo "kept $out/byok"
fi
if [ "$sha_one" = "$sha_two" ]; then
  echo "reproducible: the two builds of $commit are byte-identical (SHA-256 $sha_one)"
  exit 0
fi

echo "error: the two builds of $commit differ; the first differing bytes:" >&2
cmp -l "$one" "$two" | head -20 >&2 || true
# The ELF sections the first differences fall in (readelf -S of the first build).
if command -v readelf >/dev/null; then
  cmp -l "$one" "$two" | head -1000 | awk '{ print $1 - 1 }' >"$work/offsets" || true
  awk '
    function hex(s,   i, v) {
      v = 0; s = tolower(s)
      for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
      return v
    }
    FNR == NR { if (sub(/^ *\[ *[0-9]+\] */, "")) { n++; name[n] = $1; off[n] = hex($4); size[n] = hex($5) }; next }
    { where = "(outside every section)"
      for (i = 1; i <= n; i++) if ($1 >= off[i] && $1 < off[i] + size[i]) { where = name[i]; break }
      count[where]++ }
    END { for (w in count) printf "  %d differing bytes in %s\n", count[w], w }
  ' <(readelf -SW "$one") "$work/offsets" >&2
fi
exit 1
