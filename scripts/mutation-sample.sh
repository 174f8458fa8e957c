#!/usr/bin/env bash
# The default test run's guard for the fault-injection machinery (docs/RFC/0002):
#  1. the normal build's assentd contains no fault code: no fault name (strings), no
#     assent::fault symbol (nm), no --fault / --list-faults flag; the same checks find
#     every fault in the faults build, so they can fail;
#  2. the faults build (BUILD_DIR_FAULTS, default build-faults; only assentd is built,
#     incrementally) compiles and its fault list matches conformance/faults/faults.json;
#  3. three fixed faults from different areas are each caught by the conformance suite
#     (only the cases that check each fault's requirements run, baseline included).
# Fails unless all of it holds. The full score: scripts/mutation-score.sh.
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
if [ ! -f "$FAULTS/CMakeCache.txt" ]; then
  # -O0 without debug info: the faults build only has to run the suite, and builds fastest so.
  cmake -S . -B "$FAULTS" -G Ninja -DASSENT_FAULTS=ON -DASSENT_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 >/dev/null || exit 2
fi
ninja -C "$FAULTS" assentd >/dev/null || { echo "$0: building $FAULTS/assentd failed" >&2; exit 1; }
echo "faults build $FAULTS/assentd: up to date ($((SECONDS - start)) s)"

# 1. Fault code: none in the normal build, all of it in the faults build.
names=$(/usr/bin/python3 -c 'import json; print("\n".join(f["name"] for f in json.load(open("conformance/faults/faults.json"))["faults"]))')
fault_strings() { strings -n 6 "$1" | grep -F -x -e --fault -e --list-faults -e "$names" | sort -u; }
found=$(fault_strings "$NORMAL/assentd")
if [ -n "$found" ]; then
  echo "$0: the normal build $NORMAL/assentd contains fault names: $(echo $found)" >&2
  exit 1
fi
fault_symbols() { nm -C "$1" | grep -c 'assent::fault::'; }  # a count: grep -q would SIGPIPE nm
if [ "$(fault_symbols "$NORMAL/assentd")" -ne 0 ]; then
  echo "$0: the normal build $NORMAL/assentd contains assent::fault symbols" >&2
  exit 1
fi
if "$NORMAL/assentd" --list-faults >/dev/null 2>&1 || [ "$("$NORMAL/assentd" --help | grep -c -e '--fault')" -ne 0 ]; then
  echo "$0: the normal build $NORMAL/assentd has the --fault / --list-faults flags" >&2
  exit 1
fi
want=$(( $(echo "$names" | wc -l) + 2 ))
got=$(fault_strings "$FAULTS/assentd" | wc -l)
if [ "$got" -ne "$want" ] || [ "$(fault_symbols "$FAULTS/assentd")" -eq 0 ]; then
  echo "$0: the check cannot see the faults in $FAULTS/assentd ($got of $want names): it proves nothing" >&2
  exit 1
fi
echo "normal build $NORMAL/assentd: no fault names, no assent::fault symbols, no --fault flag" \
     "(the same checks find all $want in $FAULTS/assentd)"

# 2 and 3. The catalogue check and the sample.
/usr/bin/python3 scripts/mutation_score.py --assentd "$FAULTS/assentd" --faults "$SAMPLE" \
  --targeted-only --min-score 100 --jobs 2
rc=$?
echo "mutation sample: $((SECONDS - start)) s"
exit $rc
