// TLS (OpenSSL 3.0) as a transport::Stream layered over another Stream
// (normally the TCP stream). Non-blocking like every Stream: OpenSSL works on
// memory BIOs and this layer moves the ciphertext through the inner stream
// itself, so OpenSSL never touches the socket (no SIGPIPE, no blocking).
//
// Life cycle:
//   std::string err;
//   auto ctx = transport::tls::make_context(options, &err);  // once per
//   if (!ctx) report(err);            // connection options: loads the CAs,
//                                     // client cert/key; holds the session
//   for every (re)connect:
//     auto s = transport::tls::wrap(transport::tcp::open({host, port}), ctx, host);
//     loop: wait until fd() is ready for interest(), then call connect()
//           until Ok or Error (connect() drives the inner connect, then the
//           TLS handshake; certificate checks happen here).
//     then: read()/write()/writev() until Closed/Error; close().
//
// Contract (in addition to stream.h):
// - interest() may ask for a write while reading and a read while
//   connecting/writing: wait for exactly what it says.
// - write() encrypts the plaintext it accepts and reports those bytes as Ok;
//   ciphertext the inner stream did not take yet is buffered here and sent
//   first by the next write() (or read()) call. While some is still pending,
//   write() returns WouldBlock: wait for fd() writable. write({}) only flushes.
// - read() returns Closed on the peer's close_notify or on the inner stream's
//   end of file; Error (error() says why) on a TLS alert or failure. With
//   TLS 1.3 a server that refuses our client certificate (or requires one
//   and we have none) says so only after the client's side of the handshake
//   is complete: connect() returns Ok and the first read() returns Error with
//   that reason.
// - read() returns WouldBlock only after the inner stream did, so an
//   edge-triggered reactor never misses data buffered inside TLS.
// - Errors: ErrorKind::Tls for TLS failures (handshake refused, certificate
//   not trusted / expired / for another host, alerts), with the reason in
//   message; failures of the inner stream keep the inner stream's kind and
//   errno (during the handshake the message says "TLS handshake with HOST
//   failed: ...").
// - close() sends close_notify when it can without blocking, then closes the
//   inner stream. Idempotent.
// - TLS 1.2 renegotiation is refused (so that write() never has to read).
//
// Session resumption: the Context keeps the latest session per host (TLS 1.3
// tickets arrive after the handshake, on a read) and offers it on the next
// wrap() for the same host; session_reused() tells whether it was accepted.
//
// Threads: a Context may be shared by streams on several threads (its session
// store is locked); each stream has one owner thread, like every Stream.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/stream.h"

namespace transport::tls {

struct Options {
  // Trust anchors, in any combination: a PEM file, a hashed directory
  // (`openssl rehash DIR`), PEM text in memory, the system store. When none
  // is given the system store is used.
  std::string ca_file, ca_dir, ca_pem;
  bool system_store = false;

  // Client certificate (chain) and key: files or PEM text; an encrypted key
  // needs key_passphrase (never prompted for).
  std::string cert_file, key_file, cert_pem, key_pem, key_passphrase;

  // Server Name Indication. Default: the host passed to wrap(), but never an
  // IP literal (RFC 6066). Set to override; an empty string sends none.
  std::optional<std::string> sni;

  bool verify_peer = true;  // verify the certificate chain
  // Check that the certificate is for the host passed to wrap() (DNS name,
  // or IP address for an IP literal). Only in effect with verify_peer.
  bool verify_host = true;

  std::vector<std::string> alpn;  // offered protocols, e.g. {"mqtt"}
  int min_version = 0;            // e.g. TLS1_2_VERSION; 0 = OpenSSL default
  int max_version = 0;            // e.g. TLS1_2_VERSION; 0 = OpenSSL default

  // Called once by make_context() with the SSL_CTX* after everything above
  // was applied, for settings this struct does not cover.
  std::function<void(void* ssl_ctx)> configure_ctx;

  bool session_resumption = true;  // keep sessions for the next connect
};

// Built once per connection options (loading CAs is expensive), shared by
// every stream of every reconnect.
class Context;

// nullptr with *error set when a CA, certificate or key cannot be loaded
// (missing file, bad PEM, wrong passphrase, key not matching the cert).
std::shared_ptr<Context> make_context(const Options& options, std::string* error);

// The TLS stream. wrap() returns one; it converts to unique_ptr<Stream>.
class TlsStream : public Stream {
 public:
  // True when the last handshake resumed a session (abbreviated handshake).
  virtual bool session_reused() const = 0;
  // The protocol the server selected by ALPN; empty when none.
  virtual std::string alpn_protocol() const = 0;
  // e.g. "TLSv1.3"; empty before the handshake.
  virtual std::string protocol_version() const = 0;
};

// Layers TLS over `inner` (connected or still connecting). `host` is the name
// or IP literal the certificate must match and the default SNI.
std::unique_ptr<TlsStream> wrap(std::unique_ptr<Stream> inner, std::shared_ptr<Context> ctx,
                                const std::string& host);

// The same for a stream known only as a Stream: false / empty when it is
// not a TLS stream.
bool session_reused(const Stream& stream);
std::string alpn_protocol(const Stream& stream);

// For a TLS engine that creates its own SSL objects from the Context's
// SSL_CTX (the WebSocket transport: libwebsockets). Not for applications.
namespace detail {
void* native_handle(const Context& c);  // the SSL_CTX*
// SNI, host/IP verification and the stored session on `ssl` (an SSL*),
// before its handshake. False with *error when one cannot be applied.
bool prepare_foreign(Context& c, void* ssl, const std::string& host, std::string* error);
// Keeps the session of `ssl` for the next connection to `host`.
void keep_session(Context& c, void* ssl, const std::string& host);
bool verify_peer(const Context& c);
bool verify_host(const Context& c);
// Why certificate verification failed on `ssl`; empty when it did not.
std::string describe_failure(void* ssl, const std::string& host);
}  // namespace detail

}  // namespace transport::tls
