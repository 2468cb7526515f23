// WebSocket through a proxy tunnel, with one local hop.
//
// libwebsockets 4.1.6 connects its client sockets itself (no SOCKS5, no
// adopting a connected client socket), and its own HTTP-proxy support
// reports every refusal as "proxy not h1". So for ws/wss through an HTTP
// CONNECT or SOCKS5 proxy this stream opens the tunnel with this library's
// proxy streams (clear errors for a refusing proxy, wrong credentials, an
// unreachable broker), then lets libwebsockets connect to a one-shot
// listener on 127.0.0.1 and relays bytes between that loopback connection
// and the tunnel. TLS (wss) runs end to end inside it: SNI, Host header and
// certificate checks name the broker, not 127.0.0.1.
//
// The listener takes one connection, only from libwebsockets' own socket
// (checked by address and port), and closes. Only this path has the hop;
// direct ws/wss connections have none.
//
// fd() is an epoll descriptor over the tunnel, the loopback pair and the
// listener (readable when any of them has something to do). interest()
// asks for a write after write() returned WouldBlock: wait for fd()
// readable then. Otherwise as stream.h.
#pragma once

#include <memory>

#include "transport/stream.h"
#include "transport/ws/ws.h"

namespace transport::ws {

// `tunnel`: a stream to the broker through the proxy (connected or still
// connecting). `options`: the WebSocket options for the broker (host,
// port, path, TLS...).
std::unique_ptr<Stream> open_through(std::unique_ptr<Stream> tunnel, const Options& options);

}  // namespace transport::ws
