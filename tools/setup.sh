#!/usr/bin/env bash
# Installs what building and testing need on Debian 12, only when missing.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  bazel-bootstrap bazel-rules-java g++ clang lld libclang-rt-14-dev
  libssl-dev libwebsockets-dev libconcurrentqueue-dev libreaderwriterqueue-dev catch2
  mosquitto mosquitto-clients libmosquitto-dev libpaho-mqtt-dev
  socat openssl iproute2 procps ca-certificates tinyproxy microsocks
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian mosquitto package starts a system broker on port 1883; tests never
# use it (they start their own on free ports), so leave it as it is.
