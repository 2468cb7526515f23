#include "transport/ws/ws.h"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <mutex>

#include "transport/tcp/resolver.h"

namespace transport::ws {
namespace {

// lws_service() calls per connect()/read()/write() before giving up on a
// connection that reports readiness but makes no progress (never seen).
constexpr int kMaxServices = 1024;

// libwebsockets logs through one process-wide sink; keep its last error
// line (per thread: the thread that services) for error messages.
// A plain array: lws may log while a thread's cached contexts are destroyed
// at its exit, after thread_local objects with destructors are gone.
thread_local char t_last_log[256];

void log_sink(int level, const char* line) {
  if (!(level & LLL_ERR) || !line) return;
  size_t n = strnlen(line, sizeof t_last_log - 1);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ')) --n;
  std::memcpy(t_last_log, line, n);
  t_last_log[n] = '\0';
}

std::string last_log() { return t_last_log; }

class WsStream;
// The stream whose lws_service() / lws call is running on this thread: the
// protocol and OpenSSL callbacks find their stream through it.
thread_local WsStream* t_current = nullptr;

int protocol_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

// OpenSSL's own verdict on each certificate of the chain, unchanged.
int keep_verdict(int ok, X509_STORE_CTX*) { return ok; }

// verify_peer = false: every certificate passes, and the recorded result
// stays "ok" (lws checks it again after the handshake).
int accept_any(int, X509_STORE_CTX* store) {
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}
void ssl_info_callback(const SSL* ssl, int where, int ret);

std::string address_text(const tcp::Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a.addr)->sin6_addr, buf,
                sizeof buf);
  } else {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.addr)->sin_addr, buf,
                sizeof buf);
  }
  return buf;
}

bool is_ipv6_literal(const std::string& host) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

// libwebsockets contexts, kept per thread for the next connection with the
// same TLS context and message size. Each wss context creation makes
// libwebsockets register new OpenSSL ex-data indexes (it never frees them,
// and every later SSL_new walks them all), so a context per reconnect
// would grow without bound on a flapping wss link. A context is used by one
// stream at a time: it is taken from here and given back with no
// connection left in it.
struct LwsContext {
  lws_context* ctx = nullptr;
  std::unique_ptr<lws_protocols[]> protocols;  // lws keeps a pointer to them
  std::shared_ptr<tls::Context> tls;           // lws keeps its SSL_CTX
  size_t max_message = 0;
};

class ContextCache {
 public:
  ~ContextCache() {
    for (LwsContext& c : items_) lws_context_destroy(c.ctx);
  }
  LwsContext take(const std::shared_ptr<tls::Context>& tls, size_t max_message) {
    for (auto it = items_.begin(); it != items_.end(); ++it) {
      if (it->tls == tls && it->max_message == max_message) {
        LwsContext c = std::move(*it);
        items_.erase(it);
        return c;
      }
    }
    return {};
  }
  void give_back(LwsContext c) {
    if (items_.size() >= kMax) {
      lws_context_destroy(items_.front().ctx);
      items_.erase(items_.begin());
    }
    items_.push_back(std::move(c));
  }

 private:
  static constexpr size_t kMax = 2;
  std::vector<LwsContext> items_;
};

thread_local ContextCache t_contexts;

class WsStream final : public Stream {
 public:
  explicit WsStream(Options o) : o_(std::move(o)) {
    static std::once_flag log_once;
    std::call_once(log_once, [] { lws_set_log_level(LLL_ERR | LLL_WARN, log_sink); });
    rx_.reserve(o_.max_message);
    const bool default_port = o_.port == (o_.tls ? 443 : 80);
    host_header_ = is_ipv6_literal(o_.host) ? "[" + o_.host + "]" : o_.host;
    if (!default_port) host_header_ += ":" + std::to_string(o_.port);
    if (o_.tls) {
      // OpenSSL writes to the socket itself for wss: a reset peer must not
      // raise SIGPIPE. Blocked on this (the reactor's) thread only; a
      // pending one is never delivered here.
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
      auto* ctx = static_cast<SSL_CTX*>(tls::detail::native_handle(*o_.tls));
      if (SSL_CTX_get_info_callback(ctx) == nullptr) SSL_CTX_set_info_callback(ctx, ssl_info_callback);
    }
    tcp::ResolveResult r;
    if (!o_.connect_address.empty()) {
      if (!tcp::resolve_numeric(o_.connect_address, o_.connect_port, r) || r.addresses.empty()) {
        fail(ErrorKind::Connect, 0, "invalid connect address '" + o_.connect_address + "'");
        return;
      }
      on_resolved(std::move(r));
    } else if (tcp::resolve_numeric(o_.host, o_.port, r)) {
      on_resolved(std::move(r));
    } else {
      resolver_ = std::make_unique<tcp::AsyncResolver>(o_.host, o_.port);
      phase_ = Phase::Resolving;
    }
  }

