#!/usr/bin/env bash
# The default test run's guard for the fault-injection machinery (docs/RFC/0002):
#  1. the normal build's assentd contains no fault code (no fault name, no --fault flag);
#  2. the faults build (BUILD_DIR_FAULTS, default build-faults; only assentd is built)
#     still compiles, and its fault list matches conformance/faults/faults.json;
#  3. three fixed faults from different areas are each caught by the conformance suite
#     (only the cases that check each fault's requirements run, baseline included).
# Fails unless all three hold. The full score: scripts/mutation-score.sh.
#
#   scripts/mutation-sample.sh [BUILD_DIR_NORMAL [BUILD_DIR_FAULTS]]   (defaults build, build-faults)
set -uo pipefail
cd "$(dirname "$0")/.."
NORMAL=${1:-build}
FAULTS=${2:-build-faults}
SAMPLE=reveal-by-non-originator,id-number-echoed-as-string,lockout-never
start=$SECONDS

if [ ! -x "$NORMAL/assentd" ]; then
  echo "$0: $NORMAL/assentd is missing; build it first" >&2
  exit 2
fi
# 1. No fault code in the normal build.
names=$(/usr/bin/python3 -c 'import json; print("\n".join(f["name"] for f in json.load(open("conformance/faults/faults.json"))["faults"]))')
found=$(strings -n 6 "$NORMAL/assentd" | grep -F -e --fault -e --list-faults -e "$names" | sort -u)
if [ -n "$found" ]; then
  echo "$0: the normal build $NORMAL/assentd contains fault code: $(echo $found)" >&2
  exit 1
fi
if "$NORMAL/assentd" --list-faults >/dev/null 2>&1 || "$NORMAL/assentd" --help | grep -q -e '--fault'; then
  echo "$0: the normal build $NORMAL/assentd has the --fault / --list-faults flags" >&2
  exit 1
fi
echo "normal build $NORMAL/assentd: no fault names, no --fault flag"

# 2 and 3. The faults build and the sample.
bash scripts/mutation-score.sh "$FAULTS" --faults "$SAMPLE" --targeted-only --min-score 100 --jobs 2
rc=$?
echo "mutation sample: $((SECONDS - start)) s"
exit $rc
