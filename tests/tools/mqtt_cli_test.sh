#!/usr/bin/env bash
# End-to-end test of the `mqtt` tool against a mosquitto it starts on a free
# loopback port (plain and TLS listeners, a password file): what `mqtt pub`
# sends, mosquitto_sub receives, and the other way round; --json; exit codes
# for --timeout, bad flags, an unreachable broker and bad credentials; TLS;
# WebSocket (through tests/peers/ws_peer.js, whose npm packages come from
# tools/setup.sh); bench; the progress line. Every command runs under `timeout`.
#   mqtt_cli_test.sh MQTT_BINARY TOOLS_LIB_DIR
set -uo pipefail

mqtt=$(realpath "$1")
lib=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
# shellcheck source=tests/tools/checks.sh
source "$(dirname "$0")/checks.sh"

for tool in mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd python3 openssl stdbuf script node; do
  command -v "$tool" >/dev/null || {
    echo "FAIL: $tool is not installed (bash tools/setup.sh installs them)" >&2
    exit 1
  }
done

# shellcheck source=tools/lib/private_broker.sh
source "$lib/private_broker.sh"
# shellcheck source=tools/lib/test_certs.sh
source "$lib/test_certs.sh"
# shellcheck source=tools/lib/ws_bridge.sh
source "$lib/ws_bridge.sh"
make_test_certs "$tmp/certs" || exit 1
mosquitto_passwd -c -b "$tmp/passwd" alice secret || exit 1
# Anonymous clients may only read cli-ro/# (an MQTT 5 publish there is
# refused with PUBACK Not authorized); alice may do anything.
printf '%s\n' "topic readwrite cli/#" "topic readwrite mqtt-bench/#" "topic readwrite a" \
  "topic read cli-ro/#" "user alice" "topic readwrite #" >"$tmp/acl"
# Anonymous clients are let in; a client that gives a user name must give
# the right password (so a bad password is refused).
# A Unix socket listener too (in a short folder: sun_path holds 107 bytes).
sock_dir=$(mktemp -d /tmp/mqtt-cli-XXXXXX)
on_exit rm -rf "$sock_dir"
broker_tls_dir="$tmp/certs" start_private_broker "password_file $tmp/passwd" "acl_file $tmp/acl" \
  "listener 0 $sock_dir/mqtt.sock" || exit 1
port=$broker_port

# run ARGS... : runs `mqtt ARGS` (bounded), sets $out, $err and $rc.
# Under --config=asan/ubsan/tsan a sanitizer report fails the check too.
run() {
  out=$(timeout 20 "$mqtt" "$@" 2>"$tmp/stderr")
  rc=$?
  err=$(cat "$tmp/stderr")
  if grep -qE "Sanitizer|runtime error:" <<<"$err"; then fail "sanitizer report from mqtt $*"; fi
}
expect_out() { [ "$out" == "$1" ] || fail "$2: stdout is not:"$'\n'"$1"; }
expect_err_re() { grep -qE -- "$1" <<<"$err" || fail "$2: stderr does not match /$1/"; }

# reap PID OUT ERR : waits for a background `mqtt`, sets $rc, $out and $err.
reap() {
  wait "$1"
  rc=$?
  out=$(cat "$2")
  err=$(cat "$3")
  if grep -qE "Sanitizer|runtime error:" <<<"$err"; then fail "sanitizer report from $2"; fi
}

# wait_for FILE PATTERN : until FILE has a line matching PATTERN (10 s at most).
wait_for() {
  for _ in $(seq 1 100); do
    grep -qE -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FAIL: timed out waiting for /$2/ in $1:" >&2
  cat "$1" >&2
  failures=$((failures + 1))
  return 1
}

# start_mosquitto_sub OUT COUNT ARGS... : a mosquitto_sub in the background
# that has its SUBACK when this returns; its pid in $msub_pid.
start_mosquitto_sub() {
  local file=$1 count=$2
  shift 2
  # Line-buffered: mosquitto_sub's stdout is a file here.
  timeout 20 stdbuf -oL mosquitto_sub -p "$port" -d -C "$count" "$@" >"$file" 2>&1 &
  msub_pid=$!
  wait_for "$file" "received SUBACK|Received SUBACK"
}