  ~WsStream() override { close(); }

  int fd() const override {
    switch (phase_) {
      case Phase::Resolving: return resolver_ ? resolver_->fd() : -1;
      case Phase::Connecting:
        // Racing several addresses: an epoll set of their sockets and the
        // stagger timer. Otherwise the one socket.
        if (race_fd_ >= 0) return race_fd_;
        for (const Attempt& a : attempts_)
          if (a.live()) return a.sock;
        return -1;
      case Phase::Open: return sock_;
      default: return -1;
    }
  }

  Interest interest() const override {
    switch (phase_) {
      case Phase::Resolving: return {true, false};
      case Phase::Connecting: return {true, race_fd_ < 0};
      case Phase::Open: return {true, wsi_ && lws_partial_buffered(wsi_)};
      default: return {false, false};
    }
  }

  Status connect() override {
    if (phase_ == Phase::Resolving) {
      if (!resolver_->ready()) return Status::WouldBlock;
      tcp::ResolveResult r = resolver_->result();
      resolver_.reset();
      on_resolved(std::move(r));
    }
    if (race_fd_ >= 0) drain_race_events();
    for (int i = 0; i < kMaxServices; ++i) {
      switch (phase_) {
        case Phase::Open:
          for (Attempt& a : attempts_)
            if (a.live() && a.wsi != wsi_) abandon(a);
          end_race();
          return Status::Ok;
        case Phase::Connecting: break;
        default: return Status::Error;
      }
      note_tcp_connects();
      const size_t live = live_attempts();
      const Attempt* won = winner();
      if (won == nullptr && next_address_ < addresses_.size() && live < kMaxLiveAttempts &&
          (live == 0 || std::chrono::steady_clock::now() >= next_start_)) {
        // RFC 8305: the next address after the attempt delay, or at once
        // when every earlier attempt has failed.
        start_next();
        continue;
      }
      if (live == 0) {
        finish_attempt_error();
        return Status::Error;
      }
      if (!wants_service()) {
        sync_race();
        return Status::WouldBlock;
      }
      service();
    }
    fail(ErrorKind::Io, 0, "WebSocket handshake with " + o_.host + " made no progress");
    return Status::Error;
  }

  bool connected() const override { return phase_ == Phase::Open; }

  IoResult read(std::span<uint8_t> buf) override {
    for (int i = 0; i < kMaxServices; ++i) {
      if (rx_off_ < rx_.size()) {
        const size_t n = std::min(buf.size(), rx_.size() - rx_off_);
        std::memcpy(buf.data(), rx_.data() + rx_off_, n);
        rx_off_ += n;
        if (rx_off_ == rx_.size()) rx_.clear(), rx_off_ = 0;
        return {Status::Ok, n};
      }
      if (phase_ == Phase::Failed) return {Status::Error, 0};
      if (phase_ != Phase::Open) return {error_.kind == ErrorKind::None ? Status::Closed : Status::Error, 0};
      if (!wants_service()) return {Status::WouldBlock, 0};
      service();
    }
    fail(ErrorKind::Io, 0, "WebSocket connection to " + o_.host + " made no progress");
    return {Status::Error, 0};
  }

  IoResult write(std::span<const uint8_t> buf) override {
    const std::span<const uint8_t> one[] = {buf};
    return writev(one);
  }

