// Unix domain socket implementation of transport::Stream (SOCK_STREAM).
//
//   auto s = transport::unix_socket::open("/run/mosquitto/mqtt.sock");
//   // then as any Stream: connect() until Ok or Error, read()/write().
//
// A path starting with '@' names a socket in Linux's abstract namespace
// (the '@' stands for the leading NUL byte). Connecting never blocks: a
// listener whose backlog is full answers EAGAIN, and connect() then returns
// WouldBlock and tries again on the next call. Writes use MSG_NOSIGNAL.
#pragma once

#include <memory>
#include <string>

#include "transport/stream.h"

namespace transport::unix_socket {

// Longest path (sockaddr_un::sun_path less the terminating NUL).
inline constexpr size_t kMaxPath = 107;

// Starts connecting. A path that is empty or longer than kMaxPath makes
// connect() fail with ErrorKind::Connect (EINVAL / ENAMETOOLONG).
std::unique_ptr<Stream> open(const std::string& path);

}  // namespace transport::unix_socket