# --- mqtt pub -> mosquitto_sub: QoS 0/1/2, -f file, -D user property (MQTT 5) ---
t="pub to mosquitto_sub"
printf 'from a file\nsecond line\x01' >"$tmp/payload.bin"
start_mosquitto_sub "$tmp/msub.txt" 5 -V 5 -q 2 -t 'cli/pub/#' -F 'MSG %t|%q|%x|%P'
run pub -p "$port" -t cli/pub/q0 -m zero
expect_rc 0 "$t qos 0"
run pub -p "$port" -t cli/pub/q1 -m one -q 1
expect_rc 0 "$t qos 1"
run pub -p "$port" -t cli/pub/q2 -m two -q 2 -V 5
expect_rc 0 "$t qos 2"
run pub -p "$port" -t cli/pub/file -f "$tmp/payload.bin" -q 1
expect_rc 0 "$t -f"
run pub -p "$port" -t cli/pub/props -m props -V 5 -q 1 -D publish user-property colour blue \
  -D publish content-type text/plain
expect_rc 0 "$t -D"
wait "$msub_pid"
got=$(grep '^MSG ' "$tmp/msub.txt")
want="MSG cli/pub/q0|0|7a65726f|
MSG cli/pub/q1|1|6f6e65|
MSG cli/pub/q2|2|74776f|
MSG cli/pub/file|1|$(od -An -tx1 -v "$tmp/payload.bin" | tr -d ' \n')|
MSG cli/pub/props|1|70726f7073|colour:blue"
[ "$got" == "$want" ] || { out=$got; fail "$t: mosquitto_sub got other messages than:"$'\n'"$want"; }

# --- retained, then read back by a new subscriber ---
t="pub retained"
run pub -p "$port" -t cli/pub/retained -m kept -r -q 1
expect_rc 0 "$t"
out=$(timeout 10 mosquitto_sub -p "$port" -t cli/pub/retained -C 1 -F '%r|%p')
[ "$out" == "1|kept" ] || fail "$t: the retained message is not '1|kept'"

# --- --repeat and --json: one result per message ---
t="pub --repeat --json"
start_mosquitto_sub "$tmp/msub2.txt" 3 -t cli/pub/repeat -F 'MSG %p'
run pub -p "$port" -t cli/pub/repeat -m r -q 1 --repeat 3 --json
expect_rc 0 "$t"
[ "$(grep -c '"ok":true' <<<"$out")" -eq 3 ] || fail "$t: not 3 ok results"
python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <<<"$out" || fail "$t: not JSON lines"
wait "$msub_pid"
[ "$(grep -c '^MSG r$' "$tmp/msub2.txt")" -eq 3 ] || fail "$t: mosquitto_sub did not get 3 messages"

# --- mosquitto_pub -> mqtt sub --count N, text ---
t="mosquitto_pub to sub"
timeout 20 "$mqtt" sub -p "$port" -t 'cli/sub/#' -q 2 -C 4 -v -d >"$tmp/sub.txt" 2>"$tmp/sub.err" &
sub_pid=$!
wait_for "$tmp/sub.err" "subscribed to cli/sub/#"
mosquitto_pub -p "$port" -t cli/sub/a -m alpha
mosquitto_pub -p "$port" -t cli/sub/b -m beta -q 1
mosquitto_pub -p "$port" -t cli/sub/c -m 'gamma delta' -q 2
mosquitto_pub -p "$port" -t cli/sub/d -m last -q 1
reap "$sub_pid" "$tmp/sub.txt" "$tmp/sub.err"
expect_rc 0 "$t"
expect_out "cli/sub/a alpha
cli/sub/b beta
cli/sub/c gamma delta
cli/sub/d last" "$t"

