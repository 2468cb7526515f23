// libFuzzer target for the MQTT decoder.
//
// Input layout: byte 0 selects the configuration, the rest is the byte stream.
//   bit 0      protocol version (0: 3.1.1, 1: 5)
//   bits 1..3  max_packet_size, from kMaxSizes
//   bits 4..7  seed for the StreamDecoder chunk sizes (mixed with the length)
//
// For every input it checks:
//   1. decode() in a loop over the buffer and StreamDecoder fed in random-sized
//      chunks yield the same packets and then the same outcome (the same error
//      at the same stream offset, or the same number of unconsumed bytes);
//   2. every decoded packet re-encodes (encoded_size() == encode() result) and
//      decodes again to an equal packet, and that encoding is stable.
// Any disagreement prints a diagnostic and aborts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <variant>
#include <vector>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/encoder.h"
#include "mqtt/codec/error.h"
#include "mqtt/codec/packets.h"

namespace {

namespace codec = mqtt::codec;
using mqtt::ProtocolVersion;

constexpr uint32_t kMaxSizes[8] = {268435460, 2, 5, 16, 64, 300, 4096, 65536};

[[noreturn]] void fail(const char* what, size_t index = 0) {
  std::fprintf(stderr, "decoder_fuzz: %s (packet #%zu)\n", what, index);
  std::abort();
}

[[noreturn]] void fail_error(const char* what, codec::CodecError e, const codec::Packet& p) {
  std::fprintf(stderr, "decoder_fuzz: %s: CodecError %d \"%.*s\" for a %.*s packet\n", what,
               static_cast<int>(e), static_cast<int>(codec::to_string(e).size()),
               codec::to_string(e).data(),
               static_cast<int>(codec::to_string(codec::packet_type(p)).size()),
               codec::to_string(codec::packet_type(p)).data());
  std::abort();
}

struct Outcome {
  std::vector<codec::Packet> packets;
  codec::DecodeStatus end = codec::DecodeStatus::NeedMore;  // NeedMore or Error
  codec::CodecError error{};
  size_t error_offset = 0;  // from the stream start
  size_t leftover = 0;      // NeedMore: bytes not consumed
};

// The version a packet is decoded/encoded with: CONNECT announces its own.
ProtocolVersion version_of(const codec::Packet& p, ProtocolVersion v) {
  if (const auto* c = std::get_if<codec::Connect>(&p)) return c->protocol_version;
  return v;
}

Outcome decode_loop(std::span<const uint8_t> in, const codec::DecodeOptions& opts) {
  Outcome o;
  size_t off = 0;
  while (off < in.size()) {
    codec::Packet p;
    codec::DecodeResult r = codec::decode(in.subspan(off), opts, p);
    if (r.status == codec::DecodeStatus::Ok) {
      if (r.consumed == 0 || r.consumed > in.size() - off) fail("decode: bad consumed");
      o.packets.push_back(std::move(p));
      off += r.consumed;
      continue;
    }
    if (r.status == codec::DecodeStatus::Error) {
      o.end = codec::DecodeStatus::Error;
      o.error = r.error;
      o.error_offset = off + r.error_offset;
      return o;
    }
    break;
  }
  o.end = codec::DecodeStatus::NeedMore;
  o.leftover = in.size() - off;
  return o;
}

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void check_roundtrip(const codec::Packet& p, ProtocolVersion stream_version, size_t index) {
  ProtocolVersion v = version_of(p, stream_version);
  auto size = codec::encoded_size(p, v);
  if (!size) fail_error("encoded_size() rejects a decoded packet", size.error(), p);
  std::vector<uint8_t> buf(*size);
  auto n = codec::encode(p, v, buf);
  if (!n) fail_error("encode() rejects a decoded packet", n.error(), p);
  if (*n != *size) fail("encode() wrote a different size than encoded_size()", index);

  // Too small a buffer must be reported, not overrun.
  if (*size > 0) {
    std::vector<uint8_t> small(*size - 1);
    auto s = codec::encode(p, v, small);
    if (s.ok() || s.error() != codec::CodecError::BufferTooSmall) {
      fail("encode() into a short buffer did not fail with BufferTooSmall", index);
    }
  }

  codec::DecodeOptions opts;
  opts.version = stream_version;
  codec::Packet again;
  codec::DecodeResult r = codec::decode(buf, opts, again);
  if (r.status != codec::DecodeStatus::Ok) {
    std::fprintf(stderr, "decoder_fuzz: re-decode status %d error %d \"%.*s\" at %zu\n",
                 static_cast<int>(r.status), static_cast<int>(r.error),
                 static_cast<int>(codec::to_string(r.error).size()),
                 codec::to_string(r.error).data(), r.error_offset);
    fail("re-encoded packet does not decode", index);
  }
  if (r.consumed != buf.size()) fail("re-decode consumed a different size", index);
  if (!(again == p)) fail("re-decoded packet differs from the decoded one", index);

  // The encoding of the re-decoded packet is the same bytes (deterministic).
  std::vector<uint8_t> buf2(buf.size());
  auto n2 = codec::encode(again, v, buf2);
  if (!n2 || *n2 != buf.size() || buf2 != buf) fail("encoding is not stable", index);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t cfg = data[0];
  std::span<const uint8_t> in(data + 1, size - 1);

  codec::DecodeOptions opts;
  opts.version = (cfg & 1) ? ProtocolVersion::V5 : ProtocolVersion::V311;
  opts.max_packet_size = kMaxSizes[(cfg >> 1) & 7];

  // 1. decode() over the whole buffer.
  Outcome whole = decode_loop(in, opts);

  // 2. StreamDecoder, random chunks; compare as we go (its views die on the
  // next feed()/next()).
  uint64_t seed = (static_cast<uint64_t>(cfg >> 4) << 32) ^ in.size();
  codec::StreamDecoder dec(opts);
  size_t fed = 0, got = 0;
  bool stream_failed = false;
  codec::DecodeResult failure;
  while (!stream_failed) {
    codec::Packet p;
    codec::DecodeResult r = dec.next(p);
    if (r.status == codec::DecodeStatus::Ok) {
      if (got >= whole.packets.size()) fail("StreamDecoder yields more packets than decode()", got);
      if (!(p == whole.packets[got])) fail("StreamDecoder packet differs from decode()", got);
      ++got;
      continue;
    }
    if (r.status == codec::DecodeStatus::Error) {
      stream_failed = true;
      failure = r;
      break;
    }
    if (fed == in.size()) break;
    uint64_t rnd = splitmix(seed);
    size_t chunk;
    switch (rnd & 3) {
      case 0: chunk = (rnd >> 8) % 4; break;        // 0..3 bytes (0 = empty feed)
      case 1: chunk = 1 + (rnd >> 8) % 16; break;
      case 2: chunk = 1 + (rnd >> 8) % 300; break;
      default: chunk = in.size() - fed; break;      // the rest
    }
    chunk = std::min(chunk, in.size() - fed);
    dec.feed(in.subspan(fed, chunk));
    fed += chunk;
  }
  if (got != whole.packets.size()) fail("StreamDecoder yields fewer packets than decode()", got);
  if (stream_failed) {
    if (whole.end != codec::DecodeStatus::Error) {
      std::fprintf(stderr, "decoder_fuzz: stream error %d at %zu\n",
                   static_cast<int>(failure.error), failure.error_offset);
      fail("StreamDecoder reports an error, decode() does not", got);
    }
    if (failure.error != whole.error || failure.error_offset != whole.error_offset) {
      std::fprintf(stderr, "decoder_fuzz: stream error %d at %zu, decode() error %d at %zu\n",
                   static_cast<int>(failure.error), failure.error_offset,
                   static_cast<int>(whole.error), whole.error_offset);
      fail("StreamDecoder and decode() disagree on the error", got);
    }
    // A broken stream stays broken.
    codec::Packet p;
    dec.feed(in.first(std::min<size_t>(in.size(), 3)));
    codec::DecodeResult r = dec.next(p);
    if (r.status != codec::DecodeStatus::Error || r.error != failure.error ||
        r.error_offset != failure.error_offset) {
      fail("StreamDecoder does not repeat its error", got);
    }
  } else {
    if (whole.end == codec::DecodeStatus::Error) {
      std::fprintf(stderr, "decoder_fuzz: decode() error %d at %zu\n",
                   static_cast<int>(whole.error), whole.error_offset);
      fail("decode() reports an error, StreamDecoder does not", got);
    }
    if (dec.buffered() != whole.leftover) fail("StreamDecoder buffers a different tail", got);
  }

  // 3. Round trip of every decoded packet.
  for (size_t i = 0; i < whole.packets.size(); ++i) {
    check_roundtrip(whole.packets[i], opts.version, i);
  }
  return 0;
}