  // Gathers as many buffers as fit into one WebSocket message.
  IoResult writev(std::span<const std::span<const uint8_t>> bufs) override {
    if (phase_ != Phase::Open || !wsi_) {
      if (phase_ == Phase::Open || error_.kind == ErrorKind::None)
        fail(ErrorKind::Io, EPIPE, "WebSocket connection to " + o_.host + " is closed");
      return {Status::Error, 0};
    }
    // lws keeps what the socket did not take; send that first.
    for (int i = 0; wsi_ && lws_partial_buffered(wsi_); ++i) {
      if (i >= kMaxServices || !socket_ready(sock_, POLLOUT)) return {Status::WouldBlock, 0};
      service();
    }
    if (phase_ != Phase::Open || !wsi_) return {Status::Error, 0};
    size_t total = 0;
    tx_.resize(LWS_PRE + o_.max_message);
    for (auto b : bufs) {
      const size_t n = std::min(b.size(), o_.max_message - total);
      if (n == 0) continue;
      std::memcpy(tx_.data() + LWS_PRE + total, b.data(), n);
      total += n;
      if (total == o_.max_message) break;
    }
    if (total == 0) return {Status::Ok, 0};
    WsStream* prev = t_current;
    t_current = this;
    const int w = lws_write(wsi_, tx_.data() + LWS_PRE, total, LWS_WRITE_BINARY);
    t_current = prev;
    if (w < 0) {
      fail(ErrorKind::Io, EPIPE, "WebSocket write to " + o_.host + " failed");
      return {Status::Error, 0};
    }
    // Whatever the socket did not take, lws has buffered: all of it is ours.
    return {Status::Ok, total};
  }

  void close() override {
    if (ctx_) {
      // Every connection, the open one included, is an attempt's.
      wsi_ = nullptr;
      for (Attempt& a : attempts_)
        if (a.wsi) abandon(a);
      LwsContext c;
      c.ctx = ctx_;
      c.protocols = std::move(protocols_);
      c.tls = o_.tls;
      c.max_message = o_.max_message;
      ctx_ = nullptr;
      t_contexts.give_back(std::move(c));
    }
    for (Attempt& a : attempts_) a.wsi = nullptr;
    wsi_ = nullptr;
    sock_ = -1;
    resolver_.reset();
    end_race();
    if (phase_ != Phase::Failed) phase_ = Phase::Closed;
  }

  const Error& error() const override { return error_; }

  int http_status() const { return http_status_; }

  // --- callbacks (on this thread, inside an lws call) ---