# --- mosquitto_pub -> mqtt sub --json (MQTT 5: properties; binary payload) ---
t="mosquitto_pub to sub --json"
timeout 20 "$mqtt" sub -p "$port" -V 5 -t 'cli/json/#' -q 1 -C 3 --json -d >"$tmp/sub.json" 2>"$tmp/sub.err" &
sub_pid=$!
wait_for "$tmp/sub.err" "subscribed to cli/json/#"
mosquitto_pub -p "$port" -V 5 -t cli/json/a -m 'say "hi"' -q 1 -D publish user-property k v
printf '\x00\xff\x10' | mosquitto_pub -p "$port" -t cli/json/b -s
mosquitto_pub -p "$port" -t cli/json/c -m 'é' -q 1
reap "$sub_pid" "$tmp/sub.json" "$tmp/sub.err"
expect_rc 0 "$t"
python3 - "$tmp/sub.json" <<'EOF' || fail "$t: JSON lines not as expected"
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert len(msgs) == 3, msgs
a, b, c = msgs
assert a["topic"] == "cli/json/a" and a["qos"] == 1 and a["retain"] is False, a
assert a["payload"] == 'say "hi"', a
assert a["properties"]["user_properties"] == [{"key": "k", "value": "v"}], a
assert b["topic"] == "cli/json/b" and b["qos"] == 0 and b["payload_hex"] == "00ff10", b
assert "payload" not in b, b
assert c["payload"] == "é", c
EOF

# --- --timeout: before --count is reached (3), without --count (0) ---
t="sub --timeout before --count"
run sub -p "$port" -t cli/nothing -C 1 -W 0.5
expect_rc 3 "$t"
expect_err_re "timeout after 0 of 1 message" "$t"
t="sub --timeout without --count"
run sub -p "$port" -t cli/nothing -W 0.5
expect_rc 0 "$t"

# --- bad flags: exit 2 and a clear message, nothing sent ---
check_usage() {  # EXPECTED_STDERR_RE ARGS...
  local re=$1
  shift
  run "$@"
  expect_rc 2 "usage: mqtt $*"
  expect_err_re "$re" "usage: mqtt $*"
}
check_usage "unknown option --frobnicate" pub -p "$port" -t a -m x --frobnicate
check_usage "bad QoS \"3\"" pub -p "$port" -t a -m x -q 3
check_usage "no topic" pub -p "$port" -m x
check_usage "no message" pub -p "$port" -t a
check_usage "only one of" pub -p "$port" -t a -m x -n
check_usage "-D properties need MQTT 5" pub -p "$port" -t a -m x -D publish user-property a b
check_usage "not supported for subscribe" sub -p "$port" -t a -V 5 -D subscribe content-type x
check_usage "cannot read" pub -p "$port" -t a -f "$tmp/does-not-exist"
check_usage "bad value \"70000\" for -p" pub -p 70000 -t a -m x
check_usage "-t needs a value" sub -p "$port" -t
check_usage "no topic filter" sub -p "$port"
check_usage "unknown protocol version" sub -p "$port" -t a -V 7
check_usage "--url" pub --url 'http://x' -t a -m x
check_usage "unknown command" frobnicate
check_usage "unknown option" bench --frobnicate
run
expect_rc 2 "no command"
run --help
expect_rc 0 "--help"
expect_re "^  3  partial" "--help lists the exit codes"
run pub --help
expect_rc 0 "pub --help"

# --- refused connections: a clear message and exit 1 ---
t="nothing listening"
# A port that was free a moment ago (bound then released).
free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run pub -h 127.0.0.1 -p "$free_port" -t a -m x
expect_rc 1 "$t"
expect_err_re "cannot connect: .*Connection refused" "$t"
for v in 311 5; do
  t="bad password, MQTT $v"
  run pub -p "$port" -V "$v" -u alice -P wrong -t a -m x
  expect_rc 1 "$t"
  expect_err_re "connection refused by the broker: .*(Not authorized|Bad user name or password)" "$t"
  run sub -p "$port" -V "$v" -u alice -P wrong -t a -W 5
  expect_rc 1 "$t (sub)"
