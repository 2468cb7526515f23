#!/usr/bin/env bash
# Writes the seed corpus of //tests/fuzz:decoder_fuzz: one file per input, the
# first byte being the fuzzer's configuration byte (bit 0: 0 = MQTT 3.1.1,
# 1 = MQTT 5; bits 1..3: max_packet_size index), then valid MQTT packets.
#
#   tests/fuzz/make_corpus.sh [OUTDIR]    (default: tests/fuzz/corpus)
set -euo pipefail
out=${1:-"$(dirname "$0")/corpus"}
mkdir -p "$out"

# shellcheck source=tests/fuzz/seed.sh
. "$(dirname "$0")/seed.sh"

# --- MQTT 3.1.1 (configuration byte 00) ---
seed v311_connect 00 10 10 00044d515454 04 02 003c 0004 74657374
seed v311_connect_will_user 00 10 1e 00044d515454 04 ce 003c 0002 6331 0003 772f74 0003 627965 0001 75 0001 70
seed v311_connack 00 20 02 00 00
seed v311_connack_refused 00 20 02 00 05
seed v311_publish_qos0 00 30 0c 0005 612f622f63 68656c6c6f
seed v311_publish_qos1_dup_retain 00 3b 08 0001 74 0001 0102ff
seed v311_publish_qos2 00 34 07 0001 74 0002 6869
seed v311_acks 00 40 02 0001 50 02 0002 62 02 0002 70 02 0002
seed v311_subscribe 00 82 0c 000a 0003 612f2b 01 0001 23 02
seed v311_suback 00 90 05 000a 01 02 80
seed v311_unsubscribe 00 a2 07 000b 0003 612f62
seed v311_unsuback 00 b0 02 000b
seed v311_ping_disconnect 00 c0 00 d0 00 e0 00
seed v311_session 00 10 10 00044d515454 04 02 003c 0004 74657374 30 0c 0005 612f622f63 68656c6c6f c0 00 e0 00
# the same PUBLISH with max_packet_size 16 (index 3) and 5 (index 2)
seed v311_publish_max16 06 30 0c 0005 612f622f63 68656c6c6f
seed v311_publish_max5 04 30 0c 0005 612f622f63 68656c6c6f
# two-byte remaining length: 200-byte payload
seed v311_publish_long 00 30 cb01 0001 74 "$(printf '78%.0s' $(seq 200))"

# --- MQTT 5 (configuration byte 01) ---
seed v5_connect_props 01 10 19 00044d515454 05 02 003c 08 11 0000001e 21 0014 0004 74657374
seed v5_connect_will 01 10 1a 00044d515454 05 0e 003c 00 0000 05 18 0000000a 0001 77 0002 6869
seed v5_connack_props 01 20 0a 00 00 07 2401 2501 22000a
seed v5_publish_props 01 32 23 0003 612f62 0005 19 0101 230001 03000a746578742f706c61696e 26 0001 6b 0001 76 6869
seed v5_publish_alias 01 30 07 0000 03 230002 78
seed v5_puback_reason 01 40 08 0001 10 04 1f 0001 72
seed v5_acks_short 01 50 02 0001 62 03 0001 92 70 03 0001 00
seed v5_subscribe 01 82 18 0001 02 0b05 0003 612f23 1d 000a 247368617265 2f672f78 02
seed v5_suback 01 90 05 0001 00 0102
seed v5_unsubscribe 01 a2 08 0002 00 0003 612f62
seed v5_unsuback 01 b0 05 0002 00 0011
seed v5_disconnect_will 01 e0 02 04 00
seed v5_auth 01 f0 0f 18 0d 15 0005 5343524 14d 16 0002 abcd
seed v5_session 01 10 19 00044d515454 05 02 003c 08 11 0000001e 21 0014 0004 74657374 30 07 0000 03 230002 78 c0 00 e0 00
# a v5 CONNECT in a 3.1.1-configured stream (CONNECT carries its own version)
seed v311_stream_v5_connect 00 10 19 00044d515454 05 02 003c 08 11 0000001e 21 0014 0004 74657374

# --- malformed, to seed the error paths ---
seed bad_remaining_length 00 30 ffffffff7f
seed bad_utf8_topic 00 30 06 0002 c328 6869
