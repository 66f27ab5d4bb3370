#!/usr/bin/env bash
# Builds the libFuzzer target (runtime_c/fuzz), writes the seed corpus,
# replays the known crash inputs, and fuzzes for a while (60 s by default).
# Fails on any crash, sanitizer report, leak, timeout or out-of-memory.
#
#   ci/fuzz_smoke.sh [SECONDS]      # from the repo root, after pip install -e ".[dev]"
#
# Needs clang + libFuzzer (Debian 12: apt-get install -y clang-14 libclang-rt-14-dev;
# installed here when missing and apt-get is usable). New crash inputs land in
# build/fuzz/artifacts/; copy them to tests/runtime/crashes/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-${FUZZ_SECONDS:-60}}"
out="build/fuzz"

have_clang() {
  for c in clang clang-14 clang-15 clang-16 clang-17 clang-18; do
    command -v "$c" >/dev/null 2>&1 && return 0
  done
  return 1
}
if ! have_clang && command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
fi

runtime_c/fuzz/build.sh "$out"
rm -rf "$out/seeds"
python runtime_c/fuzz/make_corpus.py "$out/seeds"
mkdir -p "$out/corpus" "$out/artifacts"

export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
common=(-rss_limit_mb=2048 -timeout=10 -artifact_prefix="$out/artifacts/")

# Every seed and every past crash input, once each; and the inputs that once
# timed out only because of what they mean (a LOOP with a huge trip count: the
# fuzz build caps loop iterations, the regular runtime runs what the model says).
shopt -s nullglob
replay=("$out"/seeds/* tests/runtime/crashes/* runtime_c/fuzz/timeouts/*)
"$out/fuzz_load" "${common[@]}" "${replay[@]}" >"$out/replay.log" 2>&1 || {
  tail -50 "$out/replay.log" >&2
  echo "fuzz_smoke.sh: a seed or a past crash input fails" >&2
  exit 1
}
echo "replayed ${#replay[@]} inputs"

# Then fuzz: the corpus grows in build/fuzz/corpus across runs.
"$out/fuzz_load" "${common[@]}" -max_total_time="$seconds" -print_final_stats=1 \
  "$out/corpus" "$out/seeds" >"$out/fuzz.log" 2>&1 || {
  tail -80 "$out/fuzz.log" >&2
  echo "fuzz_smoke.sh: the fuzzer found a crash (input in $out/artifacts/)" >&2
  exit 1
}
grep -E "^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$out/fuzz.log" || true
echo "fuzz_smoke.sh: no crash in ${seconds}s"
