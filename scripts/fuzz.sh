#!/usr/bin/env bash
# Bounded fuzzing of the parsers that read hostile input: URL lists, mapping rules, the config
# file (and --timeout/--poll-interval), and the providers' answers.
#
#   scripts/fuzz.sh [SECONDS]
#
# With the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`), runs each target of
# fuzz/ for SECONDS (default 20), starting from fuzz/seeds/TARGET and the corpus kept in
# fuzz/corpus/TARGET (git-ignored); a crash is saved under fuzz/artifacts/TARGET/ and makes
# the script exit 1 after every target has run. Without them, falls back to the stable
# proptest suite with many more cases (`PROPTEST_CASES`, default 5000), in release mode.
# Both layers check the same properties (tests/parser_checks/). CDN_REFRESH_FUZZ_STRICT=1
# adds the properties today's code does not have yet (capped messages, usable durations);
# FUZZ_FALLBACK=1 runs the fallback even where cargo-fuzz is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
case "$seconds" in
  '' | *[!0-9]* | 0)
    echo "usage: scripts/fuzz.sh [SECONDS]  (a whole number of seconds per target)" >&2
    exit 2
    ;;
esac
targets=(url_list rules config provider_answers)

fallback() {
  local cases="${PROPTEST_CASES:-5000}"
  echo "fuzz.sh: $1: falling back to the proptest suite (PROPTEST_CASES=$cases, release mode)"
  PROPTEST_CASES="$cases" cargo test --release --test fuzz_parsers
}

if [ "${FUZZ_FALLBACK:-}" = 1 ]; then
  fallback "FUZZ_FALLBACK=1"
  exit 0
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  fallback "no nightly toolchain (cargo +nightly)"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  fallback "cargo-fuzz is not installed (cargo install cargo-fuzz)"
  exit 0
fi

# No sanitizer: the targets are safe Rust, and without one they run several times faster.
# Overflow checks and debug assertions stay on (cargo-fuzz's default).
fuzz_flags=(--sanitizer none)
echo "fuzz.sh: building ${targets[*]} ($(cargo +nightly --version))"
cargo +nightly fuzz build "${fuzz_flags[@]}"

failed=()
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  log="$artifacts/fuzz.log"
  mkdir -p "$corpus" "$artifacts"
  echo "== fuzz target $target (${seconds}s; log in $log)"
  # -timeout: an input taking 10 s is a hang; -rss_limit_mb: 2 GB is runaway memory.
  if cargo +nightly fuzz run "${fuzz_flags[@]}" "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -dict="fuzz/dicts/$target.dict" -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
  else
    failed+=("$target")
    grep -m 1 -A 3 'panicked at' "$log" || true
    tail -n 25 "$log"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crash or hang in: ${failed[*]}; the inputs are in fuzz/artifacts/ (reproduce with" >&2
  echo "  cargo +nightly fuzz run --sanitizer none TARGET fuzz/artifacts/TARGET/crash-...)" >&2
  exit 1
fi
echo "fuzz.sh: no crash in ${targets[*]} (${seconds}s each)"
