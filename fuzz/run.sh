#!/usr/bin/env bash
# Runs one libFuzzer campaign: fuzz/run.sh [--strict] HARNESS SECONDS [extra libFuzzer flags]
# e.g. fuzz/run.sh dispatch_store 600. Needs `scripts/build.sh --fuzz` first (or
# ASSENT_FUZZ_BUILD_DIR pointing at another libFuzzer build directory).
#
# Uses fuzz/dict/HARNESS.dict and the [libfuzzer] settings of fuzz/options/HARNESS.options
# (max_len, timeout, …). New inputs go to a scratch copy of the corpus (the committed
# corpus is not modified; keep them with CORPUS_OUT=DIR, then fuzz/merge-corpus.sh
# HARNESS DIR). Crashes are written to fuzz/artifacts/ — minimize them
# (-minimize_crash=1) and commit them to fuzz/corpus/HARNESS/ with the fix, or to
# fuzz/crashes/HARNESS/ with a known-bug entry in fuzz/README.md until it is fixed.
# --strict also fails on the known bugs (ASSENT_FUZZ_STRICT=1).
# Prints libFuzzer's exec/s and coverage lines.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--strict" ]; then
  export ASSENT_FUZZ_STRICT=1
  shift
fi
harness=${1:?usage: fuzz/run.sh [--strict] HARNESS SECONDS}
seconds=${2:-30}
shift 2 || true
bin=${ASSENT_FUZZ_BUILD_DIR:-build-fuzz}/${harness}_fuzz
[ -x "$bin" ] || { echo "fuzz/run.sh: $bin not built; run scripts/build.sh --fuzz" >&2; exit 2; }
work=${CORPUS_OUT:-$(mktemp -d)}
[ -n "${CORPUS_OUT:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
cp -r "fuzz/corpus/$harness/." "$work/" 2>/dev/null || true
mkdir -p fuzz/artifacts
flags=()
[ -f "fuzz/dict/$harness.dict" ] && flags+=(-dict="fuzz/dict/$harness.dict")
timeout_s=10
if [ -f "fuzz/options/$harness.options" ]; then
  while IFS='=' read -r key value; do
    key=${key// /}
    value=${value// /}
    case "$key" in
      max_len | rss_limit_mb | use_value_profile | len_control) flags+=("-$key=$value") ;;
      timeout) timeout_s=$value ;;
    esac
  done < <(sed -n '/^\[libfuzzer\]/,/^\[/p' "fuzz/options/$harness.options" | grep '=')
fi
log=$(mktemp)
status=0
"$bin" "$work" "${flags[@]}" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix=fuzz/artifacts/"$harness"- -timeout="$timeout_s" "$@" \
  >"$log" 2>&1 || status=$?
grep -E "INITED|DONE|stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|SUMMARY|Test unit|^\*\*\*" "$log" | tail -n 14
if [ "$status" != 0 ]; then tail -n 40 "$log"; fi
rm -f "$log"
echo "fuzz/run.sh: $harness finished with status $status after ${seconds}s"
exit "$status"
