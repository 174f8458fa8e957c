#!/usr/bin/env bash
# External check (issue 7): runs @open-rpc/test-coverage with the example pairings of
# spec/openrpc.json against a live reference daemon (scripts/openrpc-coverage.js says how).
# Starts assentd from BUILD_DIR on a fresh data directory with the launch options of
# conformance/run-reference.sh that apply without Discord (loopback TCP on a free port, a
# tokens file with one token per role, --validate-responses), waits for its discovery file,
# runs the check, and stops the daemon it started (by its pid).
#
#   scripts/openrpc-coverage.sh [BUILD_DIR]        (default build)
# Exit status: 0 when every pairing passes; 1 when one fails; 2 on a setup error.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
ASSENTD="$BUILD_DIR/assentd"
if [ ! -x "$ASSENTD" ]; then
  echo "$0: $ASSENTD is missing; build it first (ninja -C $BUILD_DIR assentd)" >&2
  exit 2
fi
if [ ! -d scripts/node_modules/@open-rpc/test-coverage ]; then
  echo "$0: scripts/node_modules lacks @open-rpc/test-coverage; run: npm ci --prefix scripts" >&2
  exit 2
fi

work=$(mktemp -d /tmp/assent-openrpc-coverage.XXXXXX) || exit 2
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# One random token per role (grammar ^[A-Za-z0-9_.~-]{16,256}$), stored as BLAKE2b-256
# hashes (PROTOCOL.md ASSENT-TGT-003).
declare -A token
entries=()
for role in admin approver agent; do
  token[$role]=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  hash=$(printf %s "${token[$role]}" | b2sum -l 256 | cut -d' ' -f1)
  entries+=("{\"name\": \"openrpc-coverage-$role\", \"role\": \"$role\", \"hash\": \"blake2b256:$hash\"}")
done
(IFS=,; printf '{"version": 1, "tokens": [%s]}\n' "${entries[*]}") > "$work/tokens.json"
chmod 600 "$work/tokens.json"

"$ASSENTD" --data-dir "$work/data" --listen tcp://127.0.0.1:0 --tokens-file "$work/tokens.json" \
  --validate-responses --heartbeat-s 1 >"$work/assentd.log" 2>&1 &
pid=$!
disc="$work/data/assentd.json"
for _ in $(seq 600); do
  [ -s "$disc" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$0: assentd exited before it was ready:" >&2
    tail -20 "$work/assentd.log" >&2
    exit 2
  fi
  sleep 0.05
done
addr=$(/usr/bin/python3 -c 'import json,sys; print(next(l["address"] for l in json.load(open(sys.argv[1]))["listeners"] if l["transport"] == "tcp"))' "$disc") || {
  echo "$0: no TCP listener in $disc" >&2
  exit 2
}
echo "assentd $("$ASSENTD" --version | head -1) on http://$addr (pid $pid)"

ASSENT_URL="http://$addr" ASSENT_TOKEN_ADMIN=${token[admin]} ASSENT_TOKEN_APPROVER=${token[approver]} \
  ASSENT_TOKEN_AGENT=${token[agent]} node scripts/openrpc-coverage.js
rc=$?
if [ $rc -ne 0 ]; then
  echo "--- assentd log (last 20 lines):"
  tail -20 "$work/assentd.log"
fi
exit $rc
