// A non-blocking byte stream that a reactor drives: it never blocks the
// calling thread and reports every error as a value (no exceptions, no
// signals). One owner thread; not thread-safe.
//
// Life cycle:
//   auto s = transport::tcp::open({host, port});   // starts connecting
//   loop: wait until fd() is ready for interest(), then call connect()
//         until it returns Ok (connected) or Error (see error()).
//   then: read()/write()/writev() until Closed/Error; close().
//
// fd() may change while connecting (e.g. from a resolver's notification fd
// to the socket): re-register it after every connect() call. Streams layered
// on top (TLS, WebSocket) implement the same interface and may need to write
// in order to read (interest() says what to wait for).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace transport {

enum class Status : uint8_t {
  Ok,          // done (connect) / some bytes transferred (read, write)
  WouldBlock,  // nothing possible now: wait for interest() on fd()
  Closed,      // the peer closed the stream (read returned end of file)
  Error,       // failed: error() says why; the stream is unusable
};

enum class ErrorKind : uint8_t {
  None,
  Dns,      // the host name could not be resolved
  Connect,  // every address refused or failed
  Io,       // read/write failed
  Tls,      // TLS handshake, certificate verification or alert (transport/tls)
  WebSocket,  // the WebSocket upgrade was refused or failed (transport/ws)
};

struct Error {
  ErrorKind kind = ErrorKind::None;
  int sys_errno = 0;  // errno, or an EAI_* code for Dns
  std::string message;
};

struct IoResult {
  Status status = Status::Ok;
  size_t bytes = 0;  // Ok: bytes transferred (> 0)
};

struct Interest {
  bool read = false;
  bool write = false;
};

class Stream {
 public:
  virtual ~Stream() = default;

  // The descriptor to wait on; -1 when there is nothing to wait on (e.g.
  // closed). May change during connect().
  virtual int fd() const = 0;
  // What to wait for on fd() before calling connect() again (while
  // connecting) or read()/write() again after WouldBlock.
  virtual Interest interest() const = 0;

  // Advances a connect in progress. Ok once connected (calling it again then
  // returns Ok at once), WouldBlock while in progress, Error on failure.
  virtual Status connect() = 0;
  virtual bool connected() const = 0;

  virtual IoResult read(std::span<uint8_t> buf) = 0;
  virtual IoResult write(std::span<const uint8_t> buf) = 0;
  // Gathered write; the default writes the buffers one after another.
  virtual IoResult writev(std::span<const std::span<const uint8_t>> bufs);

  // Ends the sending direction once what was written has gone (TCP: a FIN);
  // reads go on until the peer closes. For a graceful close: closing with
  // the peer's bytes unread resets the connection, and the peer may then
  // drop what we wrote last. The default does nothing (layered streams).
  virtual void shutdown_write() {}

  // Releases the descriptor(s). Idempotent.
  virtual void close() = 0;

  // The last error (kind None when there was none).
  virtual const Error& error() const = 0;
};

inline IoResult Stream::writev(std::span<const std::span<const uint8_t>> bufs) {
  IoResult total{Status::WouldBlock, 0};
  for (auto b : bufs) {
    if (b.empty()) continue;
    IoResult r = write(b);
    if (r.status != Status::Ok) {
      if (total.bytes > 0) return total;
      return r;
    }
    total.status = Status::Ok;
    total.bytes += r.bytes;
    if (r.bytes < b.size()) break;
  }
  return total;
}

}  // namespace transport
