#!/usr/bin/env bash
# Installs, builds and runs every test of Assent: unit and property tests and corpus
# replay (ctest), the spec checks, the mock Discord's tests, the conformance suite
# against the reference daemon, the end-to-end tests, and a short run of every fuzz
# harness. Every stage runs even if an earlier one failed; the exit code is non-zero if
# any failed. FUZZ_SECONDS (default 30, as issue 7 asks) sets each harness's run.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
PY=/usr/bin/python3

bash scripts/setup.sh || exit 1
bash scripts/build.sh --fuzz || { echo "test.sh: build failed"; exit 1; }

passed=0
failed=0
failed_stages=()
stage() {
  local name=$1
  shift
  echo
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failed_stages+=("$name")
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
  fi
}

reports=${REPORT_DIR:-build/reports}
mkdir -p "$reports"

stage "unit, property and corpus replay (ctest)" \
  ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 300
stage "spec checks" bash scripts/spec-check.sh
stage "mock Discord" $PY -m pytest -q -p no:cacheprovider tools/mock-discord
CONFORMANCE_REPORT_DIR="$PWD/$reports/conformance" stage "conformance (reference daemon)" bash conformance/run-reference.sh build
stage "OpenRPC example pairings (@open-rpc/test-coverage)" bash scripts/openrpc-coverage.sh build
export ASSENT_BUILD_DIR=build
for suite in e2e chaos live_fuzz; do
  if compgen -G "tests/$suite/test_*.py" >/dev/null; then
    stage "tests/$suite" $PY -m pytest -q -p no:cacheprovider "tests/$suite"
  fi
done
if [ -f scripts/mutation-sample.sh ]; then
  stage "conformance catches broken daemons (3-fault sample)" bash scripts/mutation-sample.sh build build-faults
fi
for f in fuzz/*_fuzz.cc; do
  h=$(basename "$f" _fuzz.cc)
  stage "fuzz $h (${FUZZ_SECONDS:-30} s)" bash fuzz/run.sh "$h" "${FUZZ_SECONDS:-30}"
done

echo
if [ "$failed" -gt 0 ]; then
  echo "failed stages: ${failed_stages[*]}"
fi
echo "test stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
