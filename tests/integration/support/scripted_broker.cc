#include "tests/integration/support/scripted_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace itest {

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Milliseconds left until `deadline`, for poll(): 0..100 (short slices, so
// stop flags are seen promptly).
int slice_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 100));
}

void put_u16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v & 0xFF));
}

void put_u32(Bytes& b, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
}

void put_varint(Bytes& b, size_t v) {
  for (int i = 0; i < 4; ++i) {
    uint8_t byte = static_cast<uint8_t>(v % 128);
    v /= 128;
    if (v > 0) byte |= 0x80;
    b.push_back(byte);
    if (v == 0) return;
  }
  throw std::length_error("MQTT remaining length above 268,435,455");
}

void put_string(Bytes& b, std::string_view s) {
  put_u16(b, static_cast<uint16_t>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
}

// Fixed header byte + remaining length + body.
Bytes frame(uint8_t first, const Bytes& body) {
  Bytes out;
  out.reserve(body.size() + 5);
  out.push_back(first);
  put_varint(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// Decodes the remaining length at packet[1..]. Returns {value, bytes used};
// used = 0 when more bytes are needed, -1 when malformed.
std::pair<size_t, int> read_varint(std::span<const uint8_t> packet) {
  size_t value = 0;
  size_t mult = 1;
  for (int i = 0; i < 4; ++i) {
    if (packet.size() < static_cast<size_t>(2 + i)) return {0, 0};
    uint8_t byte = packet[1 + i];
    value += (byte & 0x7F) * mult;
    mult *= 128;
    if ((byte & 0x80) == 0) return {value, i + 1};
  }
  return {0, -1};
}

}  // namespace

// ---------------------------------------------------------------- ScriptedPeer

ScriptedPeer::ScriptedPeer(int fd) : fd_(fd) {
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  flood_progress_ns_ = now_ns();
}

ScriptedPeer::~ScriptedPeer() {
  stop_flood();
  if (fd_ >= 0) ::close(fd_);
}

bool ScriptedPeer::fill(Clock::time_point deadline) {
  uint8_t chunk[65536];
  for (int i = 0; i < 1'000'000; ++i) {
    if (fd_ < 0 || closed_ || reading_stopped_) return false;
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buf_.insert(buf_.end(), chunk, chunk + n);
      return true;
    }
    if (n == 0) {
      closed_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      closed_ = true;  // ECONNRESET and the like
      return false;
    }
    if (Clock::now() >= deadline) return false;
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, slice_ms(deadline));
  }
  return false;
}

std::optional<Bytes> ScriptedPeer::read_packet(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1'000'000; ++i) {
    if (reading_stopped_) return std::nullopt;
    if (!buf_.empty()) {
      auto [length, used] = read_varint(buf_);
      if (used < 0) return std::nullopt;  // malformed: give up on this stream
      if (used > 0) {
        size_t total = 1 + static_cast<size_t>(used) + length;
        if (buf_.size() >= total) {
          Bytes packet(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(total));
          buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(total));
          return packet;
        }
      }
    }
    if (!fill(deadline)) return std::nullopt;
  }
  return std::nullopt;
}

std::optional<Bytes> ScriptedPeer::read_until_type(uint8_t type, std::chrono::milliseconds timeout,
                                                   std::vector<Bytes>* skipped) {
  auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 10'000; ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto p = read_packet(left);
    if (!p) return std::nullopt;
    if (packet_type(*p) == type) return p;
    if (skipped) skipped->push_back(std::move(*p));
  }
  return std::nullopt;
}

std::optional<Bytes> ScriptedPeer::expect_connect(std::chrono::milliseconds timeout,
                                                  std::string* why) {
  auto p = read_packet(timeout);
  if (!p) {
    if (why) *why = closed_ ? "connection closed before CONNECT" : "no packet within the timeout";
    return std::nullopt;
  }
  if (packet_type(*p) != 1) {
    if (why) *why = "first packet is " + describe_packet(*p) + ", not CONNECT";
    return std::nullopt;
  }
  return p;
}

bool ScriptedPeer::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1'000'000 && !closed_; ++i) {
    buf_.clear();
    bool stopped = reading_stopped_;
    reading_stopped_ = false;  // this call reads even after stop_reading()
    bool got = fill(deadline);
    reading_stopped_ = stopped;
    if (!got && !closed_ && Clock::now() >= deadline) break;
  }
  buf_.clear();
  return closed_;
}

