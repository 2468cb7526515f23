// SOCKS5 proxy tunnel (RFC 1928, username/password authentication RFC 1929)
// as a transport::Stream layered over another Stream that connects to the
// PROXY. Non-blocking like every Stream: the SOCKS handshake happens inside
// connect(); once it returned Ok the stream passes bytes through unchanged,
// so TLS (or WebSocket) can be layered on top for the end-to-end connection.
//
// Usage:
//   auto to_proxy = transport::tcp::open({proxy_host, proxy_port});
//   auto s = transport::proxy::socks5(std::move(to_proxy),
//       {.target_host = "broker.example", .target_port = 1883,
//        .username = "user", .password = "secret"});      // optional
//   loop: wait until fd() is ready for interest(), then call connect()
//         until Ok or Error (see error()); then read()/write() as usual.
//
// Contract (in addition to stream.h):
// - connect() first drives the inner connect, then: greeting offering
//   "no authentication" (0x00) and, when username is set, "username/password"
//   (0x02); the RFC 1929 sub-negotiation if the proxy chose 0x02; CONNECT
//   with the target as a domain name (ATYP 3: the PROXY resolves it, "socks5h"
//   behaviour) or, for an IPv4/IPv6 literal (brackets allowed), ATYP 1/4.
//   The reply (variable-length BND.ADDR) is read exactly, never beyond, so
//   every later byte is the tunnel's.
// - interest(): the inner stream's while it connects; write while a
//   handshake message is being sent; read while waiting for an answer;
//   afterwards the inner stream's.
// - Errors: ErrorKind::Connect, message naming the SOCKS reply code, e.g.
//   "reply 0x05 (connection refused)"; "no acceptable authentication method
//   (0xFF)"; "authentication refused"; a malformed answer; the proxy closing.
//   A host name longer than 255 bytes, or a username/password longer than
//   255 bytes, fails connect() at once. Errors of the inner stream keep its
//   kind and errno (message prefixed with "SOCKS5 via proxy: "). After the
//   tunnel is open, error() is the inner stream's.
// - close() closes the inner stream. Idempotent.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "transport/stream.h"

namespace transport::proxy {

struct Socks5Options {
  std::string target_host;  // name (resolved by the proxy) or IP literal
  uint16_t target_port = 0;
  // Offer username/password authentication when username is set.
  std::optional<std::string> username;
  std::optional<std::string> password;
};

// Layers the tunnel over `to_proxy` (connected or still connecting).
std::unique_ptr<Stream> socks5(std::unique_ptr<Stream> to_proxy, const Socks5Options& options);

// The text for a SOCKS5 reply code (RFC 1928 §6), e.g. "connection refused".
std::string socks5_reply_text(uint8_t code);

}  // namespace transport::proxy
