#!/bin/sh
# Runs the conformance suite against the reference daemon built in BUILD_DIR.
#   conformance/run-reference.sh BUILD_DIR [extra pytest options, e.g. --select rpc/]
# Reports go to $CONFORMANCE_REPORT_DIR (default conformance/reports).
# Exit status: the suite's verdict (0 pass; pytest's 5 "no tests ran" becomes 1).
set -u
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [pytest options]" >&2
  exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=$(cd "$1" 2>/dev/null && pwd) || { echo "$0: no directory $1" >&2; exit 2; }
shift
ASSENTD="$BUILD_DIR/assentd"
if [ ! -x "$ASSENTD" ]; then
  echo "$0: $ASSENTD is missing; build it first (ninja -C $BUILD_DIR assentd)" >&2
  exit 2
fi
REPORT_DIR=${CONFORMANCE_REPORT_DIR:-$HERE/reports}
cd "$HERE/.." || exit 2
/usr/bin/python3 -m pytest -q -p no:cacheprovider conformance \
  --launch "$ASSENTD --data-dir {data_dir} --listen tcp://127.0.0.1:0 --listen unix:{unix_socket} --tokens-file {tokens_file} --validate-responses --heartbeat-s {heartbeat_s} --timeout-interactive-s {timeout_interactive_s} --timeout-unattended-s {timeout_unattended_s} --discord-api-base {discord_url} --discord-public-key {discord_public_key} --discord-bot-token-file {discord_bot_token_file} --discord-channel-id {discord_channel_id} --discord-allow-user {discord_allow_user} --discord-allow-user {discord_allow_user2} --event-retention-count-max {event_retention_count_max} --event-retention-s {event_retention_s}" \
  --known-failures conformance/known-failures/assentd.json \
  --report-dir "$REPORT_DIR" "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "$0: no conformance case ran" >&2
  exit 1
fi
exit $rc