bool ScriptedPeer::write_all(std::span<const uint8_t> bytes, Clock::time_point deadline,
                             const std::atomic<bool>* stop, std::string* error) {
  size_t off = 0;
  for (int i = 0; i < 10'000'000 && off < bytes.size(); ++i) {
    if (fd_ < 0) {
      if (error) *error = "socket closed";
      return false;
    }
    if (stop && stop->load()) return false;
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      if (stop) {  // the flood: record progress
        flood_bytes_ += static_cast<uint64_t>(n);
        flood_progress_ns_ = now_ns();
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      if (error) *error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    if (Clock::now() >= deadline) {
      if (error) *error = "timeout";
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, slice_ms(deadline));
  }
  return off == bytes.size();
}

bool ScriptedPeer::send(std::span<const uint8_t> bytes, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return write_all(bytes, Clock::now() + timeout, nullptr, nullptr);
}

bool ScriptedPeer::send_drip(std::span<const uint8_t> bytes, size_t chunk,
                             std::chrono::milliseconds gap) {
  chunk = std::max<size_t>(chunk, 1);
  for (size_t off = 0; off < bytes.size(); off += chunk) {
    if (off > 0) std::this_thread::sleep_for(gap);
    if (!send(bytes.subspan(off, std::min(chunk, bytes.size() - off)))) return false;
  }
  return true;
}

void ScriptedPeer::close() {
  stop_flood();
  if (fd_ < 0) return;
  ::shutdown(fd_, SHUT_WR);
  ::close(fd_);
  fd_ = -1;
}

void ScriptedPeer::reset() {
  stop_flood();
  if (fd_ < 0) return;
  linger lg{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(fd_);
  fd_ = -1;
}

void ScriptedPeer::stop_reading() { reading_stopped_ = true; }

void ScriptedPeer::flood(Bytes packet, uint64_t max_bytes, std::chrono::milliseconds max_time) {
  flood([packet = std::move(packet)](uint64_t) { return packet; }, max_bytes, max_time);
}

void ScriptedPeer::flood(Maker make, uint64_t max_bytes, std::chrono::milliseconds max_time) {
  stop_flood();
  flood_stop_ = false;
  flood_bytes_ = 0;
  flood_packets_ = 0;
  flood_progress_ns_ = now_ns();
  {
    std::lock_guard<std::mutex> lock(flood_mu_);
    flood_end_.clear();
  }
  flooding_ = true;
  flood_thread_ = std::thread([this, make = std::move(make), max_bytes, max_time] {
    const auto end = Clock::now() + max_time;
    std::string reason;
    uint64_t n = 0;
    Bytes batch;
    // Bounded: each round writes at least one packet or ends the flood.
    for (uint64_t round = 0; round < (uint64_t{1} << 40); ++round) {
      if (flood_stop_) {
        reason = "stopped";
        break;
      }
      if (flood_bytes_ >= max_bytes) {
        reason = "max_bytes";
        break;
      }
      if (Clock::now() >= end) {
        reason = "max_time";
        break;
      }
      // About 64 KiB of whole packets per write.
      batch.clear();
      uint64_t in_batch = 0;
      while (batch.empty() || (batch.size() < 65536 && flood_bytes_ + batch.size() < max_bytes)) {
        Bytes p = make(n + in_batch);
        if (p.empty()) break;
        batch.insert(batch.end(), p.begin(), p.end());
        ++in_batch;
      }
      if (batch.empty()) {
        reason = "maker returned no packet";
        break;
      }
      std::string error;
      bool ok;
      {
        std::lock_guard<std::mutex> lock(write_mu_);
        ok = write_all(batch, end, &flood_stop_, &error);
      }
      if (!ok) {
        reason = flood_stop_ ? "stopped" : (error == "timeout" ? "max_time" : "error: " + error);
        break;
      }
      n += in_batch;
      flood_packets_ = n;
    }
    {
      std::lock_guard<std::mutex> lock(flood_mu_);
      flood_end_ = reason.empty() ? "round limit" : reason;
    }
    flooding_ = false;
  });
}

void ScriptedPeer::stop_flood() {
  flood_stop_ = true;
  if (flood_thread_.joinable()) flood_thread_.join();
}

std::chrono::steady_clock::time_point ScriptedPeer::flood_last_progress() const {
  return Clock::time_point(std::chrono::nanoseconds(flood_progress_ns_.load()));
}

std::string ScriptedPeer::flood_end_reason() const {
  std::lock_guard<std::mutex> lock(flood_mu_);
  return flood_end_;
}

// -------------------------------------------------------------- ScriptedBroker

ScriptedBroker::ScriptedBroker(int rcvbuf, int mss) {
  // Non-blocking: accept() polls with a timeout.
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("ScriptedBroker socket: ") + std::strerror(errno));
  if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (mss > 0 && ::setsockopt(fd_, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) != 0) {
    std::string e = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("ScriptedBroker TCP_MAXSEG " + std::to_string(mss) + ": " + e);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd_, 16) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string e = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("ScriptedBroker bind/listen on 127.0.0.1:0: " + e);
  }
  port_ = ntohs(addr.sin_port);
}

