#!/usr/bin/env bash
# Checks the protocol spec (spec/): OpenRPC validation with @open-rpc/schema-utils-js, then the
# pytest suite of tests/spec (draft-07 schemas, refs, examples, requirements, limits, negatives).
# Usage: bash scripts/spec-check.sh   (from anywhere; needs node/npm and Debian's python3-pytest,
# python3-jsonschema).
set -euo pipefail
cd "$(dirname "$0")/.."

# Install the npm tools only when node_modules is missing or older than the lockfile.
stamp=scripts/node_modules/.package-lock.json
if [ ! -d scripts/node_modules ] || [ ! -f "$stamp" ] || [ scripts/package-lock.json -nt "$stamp" ]; then
  npm ci --prefix scripts --no-audit --no-fund --loglevel=error
fi

node scripts/validate-openrpc.js
export PYTHONDONTWRITEBYTECODE=1  # leave no __pycache__ in the work tree
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/spec
