#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts assentd on a temporary Unix
# socket and TCP port beside the mock Discord, and runs the whole story:
# an agent asks for a secret → a human approves on (mock) Discord → `assent run` injects
# the value into a child process, masked in its output.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
ROOT=$PWD

bash scripts/setup.sh
echo "demo: building assentd and assent (the first build takes a few minutes on 2 cores)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target assentd assent >/dev/null

work=$(mktemp -d /tmp/assent-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
json_get() { $PY -c "import json,sys;d=json.loads(open(sys.argv[1]).readline());print(eval('d'+sys.argv[2]))" "$@"; }

export ASSENT_HOME=$work/home
assent() { "$ROOT/build/assent" "$@"; }
APPROVER=1200000000000000001

step "1. The mock Discord (Discord's REST v10 wire format, signed interactions)"
$PY tools/mock-discord/mock_discord.py --port 0 >"$work/mock.json" 2>"$work/mock.log" &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$work/mock.json" ] && break; sleep 0.05; done
head -c 300 "$work/mock.json"; echo
control=$(json_get "$work/mock.json" "['control_url']")
json_get "$work/mock.json" "['bot_token']" >"$work/bot.token"
chmod 600 "$work/bot.token"
# The human on Discord: approves every new request 2 s after it is posted.
curl -sS -X POST -H 'Content-Type: application/json' "$control/behaviour" \
  -d "{\"auto\": \"approve\", \"after_ms\": 2000, \"user_id\": \"$APPROVER\"}" >/dev/null

step "2. assent init: config, data dir, master key, one token per role"
assent init --admin-token-file "$work/admin.token" --approver-token-file "$work/approver.token" 2>&1 |
  sed -E 's/(token[^:]*: *)[A-Za-z0-9_.~-]{16,}/\1<printed once, not shown here>/'

step "3. assentd on a Unix socket and an ephemeral TCP port, Discord approver on the mock"
"$ROOT/build/assent" serve --listen "unix:$ASSENT_HOME/data/run/assentd.sock" --listen tcp://127.0.0.1:0 \
  --validate-responses \
  --discord-api-base "$(json_get "$work/mock.json" "['base_url']")" \
  --discord-public-key "$(json_get "$work/mock.json" "['public_key']")" \
  --discord-bot-token-file "$work/bot.token" --discord-channel-id 1100000000000000001 \
  --discord-allow-user "$APPROVER" 2>"$work/assentd.log" &
pids+=($!)  # the process itself (not a subshell), so cleanup stops it
for _ in $(seq 1 300); do [ -s "$ASSENT_HOME/data/assentd.json" ] && break; sleep 0.05; done
cat "$ASSENT_HOME/data/assentd.json"
addr=$($PY -c "import json,sys;print([l['address'] for l in json.load(open(sys.argv[1]))['listeners'] if l['transport']=='tcp'][0])" "$ASSENT_HOME/data/assentd.json")
# The mock posts button clicks to the daemon's interactions endpoint.
curl -sS -X POST -H 'Content-Type: application/json' "$control/config" \
  -d "{\"interactions_url\": \"http://$addr/discord/interactions\"}" >/dev/null

step "4. The protocol: rpc.discover, and the wire contract enforced"
admin=$(cat "$work/admin.token")
curl -sS -H 'Assent-Api-Version: 1' -H 'Content-Type: application/json' -H "Authorization: Bearer $admin" \
  -d '{"jsonrpc":"2.0","method":"rpc.discover","id":1}' "http://$addr/rpc" |
  $PY -c "import json,sys;d=json.load(sys.stdin)['result'];print('OpenRPC', d['openrpc'], '-', d['info']['title'], d['info']['version'], '-', len(d['methods']), 'methods')"
curl -sS -w ' -> HTTP %{http_code}\n' -H 'Assent-Api-Version: 2' -H 'Content-Type: application/json' \
  -d '{}' "http://$addr/rpc"
curl -sS -w ' -> HTTP %{http_code}\n' -H 'Assent-Api-Version: 1' -H 'Content-Type: application/json' \
  -d '{"jsonrpc":"2.0","method":"system.ping","id":1}' "http://$addr/rpc"

step "5. The admin stores a secret (value from stdin, never argv)"
printf 'ghp_demo_%s' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" |
  assent --as admin secret add DEMO_TOKEN --description "demo API token"
assent --as admin secret list

step "6. The agent runs a command that needs it: request → approval on Discord → run"
echo "(the mock Discord's user $APPROVER clicks Approve 2 s after the message appears)"
set +e
assent run --secret DEMO_TOKEN=API_TOKEN --reason "demo: list repositories" -- \
  sh -c 'echo "child sees a token of ${#API_TOKEN} characters: $API_TOKEN"; exit 7'
rc=$?
set -e
echo "assent run exited $rc (the child's own exit status; the value above is masked)"

step "7. What Discord shows now (the message was updated, its buttons removed)"
curl -sS "$control/messages" | $PY -c "
import json, sys
data = json.load(sys.stdin)
msgs = data['messages'] if isinstance(data, dict) else data
for m in msgs:
    text = m.get('content') or ''
    for e in m.get('embeds') or []:
        text += ' | ' + (e.get('title') or '') + ' ' + (e.get('description') or '')
    print('message', m['id'], '- buttons left:', sum(len(r.get('components', [])) for r in m.get('components') or []))
    print('  ', text.replace(chr(10), ' ')[:300])
"

step "8. The evidence: grants and the tamper-evident audit log"
assent --as admin grants
assent --as admin audit verify
printf '\ndemo: done. The daemon log has %s lines and no secret in it: ' "$(wc -l <"$work/assentd.log")"
if grep -q ghp_demo "$work/assentd.log"; then echo "LEAK"; exit 1; else echo "checked"; fi