ScriptedBroker::~ScriptedBroker() {
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<ScriptedPeer> ScriptedBroker::accept(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (int i = 0; i < 1'000'000; ++i) {
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c >= 0) {
      // Blocking mode otherwise; every call uses MSG_DONTWAIT + poll.
      int flags = ::fcntl(c, F_GETFL);
      ::fcntl(c, F_SETFL, flags & ~O_NONBLOCK);
      return std::make_unique<ScriptedPeer>(c);
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      throw std::runtime_error(std::string("ScriptedBroker accept: ") + std::strerror(errno));
    if (Clock::now() >= deadline) return nullptr;
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, slice_ms(deadline));
  }
  return nullptr;
}

// --------------------------------------------------------------------- packets

Bytes connack_v311(bool session_present, uint8_t return_code) {
  return {0x20, 0x02, static_cast<uint8_t>(session_present ? 1 : 0), return_code};
}

Bytes connack_v5(bool session_present, uint8_t reason_code, const ConnAckProps& props) {
  Bytes p;
  if (props.receive_maximum) {
    p.push_back(0x21);
    put_u16(p, *props.receive_maximum);
  }
  if (props.topic_alias_maximum) {
    p.push_back(0x22);
    put_u16(p, *props.topic_alias_maximum);
  }
  if (props.maximum_qos) {
    p.push_back(0x24);
    p.push_back(*props.maximum_qos);
  }
  if (props.retain_available) {
    p.push_back(0x25);
    p.push_back(*props.retain_available);
  }
  if (props.maximum_packet_size) {
    p.push_back(0x27);
    put_u32(p, *props.maximum_packet_size);
  }
  if (props.server_reference) {
    p.push_back(0x1C);
    put_string(p, *props.server_reference);
  }
  if (props.authentication_method) {
    p.push_back(0x15);
    put_string(p, *props.authentication_method);
  }
  if (props.authentication_data) {
    p.push_back(0x16);
    put_string(p, *props.authentication_data);  // Binary Data: same layout
  }
  Bytes body{static_cast<uint8_t>(session_present ? 1 : 0), reason_code};
  put_varint(body, p.size());
  body.insert(body.end(), p.begin(), p.end());
  return frame(0x20, body);
}

namespace {

uint8_t publish_first_byte(uint8_t qos, bool retain, bool dup) {
  return static_cast<uint8_t>(0x30 | (dup ? 0x08 : 0) | ((qos & 3) << 1) | (retain ? 1 : 0));
}

}  // namespace

Bytes publish_v311(std::string_view topic, std::string_view payload, uint8_t qos,
                   uint16_t packet_id, bool retain, bool dup) {
  Bytes body;
  body.reserve(topic.size() + payload.size() + 4);
  put_string(body, topic);
  if (qos > 0) put_u16(body, packet_id);
  body.insert(body.end(), payload.begin(), payload.end());
  return frame(publish_first_byte(qos, retain, dup), body);
}

Bytes publish_v5(std::string_view topic, std::string_view payload, uint8_t qos,
                 uint16_t packet_id, std::optional<uint16_t> topic_alias) {
  Bytes body;
  body.reserve(topic.size() + payload.size() + 8);
  put_string(body, topic);
  if (qos > 0) put_u16(body, packet_id);
  Bytes props;
  if (topic_alias) {
    props.push_back(0x23);
    put_u16(props, *topic_alias);
  }
  put_varint(body, props.size());
  body.insert(body.end(), props.begin(), props.end());
  body.insert(body.end(), payload.begin(), payload.end());
  return frame(publish_first_byte(qos, false, false), body);
}

Bytes puback(uint16_t packet_id) {
  Bytes body;
  put_u16(body, packet_id);
  return frame(0x40, body);
}

