#!/usr/bin/env bash
# Builds Assent. `scripts/build.sh` → build/ (g++: daemon, client, unit tests, corpus
# replay drivers); `scripts/build.sh --fuzz` also builds the libFuzzer harnesses in
# build-fuzz/ (clang-14 with ASan + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$JOBS"
if [ "${1:-}" = "--fuzz" ]; then
  cmake -S . -B build-fuzz -G Ninja -DASSENT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
  targets=()
  for f in fuzz/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
  cmake --build build-fuzz -j "$JOBS" --target "${targets[@]}"
fi
