#!/usr/bin/env bash
# Rebuilds a committed corpus: fuzz/merge-corpus.sh HARNESS [EXTRA_DIR...]
#
# Merges the committed corpus, the generated seeds (build-seeds/HARNESS, from
# scripts/gen-fuzz-seeds.py) and any extra directories (e.g. a campaign's output) into
# the smallest set that keeps their edge coverage (libFuzzer -merge=1), and replaces
# fuzz/corpus/HARNESS with it. Extra inputs are taken smallest first until the corpus
# holds MAX_FILES (200) files, the limit that keeps ctest's replay quick; it fails if
# the committed corpus and seeds alone need more. Needs the libFuzzer build (scripts/build.sh --fuzz, or
# ASSENT_FUZZ_BUILD_DIR=build-fz).
set -euo pipefail
cd "$(dirname "$0")/.."
harness=${1:?usage: fuzz/merge-corpus.sh HARNESS [EXTRA_DIR...]}
shift
bin=${ASSENT_FUZZ_BUILD_DIR:-build-fuzz}/${harness}_fuzz
[ -x "$bin" ] || { echo "fuzz/merge-corpus.sh: $bin not built" >&2; exit 2; }
max_files=${MAX_FILES:-200}
out=$(mktemp -d)
chunk=$(mktemp -d)
trap 'rm -rf "$out" "$chunk"' EXIT
max_len=$(sed -n 's/^max_len *= *//p' "fuzz/options/$harness.options" 2>/dev/null || true)
merge() {
  # Edges only (no hit-count buckets): the smallest corpus that reaches every edge.
  "$bin" -merge=1 -use_counters=0 ${max_len:+-max_len=$max_len} -timeout=30 \
    -rss_limit_mb=4096 "$out" "$@" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files|ERROR" || true
}
# The committed corpus and the seeds first; then the extra inputs, smallest first, in
# chunks, until the corpus reaches the file limit (libFuzzer's merge has no cap).
base=()
for d in "fuzz/corpus/$harness" "build-seeds/$harness"; do [ -d "$d" ] && base+=("$d"); done
merge "${base[@]}"
if [ "$#" -gt 0 ]; then
  mapfile -t extra < <(find "$@" -type f -printf '%s %p\n' | sort -n | cut -d' ' -f2-)
  i=0
  while [ "$i" -lt "${#extra[@]}" ]; do
    room=$((max_files - $(find "$out" -type f | wc -l)))
    [ "$room" -le 0 ] && break
    [ "$room" -gt 25 ] && room=25
    rm -rf "${chunk:?}"/*
    cp "${extra[@]:i:room}" "$chunk/"
    merge "$chunk" >/dev/null
    i=$((i + room))
  done
fi
n=$(find "$out" -type f | wc -l)
if [ "$n" -eq 0 ]; then
  echo "fuzz/merge-corpus.sh: the merge kept nothing" >&2
  exit 1
fi
if [ "$n" -gt "$max_files" ]; then
  echo "fuzz/merge-corpus.sh: $n files > $max_files; not replacing fuzz/corpus/$harness" >&2
  exit 1
fi
rm -rf "fuzz/corpus/$harness"
mkdir -p "fuzz/corpus/$harness"
cp "$out"/* "fuzz/corpus/$harness/"
echo "fuzz/merge-corpus.sh: fuzz/corpus/$harness has $n files ($(du -sh "fuzz/corpus/$harness" | cut -f1))"
