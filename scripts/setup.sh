#!/usr/bin/env bash
# Installs what Assent needs on Debian 12 (as root), idempotently: Debian packages that
# are missing, then the npm tools of scripts/package.json from the committed lockfile.
# Quick when nothing is missing (one dpkg-query, no apt-get update).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  g++ cmake ninja-build pkg-config git curl ca-certificates
  libcpp-httplib-dev libssl-dev zlib1g-dev libbrotli-dev
  nlohmann-json3-dev libvalijson-dev libsodium-dev libsqlite3-dev sqlite3
  libgtest-dev googletest librapidcheck-dev libcli11-dev
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  python3 python3-pytest python3-pytest-timeout python3-jsonschema python3-nacl
  python3-requests
  wrk ccache
  prometheus
)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm: any install on PATH will do (the machine image may ship its own).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages and not root; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # We install tools, never services: `prometheus` is here only for `promtool check
  # metrics`, and its postinst would start a Prometheus server (and, without systemd,
  # fail the install when that does not work). A policy-rc.d that denies every start
  # stops both; an existing one (a container's) is left as it is.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Enabled units would start at the next boot: disable the one we just installed.
  if printf '%s\n' "${missing[@]}" | grep -qx prometheus && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
fi

# npm tools (OpenRPC validator), from the committed lockfile, only when stale.
if [ ! -d scripts/node_modules ] || [ scripts/package-lock.json -nt scripts/node_modules ]; then
  echo "setup: npm ci (scripts/)"
  npm ci --prefix scripts --no-audit --no-fund --loglevel=error >/dev/null
  touch scripts/node_modules
fi
echo "setup: ok"