done
t="publish refused"
run pub -p "$port" -V 5 -q 1 -t cli-ro/x -m x --json
expect_rc 1 "$t"
expect_err_re "message 1 failed: rejected by the broker: PUBACK: Not authorized" "$t"
expect_re '"ok":false,"reason_code":"Not authorized"' "$t"
t="good password"
run pub -p "$port" -u alice -P secret -t a -m x
expect_rc 0 "$t"
t="URL with credentials"
run pub --url "mqtt://alice:secret@127.0.0.1:$port" -t a -m x
expect_rc 0 "$t"

# --- TLS: pub over TLS -> mosquitto_sub over TCP; a wrong CA is refused ---
t="TLS"
start_mosquitto_sub "$tmp/msub3.txt" 1 -t cli/tls -F 'MSG %p'
run pub -p "$broker_tls_port" --cafile "$tmp/certs/ca.crt" -t cli/tls -m secure -q 1
expect_rc 0 "$t"
wait "$msub_pid"
grep -qx 'MSG secure' "$tmp/msub3.txt" || fail "$t: mosquitto_sub did not get the TLS publish"
run pub --url "mqtts://localhost:$broker_tls_port" --cafile "$tmp/certs/ca.crt" -t cli/tls -m x
expect_rc 0 "$t (mqtts:// URL)"
run pub -p "$broker_tls_port" --cafile "$tmp/certs/other.crt" -t cli/tls -m x
expect_rc 1 "$t: untrusted CA"
expect_err_re "TLS|certificate" "$t: untrusted CA"
run pub -p "$broker_tls_port" --cafile "$tmp/certs/missing.crt" -t cli/tls -m x
expect_rc 2 "$t: missing CA file"

# --- WebSocket (ws://, through a WebSocket-to-TCP bridge in front of mosquitto,
# which Debian builds without WebSocket support) ---
t="WebSocket"
start_ws_bridge "$port" "$tmp/ws_bridge.log" || exit 1
start_mosquitto_sub "$tmp/msub4.txt" 1 -t cli/ws -F 'MSG %p'
run pub --url "ws://127.0.0.1:$ws_bridge_port/mqtt" -V 5 -t cli/ws -m websocket -q 1
expect_rc 0 "$t: pub"
wait "$msub_pid"
grep -qx 'MSG websocket' "$tmp/msub4.txt" || fail "$t: mosquitto_sub did not get the ws:// publish"
timeout 20 "$mqtt" sub --url "ws://127.0.0.1:$ws_bridge_port/mqtt" -t cli/ws2 -C 1 -d \
  >"$tmp/ws_sub.txt" 2>"$tmp/ws_sub.err" &
sub_pid=$!
wait_for "$tmp/ws_sub.err" "subscribed to cli/ws2"
mosquitto_pub -p "$port" -t cli/ws2 -m back
reap "$sub_pid" "$tmp/ws_sub.txt" "$tmp/ws_sub.err"
expect_rc 0 "$t: sub"
expect_out "back" "$t: sub"

# --- Unix domain socket: --unix and a unix:// URL ---
t="Unix socket"
start_mosquitto_sub "$tmp/msub5.txt" 2 -t cli/unix -F 'MSG %p'
run pub --unix "$sock_dir/mqtt.sock" -t cli/unix -m one -q 1
expect_rc 0 "$t: --unix"
run pub --url "unix://$sock_dir/mqtt.sock" -t cli/unix -m two -q 1
expect_rc 0 "$t: unix:// URL"
wait "$msub_pid"
[ "$(grep '^MSG' "$tmp/msub5.txt")" == $'MSG one\nMSG two' ] || fail "$t: mosquitto_sub did not get both"

