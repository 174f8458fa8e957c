#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts assentd on a temporary Unix
# socket and TCP port beside the mock Discord, and shows the protocol at work.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3

bash scripts/setup.sh
echo "demo: building (first build takes a few minutes on 2 cores)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target assentd >/dev/null

work=$(mktemp -d /tmp/assent-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Tokens: one per role, stored by the daemon only as BLAKE2b-256 hashes"
$PY - "$work" <<'PYEOF'
import hashlib, json, secrets, sys
work = sys.argv[1]
tokens = {r: "demo-%s-%s" % (r, secrets.token_hex(16)) for r in ("admin", "approver", "agent")}
json.dump(tokens, open(work + "/plain-tokens.json", "w"))
json.dump({"version": 1, "tokens": [
    {"name": r + "-1", "role": r,
     "hash": "blake2b256:" + hashlib.blake2b(t.encode(), digest_size=32).hexdigest()}
    for r, t in tokens.items()]}, open(work + "/tokens.json", "w"), indent=1)
print(open(work + "/tokens.json").read())
PYEOF
admin=$($PY -c "import json,sys;print(json.load(open(sys.argv[1]))['admin'])" "$work/plain-tokens.json")

step "2. Mock Discord (speaks Discord's REST v10 wire format)"
$PY tools/mock-discord/mock_discord.py --port 0 >"$work/mock.json" 2>"$work/mock.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/mock.json" ] && break; sleep 0.05; done
cat "$work/mock.json"
mock_base=$($PY -c "import json,sys;print(json.loads(open(sys.argv[1]).readline())['base_url'])" "$work/mock.json")
mock_key=$($PY -c "import json,sys;print(json.loads(open(sys.argv[1]).readline())['public_key'])" "$work/mock.json")

step "3. assentd on a Unix socket and an ephemeral TCP port"
./build/assentd --data-dir "$work/data" --listen "unix:$work/data/run/assentd.sock" \
  --listen tcp://127.0.0.1:0 --tokens-file "$work/tokens.json" --validate-responses \
  --discord-api-base "$mock_base" --discord-public-key "$mock_key" 2>"$work/assentd.log" &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$work/data/assentd.json" ] && break; sleep 0.05; done
cat "$work/data/assentd.json"
addr=$($PY -c "import json,sys;print([l['address'] for l in json.load(open(sys.argv[1]))['listeners'] if l['transport']=='tcp'][0])" "$work/data/assentd.json")

rpc() {
  curl -sS -H 'Assent-Api-Version: 1' -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $admin" -d "$1" "http://$addr/rpc"
}

step "4. rpc.discover: the daemon serves the OpenRPC document it was built from"
rpc '{"jsonrpc":"2.0","method":"rpc.discover","id":1}' |
  $PY -c "import json,sys;d=json.load(sys.stdin)['result'];print('openrpc', d['openrpc'], '-', d['info']['title'], d['info']['version'], '-', len(d['methods']), 'methods:', ', '.join(m['name'] for m in d['methods']))"

step "5. system.ping over TCP (admin token) and over the Unix socket (no token = agent)"
rpc '{"jsonrpc":"2.0","method":"system.ping","id":2}'; echo
curl -sS --unix-socket "$work/data/run/assentd.sock" -H 'Assent-Api-Version: 1' \
  -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","method":"system.info","id":3}' http://assentd/rpc |
  $PY -c "import json,sys;r=json.load(sys.stdin)['result'];print('role over the socket:', r['role'], '| profiles:', r['profiles'], '| limits:', len(r['limits']))"

step "6. The wire contract is enforced: wrong API version, no token, bad params"
curl -sS -o /dev/stderr -w ' -> HTTP %{http_code}\n' -H 'Assent-Api-Version: 2' \
  -H 'Content-Type: application/json' -d '{}' "http://$addr/rpc" 2>&1
curl -sS -o /dev/stderr -w ' -> HTTP %{http_code}\n' -H 'Assent-Api-Version: 1' \
  -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","method":"system.ping","id":1}' "http://$addr/rpc" 2>&1
rpc '{"jsonrpc":"2.0","method":"client.hello","params":{"kind":"robot","name":"x"},"id":4}'; echo

if [ -x build/assent ] && [ -x scripts/demo-approval.sh ]; then
  step "7. request → approval on (mock) Discord → assent run"
  bash scripts/demo-approval.sh "$work" "$addr"
fi
printf '\ndemo: done (daemon log: %s lines, no secrets in it)\n' "$(wc -l <"$work/assentd.log")"