Bytes pubrec(uint16_t packet_id) { return {0x50, 0x02, uint8_t(packet_id >> 8), uint8_t(packet_id)}; }
Bytes pubrel(uint16_t packet_id) { return {0x62, 0x02, uint8_t(packet_id >> 8), uint8_t(packet_id)}; }
Bytes pubcomp(uint16_t packet_id) { return {0x70, 0x02, uint8_t(packet_id >> 8), uint8_t(packet_id)}; }
Bytes unsuback_v311(uint16_t packet_id) {
  return {0xB0, 0x02, uint8_t(packet_id >> 8), uint8_t(packet_id)};
}

Bytes unsuback_v5(uint16_t packet_id, const std::vector<uint8_t>& codes) {
  Bytes body;
  put_u16(body, packet_id);
  body.push_back(0x00);  // no properties
  body.insert(body.end(), codes.begin(), codes.end());
  return frame(0xB0, body);
}

Bytes pingresp() { return {0xD0, 0x00}; }

Bytes auth_v5(uint8_t reason_code, std::string_view method, std::optional<std::string_view> data) {
  Bytes p;
  p.push_back(0x15);
  put_string(p, method);
  if (data) {
    p.push_back(0x16);
    put_string(p, *data);
  }
  Bytes body{reason_code};
  put_varint(body, p.size());
  body.insert(body.end(), p.begin(), p.end());
  return frame(0xF0, body);
}

namespace {

// Walks MQTT 5 properties, keeping Authentication Method and Data. False
// on an unknown identifier or a length past the end.
bool walk_auth_properties(std::span<const uint8_t> props, AuthInfo& out) {
  size_t i = 0;
  auto u16 = [&](size_t at) { return static_cast<size_t>((props[at] << 8) | props[at + 1]); };
  while (i < props.size()) {
    const uint8_t id = props[i++];
    switch (id) {
      case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
        i += 1;
        break;
      case 0x13: case 0x21: case 0x22: case 0x23:
        i += 2;
        break;
      case 0x02: case 0x11: case 0x18: case 0x27:
        i += 4;
        break;
      case 0x0B:
        while (i < props.size() && (props[i] & 0x80)) ++i;
        ++i;
        break;
      case 0x03: case 0x08: case 0x09: case 0x12: case 0x15: case 0x16: case 0x1A: case 0x1C:
      case 0x1F: {
        if (i + 2 > props.size()) return false;
        const size_t n = u16(i);
        if (i + 2 + n > props.size()) return false;
        std::string s(reinterpret_cast<const char*>(props.data() + i + 2), n);
        if (id == 0x15) out.method = s;
        if (id == 0x16) out.data = s;
        i += 2 + n;
        break;
      }
      case 0x26:
        for (int k = 0; k < 2; ++k) {
          if (i + 2 > props.size()) return false;
          i += 2 + u16(i);
        }
        break;
      default:
        return false;
    }
    if (i > props.size()) return false;
  }
  return true;
}

}  // namespace

std::optional<AuthInfo> auth_info(std::span<const uint8_t> packet) {
  const auto at = body_offset(packet);
  if (!at) return std::nullopt;
  const uint8_t type = packet_type(packet);
  AuthInfo info;
  size_t pos = *at;
  if (type == 15) {
    if (pos >= packet.size()) return info;  // Success, no properties
    info.reason_code = packet[pos++];
  } else if (type == 1) {
    // "MQTT" name (2 + 4), level, flags, keep alive.
    pos += 6;
    if (pos >= packet.size() || packet[pos] != 5) return std::nullopt;
    pos += 4;
  } else {
    return std::nullopt;
  }
  // read_varint reads from the byte after its start (a fixed header's).
  auto [len, n] = read_varint(packet.subspan(pos - 1));
  if (n <= 0) return std::nullopt;
  pos += static_cast<size_t>(n);
  if (pos + len > packet.size()) return std::nullopt;
  if (!walk_auth_properties(packet.subspan(pos, len), info)) return std::nullopt;
  return info;
}

Bytes suback_v311(uint16_t packet_id, const std::vector<uint8_t>& codes) {
  Bytes body;
  put_u16(body, packet_id);
  body.insert(body.end(), codes.begin(), codes.end());
  return frame(0x90, body);
}

Bytes suback_v5(uint16_t packet_id, const std::vector<uint8_t>& codes) {
  Bytes body;
  put_u16(body, packet_id);
  body.push_back(0x00);  // no properties
  body.insert(body.end(), codes.begin(), codes.end());
  return frame(0x90, body);
}

Bytes disconnect_v5(uint8_t reason_code) { return {0xE0, 0x02, reason_code, 0x00}; }

Bytes disconnect_v5(uint8_t reason_code, std::string_view server_reference) {
  Bytes p{0x1C};
  put_string(p, server_reference);
  Bytes body{reason_code};
  put_varint(body, p.size());
  body.insert(body.end(), p.begin(), p.end());
  return frame(0xE0, body);
}

