#!/usr/bin/env bash
# Runs one libFuzzer campaign: fuzz/run.sh HARNESS SECONDS [extra libFuzzer flags]
# e.g. fuzz/run.sh rpc_body 60. Needs `scripts/build.sh --fuzz` first. New inputs go to
# a scratch copy of the corpus (the committed corpus is not modified); crashes are
# written to fuzz/artifacts/ — minimize them (-minimize_crash=1) and commit them to
# fuzz/corpus/HARNESS/ with the fix. Prints libFuzzer's exec/s and coverage lines.
set -euo pipefail
cd "$(dirname "$0")/.."
harness=${1:?usage: fuzz/run.sh HARNESS SECONDS}
seconds=${2:-30}
shift 2 || true
bin=build-fuzz/${harness}_fuzz
[ -x "$bin" ] || { echo "fuzz/run.sh: $bin not built; run scripts/build.sh --fuzz" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "fuzz/corpus/$harness/." "$work/" 2>/dev/null || true
mkdir -p fuzz/artifacts
dict=()
[ -f "fuzz/dict/$harness.dict" ] && dict=(-dict="fuzz/dict/$harness.dict")
log=$(mktemp)
status=0
"$bin" "$work" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix=fuzz/artifacts/"$harness"- -timeout=10 -rss_limit_mb=2048 "$@" \
  >"$log" 2>&1 || status=$?
grep -E "INITED|DONE|stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|SUMMARY|Test unit written" "$log" | tail -n 12
if [ "$status" != 0 ]; then tail -n 40 "$log"; fi
rm -f "$log"
echo "fuzz/run.sh: $harness finished with status $status after ${seconds}s"
exit "$status"
