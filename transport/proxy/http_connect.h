// HTTP CONNECT proxy tunnel (RFC 9110 §9.3.6) as a transport::Stream layered
// over another Stream that connects to the PROXY. Non-blocking like every
// Stream: the proxy handshake happens inside connect(); once it returned Ok
// the stream passes bytes through unchanged, so TLS (or WebSocket) can be
// layered on top for the end-to-end connection to the target.
//
// Usage:
//   auto to_proxy = transport::tcp::open({proxy_host, proxy_port});
//   auto s = transport::proxy::http_connect(std::move(to_proxy),
//       {.target_host = "broker.example", .target_port = 8883,
//        .username = "user", .password = "secret"});      // optional
//   // optionally: s = transport::tls::wrap(std::move(s), ctx, "broker.example");
//   loop: wait until fd() is ready for interest(), then call connect()
//         until Ok or Error (see error()); then read()/write() as usual.
//
// Contract (in addition to stream.h):
// - connect() first drives the inner connect, then sends
//     CONNECT host:port HTTP/1.1\r\nHost: host:port\r\n
//     [Proxy-Authorization: Basic base64(user:pass)\r\n]\r\n
//   (an IPv6 literal host is written in brackets), then reads the answer's
//   header block up to the blank line (at most kMaxResponseHeader bytes).
//   Any 2xx status opens the tunnel: connect() returns Ok.
// - interest(): the inner stream's while it connects; write while the
//   request is being sent; read while waiting for the answer; afterwards the
//   inner stream's.
// - Bytes the proxy sent after the header block belong to the tunnel: the
//   first read() returns them (without touching the inner stream).
// - Errors: ErrorKind::Connect with the proxy's status line in the message,
//   and a hint for the usual ones (407 "proxy authentication required", 401,
//   403, 502/503/504 "the proxy could not reach host:port", 500 (tinyproxy's
//   "Unable to connect") "proxy error ..."); also for a
//   malformed or oversized answer and for the proxy closing before answering.
//   Errors of the inner stream (DNS, connect, I/O) keep its kind and errno;
//   during the handshake the message is prefixed with "HTTP CONNECT via
//   proxy: ". After the tunnel is open, error() is the inner stream's.
// - close() closes the inner stream. Idempotent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "transport/stream.h"

namespace transport::proxy {

struct HttpConnectOptions {
  std::string target_host;  // name or IP literal, as the proxy should see it
  uint16_t target_port = 0;
  // Basic authentication (Proxy-Authorization) when username is set.
  std::optional<std::string> username;
  std::optional<std::string> password;
};

inline constexpr size_t kMaxResponseHeader = 16 * 1024;

// Layers the tunnel over `to_proxy` (connected or still connecting).
std::unique_ptr<Stream> http_connect(std::unique_ptr<Stream> to_proxy,
                                     const HttpConnectOptions& options);

// RFC 4648 base64 (exposed for tests).
std::string base64(const std::string& in);

}  // namespace transport::proxy