# --- bench: a tiny bounded run, text and JSON; no progress line off a terminal ---
t="bench"
run bench -p "$port" -n 300 -s 32 -q 1 --timeout 20
expect_rc 0 "$t"
expect_re "^received  300 in [0-9.]+ s \([0-9]+ msg/s" "$t"
expect_re "^latency   p50 [0-9.]+ ms, p90 [0-9.]+ ms, p99 [0-9.]+ ms" "$t"
if grep -q $'\r' <<<"$err"; then fail "$t: a progress line although stderr is not a terminal"; fi
t="bench --json"
run bench -p "$port" -n 200 -q 2 -V 5 --json
expect_rc 0 "$t"
python3 - <<EOF || fail "$t: JSON not as expected"
import json
r = json.loads('''$out''')
assert r["sent"] == 200 and r["received"] == 200 and r["lost"] == 0, r
assert r["msg_per_s"] > 0 and r["latency_us"]["p50"] > 0, r
assert r["latency_us"]["p50"] <= r["latency_us"]["p99"] <= r["latency_us"]["max"], r
EOF

# --- the progress line on a terminal (script gives the run a pty) ---
t="progress on a terminal"
# 300 messages at 200/s: about 1.5 s, past the 1 s before the line shows.
timeout 20 script -qec "$mqtt bench -p $port -n 300 --rate 200" /dev/null >"$tmp/pty.txt" 2>&1
rc=$?
out=$(tr '\r' '\n' <"$tmp/pty.txt")
err=""
expect_rc 0 "$t"
expect_re "^mqtt bench [0-9]+/300 \([0-9]+%\) [0-9]+ msg/s, ETA [0-9]+s" "$t"
expect_re "^received  300 " "$t"

# --- sub --count to a file: the progress line on the terminal's stderr ---
t="sub progress"
timeout 20 script -qec "$mqtt sub -p $port -t cli/progress -C 3 -d >$tmp/progress.txt" /dev/null \
  >"$tmp/pty2.txt" 2>&1 &
sub_pid=$!
wait_for "$tmp/pty2.txt" "subscribed to cli/progress"
for m in 1 2 3; do
  mosquitto_pub -p "$port" -t cli/progress -m "$m"
  sleep 0.7  # past the 1 s before the line shows
done
wait "$sub_pid"
rc=$?
out=$(tr '\r' '\n' <"$tmp/pty2.txt")
err=""
expect_rc 0 "$t"
expect_re "^mqtt sub [123]/3 \([0-9]+%\) [0-9]+ msg/s, ETA [0-9]+s" "$t"
[ "$(cat "$tmp/progress.txt")" == $'1\n2\n3' ] || fail "$t: the file does not hold the 3 messages"

# --- the broker goes away (last: this stops it) ---
# pub, in the middle of a long paced run, ends with 1; sub rides it out
# (reconnecting) until its --timeout.
t="broker lost"
timeout 20 "$mqtt" pub -p "$port" -t cli/lost -m x -q 1 --repeat 100000 --rate 1000 -d \
  >"$tmp/lost_pub.txt" 2>"$tmp/lost_pub.err" &
pub_pid=$!
timeout 20 "$mqtt" sub -p "$port" -t cli/lost -W 4 -d >"$tmp/lost_sub.txt" 2>"$tmp/lost_sub.err" &
sub_pid=$!
wait_for "$tmp/lost_pub.err" "connected"
wait_for "$tmp/lost_sub.err" "subscribed to cli/lost"
sleep 0.3
stop_private_broker
reap "$pub_pid" "$tmp/lost_pub.txt" "$tmp/lost_pub.err"
expect_rc 1 "$t: pub"
expect_err_re "mqtt pub: (the broker closed the connection|cannot connect)" "$t: pub"
reap "$sub_pid" "$tmp/lost_sub.txt" "$tmp/lost_sub.err"
expect_rc 0 "$t: sub ends at --timeout"
expect_err_re "reconnecting" "$t: sub"
[ -s "$tmp/lost_sub.txt" ] || fail "$t: sub printed no message before the loss"

finish "mqtt tool"
