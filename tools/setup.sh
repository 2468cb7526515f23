#!/usr/bin/env bash
# Installs what building and testing need on Debian 12, only when missing.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  bazel-bootstrap bazel-rules-java g++ clang lld libclang-rt-14-dev
  libssl-dev libwebsockets-dev libconcurrentqueue-dev libreaderwriterqueue-dev catch2
  mosquitto mosquitto-clients libmosquitto-dev libpaho-mqtt-dev
  socat openssl iproute2 procps ca-certificates tinyproxy microsocks
  nftables iptables lcov doxygen
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js and npm for the WebSocket MQTT peers (tests/peers/ws_peer.js). Any
# node >= 18 with its npm will do, so one already installed is kept: NodeSource's
# nodejs, for one, bundles npm and conflicts with Debian's npm package.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian mosquitto package starts a system broker on port 1883; tests never
# use it (they start their own on free ports), so leave it as it is.

# The npm packages pinned in tests/package.json and tests/package-lock.json
# (aedes, ws) go to tests/node_modules, where the tests find them beside the
# real path of tests/peers/ws_peer.js. `npm ci` runs only when the lock files
# (or node's version) differ from those of the last successful install, which
# a stamp inside node_modules records (npm ci deletes it first).
tests_dir="$(cd "$(dirname "$0")/../tests" && pwd)"
stamp="$tests_dir/node_modules/.setup-stamp"
want="$(cat "$tests_dir/package.json" "$tests_dir/package-lock.json" | sha256sum | cut -d' ' -f1) node $(node --version)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci in $tests_dir (WebSocket test peers)"
  (cd "$tests_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
fi
