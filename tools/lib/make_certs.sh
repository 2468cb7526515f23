#!/usr/bin/env bash
# Throw-away certificates for tests and benchmarks (EC P-256), made with the
# openssl CLI in DIR:
#   ca.crt/ca.key          "Test CA"
#   server.crt/server.key  CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1, by the CA
#   client.crt/client.key  CN=test-client, by the CA
#   other.crt/other.key    "Other CA", unrelated
# Usage: make_certs.sh DIR   (used by tools/lib/test_certs.sh and
# tests/integration/support/certs.cc)
set -euo pipefail
mkdir -p "$1"
cd "$1"
k() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
k ca.key
openssl req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=Test CA"
k other.key
openssl req -x509 -new -key other.key -out other.crt -days 3650 -subj "/CN=Other CA"
k server.key
openssl req -new -key server.key -out server.csr -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
  -days 365 -extfile server.ext
k client.key
openssl req -new -key client.key -out client.csr -subj "/CN=test-client"
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 365
