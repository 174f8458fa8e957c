#!/usr/bin/env bash
# Benchmark: system.ping over TCP against assentd (params validation, response
# validation and bearer auth on) beside a bare cpp-httplib ping server built the same way,
# with wrk at 32 and 256 connections. Prints req/s, p50, p99, connections that never got
# an answer (wrk timeouts + connect errors), and the ratio assentd / bare.
# Usage: bench/ping.sh [SECONDS per run, default 10]
# Targets (issue 2): ratio >= 0.9 at 32 connections, p99 <= 3 ms, no starved connection.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target assentd bare_ping_server >/dev/null
command -v wrk >/dev/null || { echo "bench: wrk missing (apt-get install wrk)" >&2; exit 2; }
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
token=bench-token-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
hash=$(/usr/bin/python3 -c "import hashlib,sys;print(hashlib.blake2b(sys.argv[1].encode(),digest_size=32).hexdigest())" "$token")
echo "{\"version\":1,\"tokens\":[{\"name\":\"bench\",\"role\":\"agent\",\"hash\":\"blake2b256:$hash\"}]}" >"$work/tokens.json"
build/assentd --data-dir "$work/data" --listen tcp://127.0.0.1:0 --tokens-file "$work/tokens.json" \
  --validate-responses --log-level warn 2>"$work/assentd.log" &
pids+=($!)
build/bare_ping_server "$work/bare.port" &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$work/data/assentd.json" ] && [ -s "$work/bare.port" ] && break; sleep 0.05; done
assentd_addr=$(/usr/bin/python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['listeners'][0]['address'])" "$work/data/assentd.json")
bare_addr=127.0.0.1:$(cat "$work/bare.port")

run() {  # name addr conns
  TOKEN=$token wrk -t2 -c"$3" -d"${secs}s" --timeout 2s -s bench/ping.lua "http://$2/rpc" 2>&1 | grep RESULT | sed "s/RESULT/$1 c=$3/"
}
for c in 32 256; do
  b=$(run bare "$bare_addr" "$c")
  a=$(run assentd "$assentd_addr" "$c")
  echo "$b"
  echo "$a"
  /usr/bin/python3 - "$a" "$b" "$c" <<'PY'
import re, sys
a, b, c = sys.argv[1], sys.argv[2], sys.argv[3]
get = lambda s, k: float(re.search(k + r"=([0-9.]+)", s).group(1))
ratio = get(a, "rps") / get(b, "rps")
starved = int(get(a, "timeouts") + get(a, "connect_errors"))
line = "summary c=%s: assentd/bare = %.2f, assentd p99 = %.2f ms, starved connections = %d" % (c, ratio, get(a, "p99_ms"), starved)
if c == "32":
    line += "  [targets: ratio >= 0.9 %s, p99 <= 3 ms %s, starved = 0 %s]" % (
        "met" if ratio >= 0.9 else "MISSED", "met" if get(a, "p99_ms") <= 3 else "MISSED",
        "met" if starved == 0 else "MISSED")
print(line)
PY
done
