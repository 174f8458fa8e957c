#!/usr/bin/env bash
# Mutation score of the conformance suite (docs/RFC/0002-fault-injection.md): builds the
# fault-injection variant of assentd (cmake -DASSENT_FAULTS=ON) in its own build directory,
# then runs the conformance suite against `assentd --fault NAME` for every fault of
# conformance/faults/faults.json and prints the score (caught / total), the cases that
# caught each fault, and the faults no case caught. Exit 1 below 95 %.
# Not part of scripts/test.sh (which runs scripts/mutation-sample.sh instead).
#
#   scripts/mutation-score.sh [BUILD_DIR_FAULTS] [options of scripts/mutation_score.py]
#     BUILD_DIR_FAULTS   default build-faults
#     --faults a,b       only these faults          --jobs N    faults at once (default 2)
#     --full             every case under every fault (lists every catching case; slower)
#     --min-score P      threshold (default 95)     -v          one line per suite run
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=build-faults
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  BUILD_DIR=$1
  shift
fi
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  # -O0 without debug info: this build only runs the suite, and compiles fastest so.
  cmake -S . -B "$BUILD_DIR" -G Ninja -DASSENT_FAULTS=ON -DASSENT_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 >/dev/null || exit 2
fi
if ! grep -q '^ASSENT_FAULTS:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
  echo "$0: $BUILD_DIR is not a -DASSENT_FAULTS=ON build directory" >&2
  exit 2
fi
ninja -C "$BUILD_DIR" assentd >/dev/null || { echo "$0: building $BUILD_DIR/assentd failed" >&2; exit 2; }
exec /usr/bin/python3 scripts/mutation_score.py --assentd "$BUILD_DIR/assentd" "$@"
