#!/usr/bin/env bash
# The README's run command: decodes a sample MQTT byte stream with the packet
# dissector. (Replaced by the pub/sub example against a local broker once the
# client lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
sample="10 1a 00 04 4d 51 54 54 04 02 00 3c 00 0e 72 65 61 64 6d 65 2d 65 78 61 6d 70 6c 65
32 12 00 0b 72 65 61 64 6d 65 2f 64 65 6d 6f 00 01 68 69
e0 00"
echo "$sample" | bazel run --ui_event_filters=-info,-stdout,-stderr --noshow_progress //tools:mqtt_dissect -- --v311
