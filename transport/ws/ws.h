// WebSocket (ws://) and secure WebSocket (wss://) as a transport::Stream,
// built on libwebsockets 4.1.6 and driven from the caller's thread (the
// reactor): no extra thread, no queue hop on the data path.
//
// How it is driven (Debian's libwebsockets has no external-poll support):
// each stream owns a small lws context (no listener) with one client
// connection. The reactor waits on fd(), the connection's socket (or, while
// resolving, the resolver's eventfd); every connect()/read()/write() call
// runs lws_service(ctx, -1), which polls lws's own descriptors without
// waiting and runs the callbacks that fill this stream's receive buffer or
// report the handshake's outcome. docs/transports.md explains the choice
// and its cost.
//
// Life cycle and contract: as in stream.h. In addition:
// - The stream is edge-trigger safe: read() returns WouldBlock only once the
//   socket has nothing more to read and libwebsockets nothing buffered;
//   write() returns WouldBlock only while the socket is full.
// - write() sends the bytes it accepts as one binary WebSocket message (at
//   most max_message bytes); MQTT packets may span messages and messages may
//   hold several packets, both ways.
// - Errors: ErrorKind::Dns / Connect for resolution and TCP failures,
//   ErrorKind::Tls for wss certificate and handshake failures,
//   ErrorKind::WebSocket for a refused upgrade (the message names the HTTP
//   status, e.g. "WebSocket upgrade refused: HTTP 400").
// - The host name is resolved by this stream (transport/tcp's resolver, off
//   the reactor thread); libwebsockets is handed an IP literal, so its own
//   blocking getaddrinfo() never waits on DNS.
// - Creating the first stream in a process sets libwebsockets' global log
//   level to errors only, sent to this library's sink instead of stderr
//   (the text of the last one is kept for error messages).
//
// Threads: one owner thread, like every Stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transport/stream.h"
#include "transport/tls/tls.h"

namespace transport::ws {

struct Options {
  std::string host;  // name or IP literal (no brackets); also the Host header
  uint16_t port = 80;
  std::string path = "/mqtt";  // path and query, e.g. "/mqtt?token=abc"
  // Extra request headers, e.g. {"Authorization", "Bearer ..."}.
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::string subprotocol = "mqtt";
  std::string origin = {};  // Origin header; empty: none
  // wss:// when set: the TLS context (trust, client certificate, versions,
  // the SSL_CTX hook) and the per-connection settings of `tls_options`
  // (SNI, verification, ALPN). See docs/transports.md for what wss applies.
  std::shared_ptr<tls::Context> tls = {};
  tls::Options tls_options = {};
  // Local IP literal to connect from; empty: any.
  std::string bind_address = {};
  // A name with several addresses: a new attempt starts every attempt_delay
  // while earlier ones are still connecting (RFC 8305); the first TCP
  // connection wins and the others are closed. max(): one at a time.
  std::chrono::milliseconds attempt_delay{250};
  // Largest WebSocket message write() produces (and lws's receive chunk).
  size_t max_message = 64 * 1024;
  // Connect to this address instead of resolving `host` (an IP literal and
  // port; used for a local hop through a proxy). Host header, SNI and
  // certificate checks still use `host`.
  std::string connect_address = {};
  uint16_t connect_port = 0;
};

// Starts connecting (never blocks). Call connect() until Ok or Error.
std::unique_ptr<Stream> open(const Options& options);

// The HTTP status of a refused upgrade (0 when there was none).
int upgrade_status(const Stream& stream);

}  // namespace transport::ws
