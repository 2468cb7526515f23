# Sourced by the scripts in tools/: throw-away certificates (see make_certs.sh).
#   make_test_certs DIR
# Writes DIR/ca.crt, DIR/server.crt and DIR/server.key (the server's
# subjectAltName is DNS:localhost, IP:127.0.0.1), and a client certificate.

make_test_certs() {
  local dir=$1
  mkdir -p "$dir"
  bash "$(dirname "${BASH_SOURCE[0]}")/make_certs.sh" "$dir" > "$dir/gen.log" 2>&1 || {
    echo "making certificates failed:" >&2
    cat "$dir/gen.log" >&2
    return 1
  }
}
