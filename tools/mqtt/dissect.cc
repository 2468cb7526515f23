// mqtt dissect: decodes a stream of MQTT packets and prints every field
// (docs/dissector.md). Also built alone as //tools:mqtt_dissect.
//
//   echo "c0 00 d0 00" | mqtt dissect            hex on standard input
//   mqtt dissect --file capture.bin --v5         raw bytes from a file
//   mqtt dissect --hex-file dump.txt --json      one JSON object per line
//
// Exit status: 0 all input decoded, 1 decode error (CodecError printed with the
// stream offset), 2 bad usage or unreadable input, 3 input ends inside a packet
// (the tool's codes: failure, usage, partial).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/codec/decoder.h"
#include "tools/dissect/format.h"
#include "tools/mqtt/commands.h"
#include "tools/mqtt/exit_codes.h"

namespace mqtt::cli {

namespace {

constexpr int kExitDecodeError = kExitFailure;
constexpr int kExitIncomplete = kExitPartial;

void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: mqtt dissect [options] [HEX...]\n"
               "Decodes MQTT packets and prints every field.\n"
               "Input (default: hex text on standard input; whitespace, newlines, commas\n"
               "and 0x prefixes are ignored):\n"
               "  HEX...               hex bytes given as arguments\n"
               "  --file PATH          raw binary bytes from PATH\n"
               "  --hex-file PATH      hex text from PATH\n"
               "Protocol (default 3.1.1; a CONNECT is always decoded with the version it\n"
               "announces, and without an explicit option later packets follow it):\n"
               "  --v311 | --v5 | --version 3.1.1|5\n"
               "Output:\n"
               "  --json               one JSON object per packet per line (and one for an error)\n"
               "  --max-payload N      show at most N bytes of a payload (default 256, 0 = all)\n"
               "  --max-packet-size N  reject packets larger than N bytes (PacketTooLarge)\n"
               "Exit status: 0 ok, 1 decode error, 2 usage/input error, 3 truncated packet.\n");
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

int dissect_main(int argc, char** argv) {
  std::optional<ProtocolVersion> version;
  std::optional<std::string> file, hex_file;
  std::string hex_args;
  bool json = false;
  dissect::FormatOptions fopts;
  codec::DecodeOptions dopts;

  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> std::optional<std::string> {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "mqtt dissect: %.*s needs a value\n", static_cast<int>(name.size()),
                     name.data());
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    if (a == "-h" || a == "--help") {
      usage(stdout);
      return kExitOk;
    } else if (a == "--v5" || a == "-5") {
      version = ProtocolVersion::V5;
    } else if (a == "--v311" || a == "-3") {
      version = ProtocolVersion::V311;
    } else if (a == "--version") {
      auto v = value(a);
      if (!v) return kExitUsage;
      if (*v == "5" || *v == "5.0") {
        version = ProtocolVersion::V5;
      } else if (*v == "3.1.1" || *v == "311" || *v == "4") {
        version = ProtocolVersion::V311;
      } else {
        std::fprintf(stderr, "mqtt dissect: unknown version \"%s\" (use 5 or 3.1.1)\n", v->c_str());
        return kExitUsage;
      }
    } else if (a == "--file") {
      file = value(a);
      if (!file) return kExitUsage;
    } else if (a == "--hex-file") {
      hex_file = value(a);
      if (!hex_file) return kExitUsage;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--max-payload" || a == "--max-packet-size") {
      auto v = value(a);
      if (!v) return kExitUsage;
      auto n = parse_uint(*v);
      if (!n || (a == "--max-packet-size" && (*n == 0 || *n > 268435460u))) {
        std::fprintf(stderr, "mqtt dissect: bad value \"%s\" for %s\n", v->c_str(), argv[i - 1]);
        return kExitUsage;
      }
      if (a == "--max-payload") {
        fopts.max_payload = static_cast<size_t>(*n);
      } else {
        dopts.max_packet_size = static_cast<uint32_t>(*n);
      }
    } else if (a.size() > 1 && a[0] == '-') {
      std::fprintf(stderr, "mqtt dissect: unknown option %s\n", argv[i]);
      usage(stderr);
      return kExitUsage;
    } else {
      hex_args += a;
      hex_args += ' ';
    }
  }
  if ((file ? 1 : 0) + (hex_file ? 1 : 0) + (hex_args.empty() ? 0 : 1) > 1) {
    std::fprintf(stderr, "mqtt dissect: give only one of --file, --hex-file and HEX arguments\n");
    return kExitUsage;
  }

  // Read the input.
  std::vector<uint8_t> bytes;
  if (file) {
    std::string raw;
    if (!read_file(*file, raw)) {
      std::fprintf(stderr, "mqtt dissect: cannot read %s: %s\n", file->c_str(), std::strerror(errno));
      return kExitUsage;
    }
    bytes.assign(raw.begin(), raw.end());
  } else {
    std::string text;
    if (hex_file) {
      if (!read_file(*hex_file, text)) {
        std::fprintf(stderr, "mqtt dissect: cannot read %s: %s\n", hex_file->c_str(),
                     std::strerror(errno));
        return kExitUsage;
      }
    } else if (!hex_args.empty()) {
      text = hex_args;
    } else {
      std::ostringstream ss;
      ss << std::cin.rdbuf();
      text = ss.str();
    }
    std::string err;
    auto parsed = dissect::parse_hex(text, &err);
    if (!parsed) {
      std::fprintf(stderr, "mqtt dissect: bad hex input: %s\n", err.c_str());
      return kExitUsage;
    }
    bytes = std::move(*parsed);
  }

  dopts.version = version.value_or(ProtocolVersion::V311);
  const bool follow_connect = !version.has_value();
  codec::StreamDecoder dec(dopts);
  dec.feed(bytes);

  size_t offset = 0;
  size_t index = 0;
  codec::Packet packet;
  for (;;) {
    codec::DecodeResult r = dec.next(packet);
    if (r.status == codec::DecodeStatus::Ok) {
      dissect::PacketInfo info;
      info.index = ++index;
      info.offset = offset;
      info.size = r.consumed;
      info.first_byte = bytes[offset];
      info.version = dec.options().version;
      if (const auto* c = std::get_if<codec::Connect>(&packet)) {
        info.version = c->protocol_version;
        if (follow_connect) dec.set_version(c->protocol_version);
      }
      if (json) {
        std::cout << dissect::format_json(packet, info, fopts) << "\n";
      } else {
        if (index > 1) std::cout << "\n";
        std::cout << dissect::format_text(packet, info, fopts);
      }
      offset += r.consumed;
      continue;
    }
    if (r.status == codec::DecodeStatus::Error) {
      if (json) {
        std::cout << dissect::format_error_json(r.error, r.error_offset) << "\n";
      } else {
        if (index > 0) std::cout << "\n";
        std::cout << dissect::format_error_text(r.error, r.error_offset)
                  << " (in the packet starting at offset " << offset << ")\n";
      }
      std::cout.flush();
      return kExitDecodeError;
    }
    break;  // NeedMore
  }
  if (dec.buffered() > 0) {
    if (json) {
      std::cout << "{\"incomplete\":true,\"offset\":" << offset
                << ",\"buffered\":" << dec.buffered() << "}\n";
    } else {
      if (index > 0) std::cout << "\n";
      std::cout << "incomplete: the last " << dec.buffered() << " byte(s), from offset " << offset
                << ", do not form a whole packet\n";
    }
    std::cout.flush();
    return kExitIncomplete;
  }
  if (bytes.empty()) std::cerr << "mqtt dissect: no input\n";
  std::cout.flush();
  return kExitOk;
}

}  // namespace mqtt::cli
