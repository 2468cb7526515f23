// Formatting for the MQTT packet dissector (//tools:mqtt_dissect): hex input
// parsing and human-readable / JSON rendering of decoded packets and errors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/error.h"
#include "mqtt/codec/packets.h"

namespace mqtt::dissect {

// Parses hex text into bytes. Tolerated: whitespace, newlines, commas, ';',
// ':' and a "0x"/"0X" prefix on a token. A token with a 0x prefix and a single
// digit ("0x1") is one byte; any other token must have an even number of digits
// ("10", "101f", "0x101f"). Returns std::nullopt and sets `*error` on bad input.
std::optional<std::vector<uint8_t>> parse_hex(std::string_view text, std::string* error);

struct FormatOptions {
  // Payloads (and other binary fields) longer than this are cut, with a note.
  // 0 means never truncate.
  size_t max_payload = 256;
};

// Where a decoded packet sits in the stream.
struct PacketInfo {
  size_t index = 0;   // 1-based packet number
  size_t offset = 0;  // stream offset of its first byte
  size_t size = 0;    // bytes, fixed header included
  uint8_t first_byte = 0;
  ProtocolVersion version = ProtocolVersion::V311;  // the version it was decoded with
};

// Multi-line text block, ending in a newline.
std::string format_text(const codec::Packet& p, const PacketInfo& info,
                        const FormatOptions& opts);
// One JSON object, no newline.
std::string format_json(const codec::Packet& p, const PacketInfo& info,
                        const FormatOptions& opts);

// "error: <to_string(e)> [CodecError::Name (n)] at byte offset N"
std::string format_error_text(codec::CodecError e, size_t offset);
std::string format_error_json(codec::CodecError e, size_t offset);

// The enumerator name, e.g. "MalformedRemainingLength"; "Unknown" otherwise.
std::string_view codec_error_name(codec::CodecError e);

// Bytes as lower-case hex without separators.
std::string to_hex(codec::Bytes b);
// A JSON string literal (with quotes) for `s`.
std::string json_quote(std::string_view s);

}  // namespace mqtt::dissect
