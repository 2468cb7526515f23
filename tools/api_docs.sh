#!/usr/bin/env bash
# Builds the API reference (HTML) from the comments of the public headers into
# out/api/html, with docs/Doxyfile. Fails on any doxygen warning, such as an
# undocumented public entity. Installs doxygen with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v doxygen >/dev/null 2>&1; then
  echo "api_docs: installing doxygen"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends doxygen >/dev/null
fi

mkdir -p out/api
log="out/api/warnings.log"
doxygen docs/Doxyfile 2>"$log" || true
if [ -s "$log" ]; then
  cat "$log" >&2
  echo "api_docs: FAILED, $(wc -l <"$log") doxygen warning(s) above (also in $log)" >&2
  exit 1
fi
echo "api_docs: API reference in $(pwd)/out/api/html/index.html"
