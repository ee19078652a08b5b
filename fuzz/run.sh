#!/usr/bin/env bash
# Build every fuzz target (cargo-fuzz, libFuzzer, AddressSanitizer; needs the nightly
# toolchain) and run each for SECONDS on a scratch copy of its seeds (fuzz/seeds is never
# written). Prints per target the executions and the crashes, timeouts and OOMs, then a
# summary line; exits non-zero on any finding (the input is kept under the scratch
# directory's artifacts/<target>/: copy it to fuzz/regressions/<target>/ with the fix).
#
#   fuzz/run.sh SECONDS [TARGET…]
#
# Environment: FUZZ_WORK (scratch directory; default a new temp dir, kept when something
# was found), FUZZ_JOBS (cargo build jobs, default 2), FUZZ_RSS_MB (default 256, see below).
#
# Memory: -malloc_limit_mb=64 fails any single allocation over 64 MB (the issue's aim
# for a parser's memory), and LeakSanitizer reports leaks. The process RSS limit
# (-rss_limit_mb) cannot be 64 MB under AddressSanitizer: its shadow memory, allocator
# caches and quarantine (256 MB by default; 16 MB here) and libFuzzer's in-memory corpus
# put a target's RSS over 64 MB after a few thousand inputs whatever the parser does
# (measured: the plan target at 82 MB after 1,150 inputs), so the RSS limit is
# FUZZ_RSS_MB, 256 by default (p11uri passed 128 MB after 1.26 M inputs, 300 s, with
# 25 MB of live heap).
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
case $secs in '' | *[!0-9]*) echo "error: SECONDS must be a whole number, not $secs" >&2; exit 2 ;; esac
rss=${FUZZ_RSS_MB:-256}
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16}
# A panic is a crash: without this its backtrace is symbolised first, which can pass the
# RSS limit and be reported as an OOM.
export RUST_BACKTRACE=0
jobs=${FUZZ_JOBS:-2}

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "==> building ${#targets[@]} fuzz targets (cargo +nightly fuzz build, ASan)"
start=$(date +%s)
CARGO_BUILD_JOBS=$jobs cargo +nightly fuzz build
echo "built in $(($(date +%s) - start)) s"

work=${FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/byok-fuzz.XXXXXX")}
mkdir -p "$work"
bin_dir=target/x86_64-unknown-linux-gnu/release

total_execs=0
failed=()
printf '%-18s %12s %8s %6s %8s %5s %s\n' target executions exec/s crash timeout oom corpus
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  art="$work/artifacts/$t"
  mkdir -p "$corpus" "$art"
  # The seeds are copied: libFuzzer adds what it finds to the first corpus directory.
  if [ -d "seeds/$t" ]; then cp -n "seeds/$t"/* "$corpus"/ 2>/dev/null || true; fi
  if [ -d "regressions/$t" ]; then cp -n "regressions/$t"/* "$corpus"/ 2>/dev/null || true; fi
  log="$work/$t.log"
  status=0
  "$bin_dir/$t" "$corpus" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb="$rss" -malloc_limit_mb=64 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$art/" \
    >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crash=$(find "$art" -name 'crash-*' | wc -l)
  timeout=$(find "$art" -name 'timeout-*' | wc -l)
  oom=$(find "$art" -name 'oom-*' | wc -l)
  other=$(find "$art" -type f ! -name 'crash-*' ! -name 'timeout-*' ! -name 'oom-*' | wc -l)
  size=$(find "$corpus" -type f | wc -l)
  printf '%-18s %12s %8s %6s %8s %5s %s\n' "$t" "${execs:-?}" "${speed:-?}" "$crash" "$timeout" "$oom" "$size"
  total_execs=$((total_execs + ${execs:-0}))
  if [ "$status" -ne 0 ] || [ -z "$execs" ] || [ $((crash + timeout + oom + other)) -ne 0 ]; then
    failed+=("$t")
    echo "  $t: exit status $status; its log: $log; the input: $art/" >&2
    grep -m3 -E 'ERROR: |panicked at|SUMMARY' "$log" | sed 's/^/    /' >&2 || true
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: ${#targets[@]} targets, ${secs} s each, $total_execs executions; FINDINGS in ${failed[*]} (kept in $work)"
  exit 1
fi
[ -n "${FUZZ_WORK:-}" ] || rm -rf "$work"
echo "fuzz: ${#targets[@]} targets, ${secs} s each, $total_execs executions, 0 crashes, 0 timeouts, 0 OOMs"
