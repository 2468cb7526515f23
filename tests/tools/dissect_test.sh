#!/usr/bin/env bash
# End-to-end test of the MQTT packet dissector: feeds it known packets (valid,
# malformed, truncated) and checks what it prints and its exit status.
#   dissect_test.sh COMMAND...   e.g. `mqtt_dissect` or `mqtt dissect`
set -uo pipefail

dissect=("$@")
tmp=${TEST_TMPDIR:-$(mktemp -d)}
# shellcheck source=tests/tools/checks.sh
source "$(dirname "$0")/checks.sh"

# run [ARGS...] <<< HEX : runs the dissector, sets $out, $err and $rc.
run() {
  out=$("${dissect[@]}" "$@" 2>"$tmp/stderr")
  rc=$?
  err=$(cat "$tmp/stderr")
}
expect_line() {  # exact line (leading/trailing spaces included)
  grep -qxF -- "$1" <<<"$out" || fail "$2: no line '$1'"
}
expect_no() {
  if grep -qF -- "$1" <<<"$out"; then fail "$2: unexpected '$1'"; fi
}

# --- CONNECT, MQTT 3.1.1, plain hex on stdin ---
t="connect 3.1.1"
run <<<"10 10 00 04 4d 51 54 54 04 02 00 3c 00 04 74 65 73 74"
expect_rc 0 "$t"
expect_line "#1 CONNECT  offset 0, 18 bytes, first byte 0x10 (flags 0x00), MQTT 3.1.1" "$t"
expect_line "  protocol_version: MQTT 3.1.1 (0x04)" "$t"
expect_line '  client_id: "test"' "$t"
expect_line "  clean_start: true" "$t"
expect_line "  keep_alive: 60" "$t"
expect_line "  username: (none)" "$t"
expect_line "  will: (none)" "$t"
expect_no "properties" "$t"

# --- PUBLISH QoS 1, hex with 0x prefixes, commas and newlines ---
t="publish qos1"
run <<<"0x32, 0x0c, 0x00, 0x03, 0x61, 0x2f, 0x62,
0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f"
expect_rc 0 "$t"
expect_line "#1 PUBLISH  offset 0, 14 bytes, first byte 0x32 (flags 0x02), MQTT 3.1.1" "$t"
expect_line "  dup: false" "$t"
expect_line "  qos: QoS 1 (at least once)" "$t"
expect_line "  retain: false" "$t"
expect_line '  topic: "a/b"' "$t"
expect_line "  packet_id: 5" "$t"
expect_line '  payload: "hello" (5 bytes)' "$t"

# --- binary payload shown as hex; several packets; offsets ---
t="binary payload, stream"
run <<<"c000 30 06 0001 74 00ff01 e000"
expect_rc 0 "$t"
expect_line "#1 PINGREQ  offset 0, 2 bytes, first byte 0xc0 (flags 0x00), MQTT 3.1.1" "$t"
expect_line "#2 PUBLISH  offset 2, 8 bytes, first byte 0x30 (flags 0x00), MQTT 3.1.1" "$t"
expect_line "  payload: hex 00ff01 (3 bytes)" "$t"
expect_line "#3 DISCONNECT  offset 10, 2 bytes, first byte 0xe0 (flags 0x00), MQTT 3.1.1" "$t"

# --- long payload is truncated with a note ---
t="truncation"
run --max-payload 4 <<<"30 0b 0001 74 6162636465666768"
expect_rc 0 "$t"
expect_line '  payload: "abcd" (8 bytes, truncated: first 4 shown, 4 more)' "$t"

# --- malformed: remaining length of 5 bytes after a good PINGREQ ---
t="malformed remaining length"
run <<<"c0 00 30 ff ff ff ff 7f"
expect_rc 1 "$t"
expect_line "#1 PINGREQ  offset 0, 2 bytes, first byte 0xc0 (flags 0x00), MQTT 3.1.1" "$t"
expect_re "^error: remaining length longer than 4 bytes \[CodecError::MalformedRemainingLength \(1\)\] at byte offset 3 \(in the packet starting at offset 2\)$" "$t"

# --- malformed: QoS 3 PUBLISH, as JSON ---
t="invalid qos json"
run --json <<<"36 05 0001 74 0001"
expect_rc 1 "$t"
expect_re '^\{"error":"invalid QoS \(3\)","code":"InvalidQoS","value":5,"offset":0\}$' "$t"

