#!/usr/bin/env bash
# Writes the seed corpus of //tests/fuzz:session_fuzz: one file per script,
# the first byte being the session configuration (see session_fuzz.cc), then
# operations: 01 broker packet, 02 publish, 03 subscribe, 04 unsubscribe,
# 05 manual ack, 06 time, 07 write output, 08 reconnect, 09 connection lost,
# 0a disconnect, 0b pause input, 0c fail_all; 00 LEN BYTES raw broker bytes.
#
#   tests/fuzz/make_session_corpus.sh [OUTDIR]   (default: tests/fuzz/session_corpus)
set -euo pipefail
out=${1:-"$(dirname "$0")/session_corpus"}
mkdir -p "$out"

# shellcheck source=tests/fuzz/seed.sh
. "$(dirname "$0")/seed.sh"

# Configuration: 78 = 3.1.1, max_inflight 100, 1 MiB limit, keep alive 5 s;
# 79 = the same on MQTT 5; 7a/7b with manual acks; 6x/1x smaller limits.
for cfg in 78 79; do
  v=v311
  [ "$cfg" = 79 ] && v=v5
  # QoS 1 out: PUBLISH written, PUBACK for it.
  seed ${v}_qos1_out $cfg 02 04 03 07 0000 01 01 00 00 00 0c
  # QoS 2 out: PUBREC byte by byte, PUBREL written, PUBCOMP.
  seed ${v}_qos2_out $cfg 02 05 03 07 0000 01 02 00 00 01 07 0000 01 03 00 00 0c
  # QoS 2 in: PUBLISH id 5, PUBREC written, PUBREL, PUBCOMP written.
  seed ${v}_qos2_in $cfg 01 07 02 05 04 00 07 0000 01 04 00 00 07 0000 0c
  # SUBSCRIBE/SUBACK, UNSUBSCRIBE/UNSUBACK.
  seed ${v}_subscribe $cfg 03 80 07 0000 01 05 00 00 00 04 80 07 0000 01 06 00 00 07 0000 0c
  # In flight, reconnect, session present 1 (resend with DUP), PUBACK.
  seed ${v}_resume $cfg 02 04 01 07 0000 08 01 00 01 00 07 0000 01 01 00 00 00 0c
  # In flight, reconnect, session present 0 (tokens fail with SessionReset).
  seed ${v}_reset $cfg 02 04 01 02 05 01 07 0000 08 01 00 00 00 07 0000 0c
  # Keep alive: PINGREQ due, PINGRESP; then a ping timeout.
  seed ${v}_keepalive $cfg 06 01 07 0000 01 08 00 00 06 01 07 0000 06 01 06 01 0c
  # Raw bytes: a valid PUBLISH, then a Remaining Length with a 5th byte.
  seed ${v}_raw $cfg 00 07 30050001746869 00 06 30ffffffff7f 0c
  # Graceful disconnect waiting for the PUBACK.
  seed ${v}_disconnect $cfg 02 04 01 07 0000 0a 01 05 07 0000 01 01 00 00 00 07 0000 0c
  # A PUBLISH of 16 bytes dripped one byte at a time.
  seed ${v}_drip $cfg 01 07 10 10 01 07 0000 0c
  # Input paused across the ping deadline.
  seed ${v}_paused $cfg 06 01 07 0000 0b 01 06 01 06 01 0b 00 06 01 0c
  # Connection lost with output unwritten, reconnect later.
  seed ${v}_lost $cfg 02 04 01 03 80 09 06 10 08 01 00 01 00 07 0000 0c
done
# Manual acks: an incoming QoS 1 (id 3), acked by the application.
seed v311_manual_ack 7a 01 07 01 03 02 00 05 00 07 0000 0c
seed v5_manual_ack 7b 01 07 01 03 02 00 05 00 07 0000 01 07 02 04 02 00 05 00 07 0000 0c
# MQTT 5: CONNACK with Receive Maximum 2, Maximum Packet Size 80 and Topic
# Alias Maximum 2 after a reconnect; a publish with Topic Alias 1.
seed v5_connack_props 79 08 01 00 1c 10 00 07 0000 02 44 05 07 0000 0c
# MQTT 5: DISCONNECT from the broker; AUTH without enhanced auth.
seed v5_broker_disconnect 79 02 04 01 07 0000 01 09 01 00 08 01 0a 00 00 0c
# Small limits: max_inflight 1 and a 32-byte incoming limit.
seed v311_small 00 02 04 01 02 04 01 07 0000 01 07 00 40 00 0c
seed v5_small 01 02 04 01 02 04 01 07 0000 01 01 00 00 00 07 0000 01 07 00 40 00 0c