  int on_event(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
    switch (reason) {
      case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        auto** p = static_cast<unsigned char**>(in);
        unsigned char* end = *p + len;
        for (const auto& [name, value] : o_.headers) {
          std::string n = name;
          if (n.empty() || n.back() != ':') n += ':';
          if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(n.c_str()),
                                          reinterpret_cast<const unsigned char*>(value.data()),
                                          static_cast<int>(value.size()), p, end) != 0) {
            return -1;  // does not fit: lws fails the connection
          }
        }
        return 0;
      }
      case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (Attempt* a = attempt_of(wsi); a && phase_ == Phase::Connecting) {
          a->tcp_connected = true;
          wsi_ = wsi;
          sock_ = a->sock;
          phase_ = Phase::Open;
          // TLS 1.3 tickets come right after the handshake, before the
          // server's HTTP answer: the session to offer next time is known.
          if (o_.tls) keep_session();
        }
        return 0;
      case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (Attempt* a = attempt_of(wsi); a && !a->abandoned) {
          const int status = static_cast<int>(lws_http_client_http_response(wsi));
          if (status > 0 && status != 101) a->http_status = status;
          const auto* text = static_cast<const char*>(in);
          a->reason = text ? std::string(text, strnlen(text, len ? len : 256)) : std::string();
          while (!a->reason.empty() && (a->reason.back() == '\n' || a->reason.back() == ' '))
            a->reason.pop_back();
          if (a->reason.empty()) a->reason = last_log();
          a->wsi = nullptr;
        }
        return 0;
      case LWS_CALLBACK_CLIENT_RECEIVE:
        if (wsi == wsi_ && !lws_frame_is_binary(wsi)) {
          // MQTT travels in binary frames only; anything else closes the
          // connection [MQTT-6.0.0-1].
          fail(ErrorKind::WebSocket, 0,
               "WebSocket text frame from " + o_.host + ": MQTT needs binary frames");
          wsi_ = nullptr;
          return -1;  // lws closes the connection
        }
        if (wsi == wsi_ && len > 0) {
          const auto* b = static_cast<const uint8_t*>(in);
          rx_.insert(rx_.end(), b, b + len);
        }
        return 0;
      case LWS_CALLBACK_CLIENT_CLOSED:
      case LWS_CALLBACK_WSI_DESTROY:
        if (wsi == wsi_) {
          wsi_ = nullptr;
          if (phase_ == Phase::Open) {
            phase_ = Phase::Closed;
            // With TLS 1.3 a refused client certificate arrives as an alert
            // after the handshake: say so instead of a bare close.
            if (const Attempt* a = attempt_of_sock(sock_); a && !a->tls_alert.empty())
              fail(ErrorKind::Tls, 0, alert_message(*a));
          }
        }
        if (Attempt* a = attempt_of(wsi)) a->wsi = nullptr;
        return 0;
      default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
  }

  void on_ssl_info(SSL* ssl, int where, int ret) {
    Attempt* a = attempt_of_sock(SSL_get_fd(ssl));
    if (!a) return;
    if (where & SSL_CB_HANDSHAKE_START) {
      if (a->tls_prepared) return;  // TLS 1.3 post-handshake messages
      a->tls_prepared = true;
      std::string why;
      if (!tls::detail::prepare_foreign(*o_.tls, ssl, o_.host, &why)) a->tls_failure = why;
      // Verification exactly as for mqtts://, with OpenSSL's own chain and
      // name checks: lws's verify callback would look its connection up
      // through a process-wide index that each new lws context overwrites.
      const bool verify = tls::detail::verify_peer(*o_.tls);
      SSL_set_verify(ssl, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                     verify ? keep_verdict : accept_any);
    } else if (where & SSL_CB_ALERT) {
      // OpenSSL 3.0 has no text for TLS 1.3's certificate_required (116).
      const int desc = ret & 0xff;
      const std::string alert =
          desc == 116 ? std::string("certificate required") : SSL_alert_desc_string_long(ret);
      if (where & SSL_CB_READ) {
        // The server's alert: it refused the handshake or our certificate.
        if (a->tls_alert.empty()) a->tls_alert = alert;
      } else if (a->tls_failure.empty()) {
        // We sent an alert: usually our certificate check failed.
        const std::string v = tls::detail::describe_failure(ssl, o_.host);
        a->tls_failure = v.empty() ? "we sent the alert '" + alert + "'" : v;
      }
    }
  }

 private:
  enum class Phase : uint8_t { Resolving, Connecting, Open, Closed, Failed };

  // One connection attempt to one address (RFC 8305: several may run).
  struct Attempt {
    lws* wsi = nullptr;  // null once lws is done with it
    int sock = -1;
    std::string ip;
    bool tcp_connected = false;
    // lws has run with the TCP connection up, so it has taken the connect's
    // completion (it waits for writable until then).
    bool lws_saw_connect = false;
    bool up_before_service = false;
    bool abandoned = false;  // closed by us: another attempt won
    bool tls_prepared = false;
    int http_status = 0;
    std::string reason, tls_failure, tls_alert;
    bool live() const { return wsi != nullptr && !abandoned; }
  };
  static constexpr size_t kMaxLiveAttempts = 4;  // within the context's fd limit

  void fail(ErrorKind kind, int err, std::string message) {
    error_.kind = kind;
    error_.sys_errno = err;
    error_.message = std::move(message);
    phase_ = Phase::Failed;
  }

  void on_resolved(tcp::ResolveResult r) {
    if (r.error != 0 || r.addresses.empty()) {
      fail(ErrorKind::Dns, r.error,
           "cannot resolve " + o_.host + ": " +
               (r.error != 0 ? std::string(gai_strerror(r.error)) : std::string("no address")));
      return;
    }
    addresses_ = tcp::interleave_families(r.addresses);
    // Attempts are found by address: no reallocation while lws holds
    // pointers into them (pwsi).
    attempts_.reserve(addresses_.size());
    phase_ = Phase::Connecting;
    if (!make_context()) return;
    if (addresses_.size() > 1 && o_.attempt_delay != std::chrono::milliseconds::max() &&
        !open_race()) {
      return;
    }
    start_next();
  }

  bool make_context() {
    LwsContext cached = t_contexts.take(o_.tls, o_.max_message);
    if (cached.ctx) {
      ctx_ = cached.ctx;
      protocols_ = std::move(cached.protocols);
      return true;
    }
    protocols_ = std::make_unique<lws_protocols[]>(2);
    protocols_[0].name = "mqtt-client";
    protocols_[0].callback = protocol_callback;
    protocols_[0].rx_buffer_size = o_.max_message;
    protocols_[0].tx_packet_size = o_.max_message;
    lws_context_creation_info info{};
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols_.get();
    info.gid = -1;
    info.uid = -1;
    // Send Origin as given (lws would otherwise prefix "http://").
    info.options = LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
    // Our descriptors: the attempts' sockets and lws's event pipe.
    info.fd_limit_per_thread = kMaxLiveAttempts + 4;
    // Timeouts are ours (connect_timeout, keepalive): keep lws's out of the way.
    info.timeout_secs = 24 * 3600;
    info.connect_timeout_secs = 24 * 3600;
    if (o_.tls) {
      info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
      info.provided_client_ssl_ctx = static_cast<SSL_CTX*>(tls::detail::native_handle(*o_.tls));
    }
    // lws ignores SIGPIPE process-wide when it starts; put back what the
    // application had (the reactor thread blocks it for wss instead).
    struct sigaction old_pipe {};
    ::sigaction(SIGPIPE, nullptr, &old_pipe);
    WsStream* prev = t_current;
    t_current = this;
    ctx_ = lws_create_context(&info);
    t_current = prev;
    ::sigaction(SIGPIPE, &old_pipe, nullptr);
    if (!ctx_) {
      fail(ErrorKind::Connect, 0, "cannot create the WebSocket context" + log_detail());
      return false;
    }
    return true;
  }

  // Starts a connection to the next resolved address.
  void start_next() {
    const tcp::Address& addr = addresses_[next_address_++];
    attempts_.emplace_back();
    Attempt& a = attempts_.back();
    a.ip = address_text(addr);
    alpn_.clear();
    for (const auto& p : o_.tls_options.alpn) alpn_ += (alpn_.empty() ? "" : ",") + p;
    if (alpn_.empty()) alpn_ = "http/1.1";
    lws_client_connect_info ci{};
    ci.context = ctx_;
    ci.address = a.ip.c_str();
    ci.port = o_.connect_address.empty() ? o_.port : o_.connect_port;
    ci.path = o_.path.c_str();
    ci.host = host_header_.c_str();
    ci.origin = o_.origin.empty() ? nullptr : o_.origin.c_str();
    ci.protocol = o_.subprotocol.c_str();
    ci.local_protocol_name = protocols_[0].name;
    ci.iface = o_.bind_address.empty() ? nullptr : o_.bind_address.c_str();
    ci.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
    if (o_.tls) {
      // Host/IP verification, SNI and the verify mode are set per connection
      // at handshake start (on_ssl_info), not by lws.
      ci.ssl_connection |= LCCSCF_USE_SSL | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
      ci.alpn = alpn_.c_str();
    }
    ci.pwsi = &a.wsi;
    t_last_log[0] = '\0';
    WsStream* prev = t_current;
    t_current = this;
    lws* w = lws_client_connect_via_info(&ci);
    t_current = prev;
    if (!w) {
      a.wsi = nullptr;
      if (a.reason.empty()) a.reason = t_last_log[0] ? last_log() : "connect failed";
    }
    a.sock = a.wsi ? static_cast<int>(lws_get_socket_fd(a.wsi)) : -1;
    const auto now = std::chrono::steady_clock::now();
    next_start_ = o_.attempt_delay >= std::chrono::hours(24) ? now + std::chrono::hours(24)
                                                             : now + o_.attempt_delay;
  }

  Attempt* attempt_of(lws* wsi) {
    if (!wsi) return nullptr;
    for (Attempt& a : attempts_)
      if (a.wsi == wsi) return &a;
    return nullptr;
  }

  // The latest attempt on descriptor `sock` (numbers of failed attempts'
  // sockets are reused by later ones).
  Attempt* attempt_of_sock(int sock) {
    if (sock < 0) return nullptr;
    for (auto it = attempts_.rbegin(); it != attempts_.rend(); ++it)
      if (it->sock == sock) return &*it;
    return nullptr;
  }

  size_t live_attempts() const {
    size_t n = 0;
    for (const Attempt& a : attempts_) n += a.live() ? 1 : 0;
    return n;
  }

  // The attempt whose TCP connection is up (the race is over), if any.
  const Attempt* winner() const {
    for (const Attempt& a : attempts_)
      if (a.live() && a.tcp_connected) return &a;
    return nullptr;
  }

  // Marks attempts whose TCP connect completed; the first one ends the race:
  // the others are closed.
  void note_tcp_connects() {
    if (winner()) return;
    for (Attempt& a : attempts_) {
      if (!a.live() || a.sock < 0) continue;
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      if (::getpeername(a.sock, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
      a.tcp_connected = true;
      for (Attempt& other : attempts_)
        if (&other != &a && other.live()) abandon(other);
      return;
    }
  }

  void abandon(Attempt& a) {
    a.abandoned = true;
    lws* w = a.wsi;
    a.wsi = nullptr;
    kill(w);
  }

  // Closes a connection at once (its callbacks run now, with this stream).
  void kill(lws* w) {
    if (!w) return;
    WsStream* prev = t_current;
    t_current = this;
    lws_set_timeout(w, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE, LWS_TO_KILL_SYNC);
    t_current = prev;
  }

  void finish_attempt_error() {
    // The attempt that got furthest speaks for all: one that reached the
    // server (HTTP, TLS), else every address with its reason.
    const Attempt* best = nullptr;
    for (const Attempt& a : attempts_)
      if (!a.abandoned && a.tcp_connected) best = &a;
    const std::string where = o_.host + ":" + std::to_string(o_.port);
    if (!best) {
      std::string why;
      for (const Attempt& a : attempts_) {
        if (a.abandoned) continue;
        if (!why.empty()) why += "; ";
        why += a.ip + ": " + (a.reason.empty() ? "connection failed" : a.reason);
      }
      fail(ErrorKind::Connect, ECONNREFUSED, "cannot connect to " + where + " (" + why + ")");
      return;
    }
    const std::string at = where + (best->ip != o_.host ? " (" + best->ip + ")" : std::string());
    http_status_ = best->http_status;
    if (best->http_status != 0) {
      fail(ErrorKind::WebSocket, 0,
           "WebSocket upgrade refused by " + at + ": HTTP " + std::to_string(best->http_status) +
               " (path " + o_.path + ")");
    } else if (!best->tls_failure.empty()) {
      fail(ErrorKind::Tls, 0, "TLS handshake with " + o_.host + " failed: " + best->tls_failure);
    } else if (!best->tls_alert.empty()) {
      fail(ErrorKind::Tls, 0, alert_message(*best));
    } else {
      fail(ErrorKind::WebSocket, 0,
           "WebSocket handshake with " + at + " failed: " +
               (best->reason.empty() ? "connection closed" : best->reason));
    }
  }

  std::string alert_message(const Attempt& a) const {
    if (a.tls_alert.find("certificate required") != std::string::npos)
      return "TLS: the server requires a client certificate and none is configured (" +
             a.tls_alert + ") [" + o_.host + "]";
    return "TLS: the server sent an alert: " + a.tls_alert + " [" + o_.host + "]";
  }

  std::string log_detail() const { return t_last_log[0] ? " [" + last_log() + "]" : std::string(); }

  void keep_session() {
    if (SSL* ssl = wsi_ ? lws_get_ssl(wsi_) : nullptr) tls::detail::keep_session(*o_.tls, ssl, o_.host);
  }

  // One pass of lws over its descriptors, without waiting.
  void service() {
    if (!ctx_) return;
    note_tcp_connects();
    for (Attempt& a : attempts_) a.up_before_service = a.live() && a.tcp_connected;
    WsStream* prev = t_current;
    t_current = this;
    lws_service(ctx_, -1);
    t_current = prev;
    for (Attempt& a : attempts_)
      if (a.up_before_service) a.lws_saw_connect = true;
  }

  static bool socket_ready(int sock, short events) {
    if (sock < 0) return false;
    pollfd p{sock, events, 0};
    return ::poll(&p, 1, 0) > 0 && p.revents != 0;
  }

  // Something for lws to do now: a socket is ready for what lws waits
  // for, or lws holds data it has not handed over yet (TLS records,
  // buffered input).
  bool wants_service() const {
    if (!ctx_) return false;
    if (lws_service_adjust_timeout(ctx_, 1, 0) == 0) return true;
    if (phase_ == Phase::Open)
      return socket_ready(sock_, POLLIN | (wsi_ && lws_partial_buffered(wsi_) ? POLLOUT : 0));
    std::array<pollfd, kMaxLiveAttempts + 1> fds{};
    nfds_t n = 0;
    for (const Attempt& a : attempts_) {
      if (!a.live() || a.sock < 0 || n == fds.size()) continue;
      fds[n++] = {a.sock, static_cast<short>(POLLIN | (a.lws_saw_connect ? 0 : POLLOUT)), 0};
    }
    return n > 0 && ::poll(fds.data(), n, 0) > 0;
  }

  // --- the race's descriptor: an epoll set of the live attempts' sockets
  // and a timerfd for the next attempt's start ---

  bool open_race() {
    race_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (race_fd_ < 0 || timer_fd_ < 0) {
      fail(ErrorKind::Io, errno, std::string("cannot start connection attempts: ") + std::strerror(errno));
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = timer_fd_;
    ::epoll_ctl(race_fd_, EPOLL_CTL_ADD, timer_fd_, &ev);
    return true;
  }

  // Registers the live sockets (edge-triggered) and arms the timer for the
  // next attempt when one is due.
  void sync_race() {
    if (race_fd_ < 0) return;
    std::vector<int> now_live;
    for (const Attempt& a : attempts_)
      if (a.live() && a.sock >= 0) now_live.push_back(a.sock);
    for (int fd : race_watched_)
      if (std::find(now_live.begin(), now_live.end(), fd) == now_live.end())
        ::epoll_ctl(race_fd_, EPOLL_CTL_DEL, fd, nullptr);  // may be closed already
    for (int fd : now_live) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.fd = fd;
      if (::epoll_ctl(race_fd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
        ::epoll_ctl(race_fd_, EPOLL_CTL_MOD, fd, &ev);
    }
    race_watched_ = std::move(now_live);
    itimerspec spec{};
    if (!winner() && next_address_ < addresses_.size()) {
      const auto left = std::max<std::chrono::nanoseconds>(
          next_start_ - std::chrono::steady_clock::now(), std::chrono::nanoseconds(1));
      spec.it_value.tv_sec = static_cast<time_t>(left.count() / 1000000000);
      spec.it_value.tv_nsec = static_cast<long>(left.count() % 1000000000);
    }
    ::timerfd_settime(timer_fd_, 0, &spec, nullptr);
  }

  void drain_race_events() {
    uint64_t ticks;
    while (::read(timer_fd_, &ticks, sizeof ticks) > 0) {
    }
    std::array<epoll_event, 8> evs{};
    for (int i = 0; i < 16; ++i)
      if (::epoll_wait(race_fd_, evs.data(), static_cast<int>(evs.size()), 0) < 8) break;
  }

  void end_race() {
    for (int* fd : {&race_fd_, &timer_fd_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
    race_watched_.clear();
  }

  Options o_;
  std::string host_header_;
  Phase phase_ = Phase::Connecting;
  std::unique_ptr<tcp::AsyncResolver> resolver_;
  std::vector<tcp::Address> addresses_;
  size_t next_address_ = 0;
  std::vector<Attempt> attempts_;
  std::chrono::steady_clock::time_point next_start_{};
  int race_fd_ = -1, timer_fd_ = -1;
  std::vector<int> race_watched_;
  std::string alpn_;
  std::unique_ptr<lws_protocols[]> protocols_;
  lws_context* ctx_ = nullptr;
  lws* wsi_ = nullptr;  // the open connection
  int sock_ = -1;       // its socket
  int http_status_ = 0;
  std::vector<uint8_t> rx_;
  size_t rx_off_ = 0;
  std::vector<uint8_t> tx_;
  Error error_;
};

int protocol_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  if (WsStream* s = t_current) return s->on_event(wsi, reason, user, in, len);
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

void ssl_info_callback(const SSL* ssl, int where, int ret) {
  // Only SSLs that libwebsockets made for a WebSocket stream on this thread
  // (the TLS transport's own SSLs carry their stream as app data).
  if (SSL_get_app_data(ssl) != nullptr) return;
  if (WsStream* s = t_current) s->on_ssl_info(const_cast<SSL*>(ssl), where, ret);
}

}  // namespace

std::unique_ptr<Stream> open(const Options& options) { return std::make_unique<WsStream>(options); }

int upgrade_status(const Stream& stream) {
  const auto* s = dynamic_cast<const WsStream*>(&stream);
  return s ? s->http_status() : 0;
}

}  // namespace transport::ws