# --- MQTT 5 PUBLISH with properties, JSON ---
t="v5 publish json"
run --v5 --json <<<"32 23 0003 612f62 0005 19 0101 230001 03000a746578742f706c61696e 26 0001 6b 0001 76 6869"
expect_rc 0 "$t"
expect_re '^\{"index":1,"offset":0,"size":37,"type":"PUBLISH","flags":2,"version":"5",' "$t"
expect_re '"properties":\{"payload_format_indicator":1,"content_type":"text/plain","topic_alias":1,"user_property":\[\{"key":"k","value":"v"\}\]\}' "$t"
expect_re '"payload":\{"size":2,"text":"hi"\}\}$' "$t"
if command -v python3 >/dev/null; then
  python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' <<<"$out" || fail "$t: not JSON"
fi

# --- the same as text: properties by name ---
t="v5 publish text"
run --version 5 <<<"32 23 0003 612f62 0005 19 0101 230001 03000a746578742f706c61696e 26 0001 6b 0001 76 6869"
expect_rc 0 "$t"
expect_line "  properties:" "$t"
expect_line "    Payload Format Indicator (0x01): 1" "$t"
expect_line '    Content Type (0x03): "text/plain"' "$t"
expect_line "    Topic Alias (0x23): 1" "$t"
expect_line '    User Property (0x26): "k" = "v"' "$t"

# --- the same bytes as 3.1.1 are a different packet: properties are payload ---
t="v5 bytes read as 3.1.1"
run --v311 <<<"32 23 0003 612f62 0005 19 0101 230001 03000a746578742f706c61696e 26 0001 6b 0001 76 6869"
expect_rc 0 "$t"
expect_no "properties" "$t"
expect_re "^  payload: hex 1901012300010300" "$t"

# --- a v5 CONNECT is shown as v5; without --v311/--v5 the stream follows it ---
t="v5 connect follows"
run <<<"10 19 00044d515454 05 02 003c 08 11 0000001e 21 0014 0004 74657374 e0 02 04 00"
expect_rc 0 "$t"
expect_line "#1 CONNECT  offset 0, 27 bytes, first byte 0x10 (flags 0x00), MQTT 5" "$t"
expect_line "  protocol_version: MQTT 5 (0x05)" "$t"
expect_line "    Session Expiry Interval (0x11): 30" "$t"
expect_line "    Receive Maximum (0x21): 20" "$t"
expect_line "  reason_code: Disconnect with Will Message (0x04)" "$t"

# --- ... but an explicit --v311 is kept: the v5 DISCONNECT is then malformed ---
t="explicit version kept"
run --v311 <<<"10 19 00044d515454 05 02 003c 08 11 0000001e 21 0014 0004 74657374 e0 02 04 00"
expect_rc 1 "$t"
expect_line "#1 CONNECT  offset 0, 27 bytes, first byte 0x10 (flags 0x00), MQTT 5" "$t"
expect_line "error: bytes left over after the last field of the packet [CodecError::TrailingBytes (7)] at byte offset 29 (in the packet starting at offset 27)" "$t"

# --- SUBSCRIBE / SUBACK 3.1.1 ---
t="subscribe"
run <<<"82 0c 000a 0003 612f2b 01 0001 23 02 90 05 000a 01 02 80"
expect_rc 0 "$t"
expect_line "  subscriptions: (2)" "$t"
expect_line '      filter: "a/+"' "$t"
expect_line "      qos: QoS 2 (exactly once)" "$t"
expect_line "  reason_codes: (3)" "$t"
expect_line "    [2]: Unspecified error (0x80)" "$t"

# --- truncated input ---
t="incomplete"
run <<<"c0 00 30 0c 00 05"
expect_rc 3 "$t"
expect_line "incomplete: the last 4 byte(s), from offset 2, do not form a whole packet" "$t"

# --- binary file ---
t="binary file"
printf '\xc0\x00\xd0\x00' >"$tmp/in.bin"
run --file "$tmp/in.bin" --json
expect_rc 0 "$t"
expect_line '{"index":1,"offset":0,"size":2,"type":"PINGREQ","flags":0,"version":"3.1.1"}' "$t"
expect_line '{"index":2,"offset":2,"size":2,"type":"PINGRESP","flags":0,"version":"3.1.1"}' "$t"

# --- hex file ---
t="hex file"
printf 'e0 00\n' >"$tmp/in.hex"
run --hex-file "$tmp/in.hex"
expect_rc 0 "$t"
expect_line "#1 DISCONNECT  offset 0, 2 bytes, first byte 0xe0 (flags 0x00), MQTT 3.1.1" "$t"

# --- bad input and usage ---
t="bad hex"
run <<<"c0 0g"
expect_rc 2 "$t"
t="odd hex"
run <<<"c0 0"
expect_rc 2 "$t"
t="unknown option"
run --frobnicate </dev/null
expect_rc 2 "$t"
t="missing file"
run --file "$tmp/does-not-exist"
expect_rc 2 "$t"

finish dissector
