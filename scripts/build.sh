#!/usr/bin/env bash
# Builds Assent. `scripts/build.sh` → build/ (g++: daemon, client, unit tests, corpus
# replay drivers); `scripts/build.sh --fuzz` also builds the libFuzzer harnesses in
# build-fuzz/ (clang-14 with ASan + UBSan).
# Line tables only (-g1 / -gline-tables-only) instead of full debug info: the code is
# template-heavy (nlohmann, valijson) and full DWARF roughly doubles the build on 2 cores;
# stack traces keep file:line. ccache is used when installed (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths inside the checkout are hashed relative to it, so another clone of the same
  # commit (CI's fresh checkout) reuses the cache.
  export CCACHE_BASEDIR=$PWD
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1" "${launcher[@]}" >/dev/null
cmake --build build -j "$JOBS"
if [ "${1:-}" = "--fuzz" ]; then
  cmake -S . -B build-fuzz -G Ninja -DASSENT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_CXX_COMPILER=clang++-14 "${launcher[@]}" >/dev/null
  targets=()
  for f in fuzz/*_fuzz.cc; do targets+=("$(basename "$f" .cc)"); done
  cmake --build build-fuzz -j "$JOBS" --target "${targets[@]}"
fi