uint8_t packet_type(std::span<const uint8_t> packet) {
  return packet.empty() ? 0 : static_cast<uint8_t>(packet[0] >> 4);
}

std::string_view packet_type_name(uint8_t type) {
  static constexpr std::string_view kNames[] = {
      "RESERVED", "CONNECT", "CONNACK",  "PUBLISH",     "PUBACK",   "PUBREC",
      "PUBREL",   "PUBCOMP", "SUBSCRIBE", "SUBACK",     "UNSUBSCRIBE", "UNSUBACK",
      "PINGREQ",  "PINGRESP", "DISCONNECT", "AUTH"};
  return type < 16 ? kNames[type] : "?";
}

std::optional<size_t> body_offset(std::span<const uint8_t> packet) {
  auto [length, used] = read_varint(packet);
  if (used <= 0) return std::nullopt;
  size_t off = 1 + static_cast<size_t>(used);
  if (packet.size() != off + length) return std::nullopt;
  return off;
}

std::optional<uint8_t> disconnect_reason(std::span<const uint8_t> packet) {
  if (packet_type(packet) != 14) return std::nullopt;
  auto off = body_offset(packet);
  if (!off) return std::nullopt;
  if (*off >= packet.size()) return uint8_t{0};
  return packet[*off];
}

std::optional<uint16_t> leading_packet_id(std::span<const uint8_t> packet) {
  uint8_t t = packet_type(packet);
  if (t < 4 || t > 11) return std::nullopt;  // PUBACK .. UNSUBACK
  auto off = body_offset(packet);
  if (!off || *off + 2 > packet.size()) return std::nullopt;
  return static_cast<uint16_t>((packet[*off] << 8) | packet[*off + 1]);
}

std::optional<uint16_t> publish_packet_id(std::span<const uint8_t> packet) {
  if (packet_type(packet) != 3 || ((packet[0] >> 1) & 3) == 0) return std::nullopt;
  auto off = body_offset(packet);
  if (!off || *off + 2 > packet.size()) return std::nullopt;
  size_t at = *off + 2 + ((static_cast<size_t>(packet[*off]) << 8) | packet[*off + 1]);
  if (at + 2 > packet.size()) return std::nullopt;
  return static_cast<uint16_t>((packet[at] << 8) | packet[at + 1]);
}

std::optional<uint8_t> ack_reason(std::span<const uint8_t> packet) {
  const uint8_t t = packet_type(packet);
  if (t < 4 || t > 7) return std::nullopt;
  auto off = body_offset(packet);
  if (!off || *off + 2 > packet.size()) return std::nullopt;
  return *off + 2 < packet.size() ? packet[*off + 2] : uint8_t{0};
}

std::optional<std::string> publish_topic(std::span<const uint8_t> packet) {
  if (packet_type(packet) != 3) return std::nullopt;
  auto off = body_offset(packet);
  if (!off || *off + 2 > packet.size()) return std::nullopt;
  size_t len = (static_cast<size_t>(packet[*off]) << 8) | packet[*off + 1];
  if (*off + 2 + len > packet.size()) return std::nullopt;
  return std::string(packet.begin() + static_cast<std::ptrdiff_t>(*off + 2),
                     packet.begin() + static_cast<std::ptrdiff_t>(*off + 2 + len));
}

std::optional<ConnectInfo> connect_info(std::span<const uint8_t> packet) {
  if (packet_type(packet) != 1) return std::nullopt;
  auto off = body_offset(packet);
  if (!off || *off + 2 > packet.size()) return std::nullopt;
  size_t name_len = (static_cast<size_t>(packet[*off]) << 8) | packet[*off + 1];
  size_t p = *off + 2 + name_len;
  if (p + 4 > packet.size()) return std::nullopt;
  ConnectInfo info;
  info.protocol_level = packet[p];
  info.flags = packet[p + 1];
  info.keep_alive = static_cast<uint16_t>((packet[p + 2] << 8) | packet[p + 3]);
  return info;
}

std::string describe_packet(std::span<const uint8_t> packet) {
  std::string s(packet_type_name(packet_type(packet)));
  s += "(" + std::to_string(packet.size()) + " bytes";
  if (auto t = publish_topic(packet)) s += ", topic \"" + *t + "\"";
  if (auto r = disconnect_reason(packet)) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", *r);
    s += std::string(", reason ") + hex;
  }
  return s + ")";
}

}  // namespace itest
