#include "transport/tls/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace transport::tls {

namespace {

constexpr size_t kMaxPlainChunk = 64 * 1024;    // plaintext taken per SSL_write
constexpr size_t kReadChunk = 16 * 1024 + 512;  // ciphertext pulled per inner read
// Inner reads in one call without application data before giving up (a peer
// flooding non-data records); far above any real handshake or record.
constexpr int kMaxPulls = 1024;
constexpr size_t kMaxSessions = 16;  // hosts with a stored session per Context

struct SslError {
  unsigned long first = 0;  // first code in the queue (0: none)
  std::string text;         // every entry, "; "-separated
};

// Drains this thread's OpenSSL error queue.
SslError take_errors() {
  SslError out;
  int n = 0;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    if (out.first == 0) out.first = e;
    if (n++ >= 6) continue;  // keep draining, keep the message short
    const char* reason = ERR_reason_error_string(e);
    std::string item;
    if (reason) {
      item = reason;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      item = buf;
    }
    if (out.text.find(item) != std::string::npos) continue;  // repeated
    if (!out.text.empty()) out.text += "; ";
    out.text += item;
  }
  return out;
}

std::string errors_text() {
  SslError e = take_errors();
  return e.text.empty() ? std::string("unknown OpenSSL error") : e.text;
}

// A TLS alert the peer sent, as OpenSSL records it: reason = 1000 + alert.
int alert_of(unsigned long code) {
  if (code == 0 || ERR_GET_LIB(code) != ERR_LIB_SSL) return -1;
  const int reason = ERR_GET_REASON(code);
  if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256)
    return reason - SSL_AD_REASON_OFFSET;
  return -1;
}

struct Passphrase {
  const std::string* text = nullptr;
  bool asked = false;
};

int passphrase_cb(char* buf, int size, int /*rwflag*/, void* user) {
  auto* p = static_cast<Passphrase*>(user);
  if (!p || !p->text) return 0;
  p->asked = true;
  if (p->text->empty() || p->text->size() > static_cast<size_t>(size)) return 0;
  std::memcpy(buf, p->text->data(), p->text->size());
  return static_cast<int>(p->text->size());
}

// Installed on the SSL_CTX so that OpenSSL never prompts on a terminal.
int no_passphrase_cb(char*, int, int, void*) { return 0; }

std::string strip_brackets(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    return host.substr(1, host.size() - 2);
  return host;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr memory_bio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

}  // namespace

class Context {
 public:
  ~Context() {
    for (auto& [host, s] : sessions_) SSL_SESSION_free(s);
    SSL_CTX_free(ctx_);
  }

  SSL_CTX* ctx_ = nullptr;
  std::optional<std::string> sni_;
  bool verify_peer_ = true;
  bool verify_host_ = true;
  bool session_resumption_ = true;
  bool has_client_cert_ = false;

  // A reference to the stored session for `host` (caller frees), or null.
  SSL_SESSION* session_for(const std::string& host) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(host);
    if (it == sessions_.end()) return nullptr;
    SSL_SESSION_up_ref(it->second);
    return it->second;
  }

  // Takes ownership of `s`.
  void store(const std::string& host, SSL_SESSION* s) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(host);
    if (it != sessions_.end()) {
      SSL_SESSION_free(it->second);
      it->second = s;
      return;
    }
    if (sessions_.size() >= kMaxSessions) {
      SSL_SESSION_free(sessions_.begin()->second);
      sessions_.erase(sessions_.begin());
    }
    sessions_.emplace(host, s);
  }

  void forget(const std::string& host) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(host);
    if (it == sessions_.end()) return;
    SSL_SESSION_free(it->second);
    sessions_.erase(it);
  }

 private:
  std::mutex mu_;
  std::map<std::string, SSL_SESSION*> sessions_;
};

namespace {

// The per-connection settings of `c` on a new SSL before its handshake: SNI
// (never an IP literal, unless overridden), host or IP verification, and the
// stored session for `host`. False with *error when one cannot be applied.
bool prepare_connection(Context& c, SSL* ssl, const std::string& host, bool* offered_session,
                        std::string* error) {
  const bool ip = is_ip_literal(host);
  const std::string sni = c.sni_ ? *c.sni_ : (ip ? std::string() : host);
  // Null clears a name another engine may have set.
  char* name = sni.empty() ? nullptr : const_cast<char*>(sni.c_str());
  if (SSL_set_tlsext_host_name(ssl, name) != 1) {
    *error = "invalid TLS server name '" + sni + "': " + errors_text();
    return false;
  }
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (c.verify_peer_ && c.verify_host_) {
    int ok;
    if (ip) {
      X509_VERIFY_PARAM_set1_host(param, nullptr, 0);
      ok = X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = SSL_set1_host(ssl, host.c_str());
    }
    if (ok != 1) {
      *error = "cannot verify host '" + host + "': " + errors_text();
      return false;
    }
  }
  if (c.session_resumption_) {
    if (SSL_SESSION* s = c.session_for(host)) {
      if (SSL_set_session(ssl, s) == 1 && offered_session) *offered_session = true;
      SSL_SESSION_free(s);
      ERR_clear_error();
    }
  }
  return true;
}

std::string describe_verify_result(long vr, const std::string& host) {
  std::string what;
  switch (vr) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
      what = "the server certificate is not valid for host name '" + host + "'";
      break;
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      what = "the server certificate is not valid for IP address " + host;
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED: what = "the server certificate has expired"; break;
    case X509_V_ERR_CERT_NOT_YET_VALID: what = "the server certificate is not valid yet"; break;
    default: what = "the server certificate is not trusted"; break;
  }
  return what + ": " + X509_verify_cert_error_string(vr);
}

class TlsStreamImpl final : public TlsStream {
 public:
  TlsStreamImpl(std::unique_ptr<Stream> inner, std::shared_ptr<Context> ctx,
                const std::string& host)
      : inner_(std::move(inner)), ctx_(std::move(ctx)), host_(strip_brackets(host)) {
    in_buf_.resize(kReadChunk);
    if (!inner_ || !ctx_) {
      fail_tls(!inner_ ? "no inner stream to run TLS over" : "no TLS context");
      return;
    }
    ERR_clear_error();
    ssl_ = SSL_new(ctx_->ctx_);
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    if (!ssl_ || !rbio || !wbio) {
      BIO_free(rbio);
      BIO_free(wbio);
      fail_tls("cannot create the TLS connection: " + errors_text());
      return;
    }
    // An empty read BIO means "no data yet", never end of file.
    BIO_set_mem_eof_return(rbio, -1);
    BIO_set_mem_eof_return(wbio, -1);
    SSL_set_bio(ssl_, rbio, wbio);  // ssl_ owns both
    rbio_ = rbio;
    wbio_ = wbio;
    SSL_set_connect_state(ssl_);
    SSL_set_app_data(ssl_, this);

    std::string why;
    if (!prepare_connection(*ctx_, ssl_, host_, &offered_session_, &why)) {
      fail_tls(why);
      return;
    }
    phase_ = inner_->connected() ? Phase::Handshaking : Phase::InnerConnecting;
  }

  ~TlsStreamImpl() override {
    close();
    if (ssl_) SSL_free(ssl_);
  }

  int fd() const override { return inner_ && !closed_ ? inner_->fd() : -1; }

  Interest interest() const override {
    switch (phase_) {
      case Phase::InnerConnecting: return inner_->interest();
      case Phase::Handshaking:
        if (!handshake_started_) return {false, true};
        return {want_read_, has_pending_out()};
      case Phase::Connected: return {true, has_pending_out()};
      default: return {};
    }
  }

  Status connect() override {
    switch (phase_) {
      case Phase::Connected: return Status::Ok;
      case Phase::Failed:
      case Phase::Closed: return Status::Error;
      case Phase::InnerConnecting: {
        const Status st = inner_->connect();
        if (st == Status::WouldBlock) return st;
        if (st != Status::Ok) {
          fail_inner();
          return Status::Error;
        }
        phase_ = Phase::Handshaking;
        return handshake();
      }
      case Phase::Handshaking: return handshake();
    }
    return Status::Error;
  }

  bool connected() const override { return phase_ == Phase::Connected; }

  IoResult read(std::span<uint8_t> buf) override {
    if (phase_ != Phase::Connected) return {Status::Error, 0};
    if (buf.empty()) return {Status::Ok, 0};
    if (has_pending_out() && flush() == Status::Error) return explain_io_failure();
    const int want = static_cast<int>(std::min<size_t>(buf.size(), INT_MAX));
    for (int pulls = 0; pulls <= kMaxPulls; ++pulls) {
      ERR_clear_error();
      const int n = SSL_read(ssl_, buf.data(), want);
      const int err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
      SslError e = n > 0 ? SslError{} : take_errors();
      // SSL_read may have produced records to send (alerts, key updates).
      const Status fl = flush();
      if (n > 0) {
        read_once_ = true;
        // A failed flush fails the stream; this data is still delivered and
        // the next call reports the error.
        return {Status::Ok, static_cast<size_t>(n)};
      }
      if (err == SSL_ERROR_WANT_READ) {
        if (fl == Status::Error) return explain_io_failure();
        const Status in = pull();
        if (in == Status::Ok) continue;
        if (in == Status::WouldBlock) return {Status::WouldBlock, 0};
        if (in == Status::Closed) return {Status::Closed, 0};
        return {Status::Error, 0};
      }
      if (err == SSL_ERROR_ZERO_RETURN) return {Status::Closed, 0};  // close_notify
      return fail_after_handshake(err, e, "read");
    }
    fail_tls("TLS: too many records without application data from " + host_);
    return {Status::Error, 0};
  }

  IoResult write(std::span<const uint8_t> buf) override {
    if (phase_ != Phase::Connected) return {Status::Error, 0};
    if (has_pending_out()) {
      const Status fl = flush();
      if (fl == Status::Error) return explain_io_failure();
      if (fl == Status::WouldBlock) return {Status::WouldBlock, 0};
    }
    if (buf.empty()) return {Status::Ok, 0};
    const int n = static_cast<int>(std::min(buf.size(), kMaxPlainChunk));
    for (int pulls = 0; pulls <= kMaxPulls; ++pulls) {
      ERR_clear_error();
      const int rc = SSL_write(ssl_, buf.data(), n);
      const int err = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
      SslError e = rc > 0 ? SslError{} : take_errors();
      const Status fl = flush();
      if (rc > 0) {
        if (fl == Status::Error) return explain_io_failure();
        return {Status::Ok, static_cast<size_t>(rc)};
      }
      if (err == SSL_ERROR_WANT_READ) {
        // Not expected (renegotiation is refused; TLS 1.3 writes never
        // read), handled anyway: feed it what has arrived.
        if (fl == Status::Error) return explain_io_failure();
        const Status in = pull();
        if (in == Status::Ok) continue;
        if (in == Status::WouldBlock) return {Status::WouldBlock, 0};
        if (in == Status::Closed) {
          fail_tls("TLS: the peer closed the connection while a write needed its data");
        }
        return {Status::Error, 0};
      }
      return fail_after_handshake(err, e, "write");
    }
    fail_tls("TLS: too many records without progress from " + host_);
    return {Status::Error, 0};
  }

  // Gathers small buffers into one record instead of one record each.
  IoResult writev(std::span<const std::span<const uint8_t>> bufs) override {
    size_t first = 0;
    while (first < bufs.size() && bufs[first].empty()) ++first;
    if (first == bufs.size()) return write({});
    if (bufs[first].size() >= kMaxPlainChunk || first + 1 == bufs.size()) return write(bufs[first]);
    gather_.clear();
    for (size_t i = first; i < bufs.size() && gather_.size() < kMaxPlainChunk; ++i) {
      const size_t take = std::min(bufs[i].size(), kMaxPlainChunk - gather_.size());
      gather_.insert(gather_.end(), bufs[i].begin(),
                     bufs[i].begin() + static_cast<ptrdiff_t>(take));
    }
    return write(gather_);
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    if (phase_ == Phase::Connected && ssl_) {
      // close_notify, best effort: one non-blocking attempt.
      ERR_clear_error();
      SSL_shutdown(ssl_);
      ERR_clear_error();
      flush();
    }
    if (inner_) inner_->close();
    if (phase_ != Phase::Failed) phase_ = Phase::Closed;
  }

  const Error& error() const override { return error_; }

  bool session_reused() const override {
    return ssl_ && handshake_done_ && SSL_session_reused(ssl_) == 1;
  }

  std::string alpn_protocol() const override {
    if (!ssl_) return {};
    const unsigned char* p = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_, &p, &len);
    return p ? std::string(reinterpret_cast<const char*>(p), len) : std::string();
  }

  std::string protocol_version() const override {
    return ssl_ && handshake_done_ ? std::string(SSL_get_version(ssl_)) : std::string();
  }

  // OpenSSL callbacks.
  static int on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* self = static_cast<TlsStreamImpl*>(SSL_get_app_data(ssl));
    if (!self || !self->ctx_ || !SSL_SESSION_is_resumable(session)) return 0;
    // A copy: OpenSSL marks its own object not resumable if this connection
    // later ends on an error (a reset, a broker that drops us), and the
    // next connect would then not resume.
    if (SSL_SESSION* copy = SSL_SESSION_dup(session)) self->ctx_->store(self->host_, copy);
    return 0;  // OpenSSL keeps (and frees) its own reference
  }

  // Records which certificate of the chain failed, for the message.
  static int on_verify(int ok, X509_STORE_CTX* store) {
    if (ok) return ok;
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* self = ssl ? static_cast<TlsStreamImpl*>(SSL_get_app_data(ssl)) : nullptr;
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    if (self && cert && self->verify_failed_subject_.empty()) {
      char subject[256];
      X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
      self->verify_failed_subject_ = "certificate " + std::string(subject) + " at depth " +
                                     std::to_string(X509_STORE_CTX_get_error_depth(store));
    }
    return ok;
  }

  static int on_certificate_request(SSL* ssl, void*) {
    if (auto* self = static_cast<TlsStreamImpl*>(SSL_get_app_data(ssl)))
      self->cert_requested_ = true;
    return 1;
  }

 private:
  enum class Phase : uint8_t { InnerConnecting, Handshaking, Connected, Failed, Closed };

  bool has_pending_out() const {
    return out_off_ < out_.size() || (wbio_ && BIO_ctrl_pending(wbio_) > 0);
  }

  Status handshake() {
    handshake_started_ = true;
    for (int pulls = 0; pulls <= kMaxPulls; ++pulls) {
      ERR_clear_error();
      const int rc = SSL_do_handshake(ssl_);
      const int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
      SslError e = rc == 1 ? SslError{} : take_errors();
      // Send what it produced (hello, finished, or the alert of a failure).
      const Status fl = flush();
      if (rc == 1) {
        if (fl == Status::Error) return Status::Error;
        handshake_done_ = true;
        want_read_ = false;
        phase_ = Phase::Connected;
        return Status::Ok;
      }
      if (err == SSL_ERROR_WANT_READ) {
        if (fl == Status::Error) return Status::Error;
        want_read_ = true;
        const Status in = pull();
        if (in == Status::Ok) continue;
        if (in == Status::WouldBlock) return Status::WouldBlock;
        if (in == Status::Closed) {
          handshake_failed("the server closed the connection during the TLS handshake" +
                           missing_cert_hint());
        }
        return Status::Error;
      }
      handshake_failed(describe_handshake_error(err, e));
      return Status::Error;
    }
    handshake_failed("too many records during the TLS handshake");
    return Status::Error;
  }

  std::string missing_cert_hint() const {
    if (cert_requested_ && !ctx_->has_client_cert_)
      return " (the server asked for a client certificate and none is configured)";
    return {};
  }

  std::string describe_handshake_error(int err, const SslError& e) {
    const unsigned long code = e.first;
    if (code != 0 && ERR_GET_LIB(code) == ERR_LIB_SSL &&
        ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      std::string msg = describe_verify_result(SSL_get_verify_result(ssl_), host_);
      if (!verify_failed_subject_.empty()) msg += " (" + verify_failed_subject_ + ")";
      return msg;
    }
    if (alert_of(code) >= 0) {
      return "the server refused the TLS handshake: " + e.text + missing_cert_hint();
    }
    if (err == SSL_ERROR_SYSCALL && e.text.empty()) return "TLS handshake failed (unexpected end)";
    return (e.text.empty() ? std::string("unknown error") : e.text) + missing_cert_hint();
  }

  void handshake_failed(const std::string& why) {
    // A session that led to a failed handshake is not offered again.
    if (offered_session_) ctx_->forget(host_);
    fail_tls("TLS handshake with " + host_ + " failed: " + why);
  }

  IoResult fail_after_handshake(int err, const SslError& e, const char* op) {
    const int alert = alert_of(e.first);
    std::string msg;
    if (alert == SSL_AD_CERTIFICATE_REQUIRED ||
        (alert >= 0 && cert_requested_ && !ctx_->has_client_cert_ && !read_once_)) {
      msg = "TLS: the server requires a client certificate and none is configured (" + e.text + ")";
    } else if (alert >= 0 && cert_requested_ && !read_once_) {
      msg = "TLS: the server refused our client certificate (" + e.text + ")";
    } else if (alert >= 0) {
      msg = "TLS: the server sent an alert: " + e.text;
    } else if (err == SSL_ERROR_SYSCALL && e.text.empty()) {
      msg = std::string("TLS ") + op + " failed (unexpected end)";
    } else {
      msg = std::string("TLS ") + op + " failed: " + (e.text.empty() ? "unknown error" : e.text);
    }
    fail_tls(msg + " [" + host_ + "]");
    return {Status::Error, 0};
  }

  // The inner stream failed while sending. A server that refuses us often
  // sends an alert and closes: if one has arrived, report it instead of the
  // bare reset / broken pipe.
  IoResult explain_io_failure() {
    if (ssl_ && handshake_done_) {
      for (int i = 0; i < 8; ++i) {
        const IoResult r = inner_->read({in_buf_.data(), in_buf_.size()});
        if (r.status != Status::Ok) break;
        BIO_write(rbio_, in_buf_.data(), static_cast<int>(r.bytes));
      }
      uint8_t scratch[256];
      for (int i = 0; i < 64; ++i) {
        ERR_clear_error();
        const int n = SSL_read(ssl_, scratch, sizeof scratch);
        if (n > 0) continue;
        const int err = SSL_get_error(ssl_, n);
        SslError e = take_errors();
        if (err == SSL_ERROR_SSL && alert_of(e.first) >= 0) {
          const Error io = error_;
          fail_after_handshake(err, e, "write");
          error_.message += " (then: " + io.message + ")";
        }
        break;
      }
      ERR_clear_error();
    }
    return {Status::Error, 0};
  }

  // Moves the ciphertext OpenSSL produced into out_, then as much of out_ as
  // the inner stream takes. Error: the inner stream failed (error_ set).
  Status flush() {
    if (!wbio_) return Status::Ok;
    const size_t pending = BIO_ctrl_pending(wbio_);
    if (pending > 0) {
      if (out_off_ > 0 && out_off_ == out_.size()) {
        out_.clear();
        out_off_ = 0;
      }
      const size_t old = out_.size();
      out_.resize(old + pending);
      const int got = BIO_read(wbio_, out_.data() + old, static_cast<int>(pending));
      out_.resize(old + static_cast<size_t>(std::max(got, 0)));
    }
    while (out_off_ < out_.size()) {
      const IoResult r = inner_->write({out_.data() + out_off_, out_.size() - out_off_});
      if (r.status == Status::Ok && r.bytes > 0) {
        out_off_ += r.bytes;
        continue;
      }
      if (r.status == Status::Ok || r.status == Status::WouldBlock) return Status::WouldBlock;
      if (phase_ != Phase::Failed) fail_inner();
      return Status::Error;
    }
    out_.clear();
    out_off_ = 0;
    return Status::Ok;
  }

  // Reads ciphertext from the inner stream into OpenSSL's read BIO.
  Status pull() {
    const IoResult r = inner_->read({in_buf_.data(), in_buf_.size()});
    switch (r.status) {
      case Status::Ok:
        if (r.bytes == 0) return Status::WouldBlock;
        BIO_write(rbio_, in_buf_.data(), static_cast<int>(r.bytes));
        return Status::Ok;
      case Status::WouldBlock:
      case Status::Closed: return r.status;
      case Status::Error: break;
    }
    fail_inner();
    return Status::Error;
  }

  // Keeps the inner stream's error (kind, errno); during the handshake the
  // message says so.
  void fail_inner() {
    error_ = inner_->error();
    if (error_.kind == ErrorKind::None) {
      error_.kind = ErrorKind::Io;
      error_.message = "the stream under TLS failed";
    }
    if (phase_ == Phase::Handshaking) {
      if (offered_session_) ctx_->forget(host_);
      error_.message = "TLS handshake with " + host_ + " failed: " + error_.message;
    }
    phase_ = Phase::Failed;
  }

  void fail_tls(const std::string& message) {
    error_.kind = ErrorKind::Tls;
    error_.sys_errno = 0;
    error_.message = message;
    phase_ = Phase::Failed;
  }

  std::unique_ptr<Stream> inner_;
  std::shared_ptr<Context> ctx_;
  std::string host_;
  SSL* ssl_ = nullptr;
  BIO* rbio_ = nullptr;  // owned by ssl_: ciphertext from the peer
  BIO* wbio_ = nullptr;  // owned by ssl_: ciphertext to the peer
  Phase phase_ = Phase::Failed;
  bool handshake_started_ = false;
  bool handshake_done_ = false;
  bool want_read_ = false;
  bool offered_session_ = false;
  bool cert_requested_ = false;
  bool read_once_ = false;
  bool closed_ = false;
  std::string verify_failed_subject_;
  std::vector<uint8_t> out_;  // ciphertext not yet taken by the inner stream
  size_t out_off_ = 0;
  std::vector<uint8_t> in_buf_;
  std::vector<uint8_t> gather_;
  Error error_;
};

}  // namespace

std::shared_ptr<Context> make_context(const Options& o, std::string* error) {
  auto fail = [&](const std::string& message) -> std::shared_ptr<Context> {
    if (error) *error = "TLS: " + message;
    ERR_clear_error();
    return nullptr;
  };
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (!raw) return fail("cannot create an SSL_CTX: " + errors_text());
  auto ctx = std::make_shared<Context>();
  ctx->ctx_ = raw;
  ctx->sni_ = o.sni;
  ctx->verify_peer_ = o.verify_peer;
  ctx->verify_host_ = o.verify_host;
  ctx->session_resumption_ = o.session_resumption;

  SSL_CTX_set_default_passwd_cb(raw, no_passphrase_cb);  // never prompt
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(raw, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  // Trust.
  bool any_trust = false;
  if (!o.ca_file.empty()) {
    any_trust = true;
    if (SSL_CTX_load_verify_file(raw, o.ca_file.c_str()) != 1)
      return fail("cannot load CA file '" + o.ca_file + "': " + errors_text());
  }
  if (!o.ca_dir.empty()) {
    any_trust = true;
    struct stat st {};
    if (::stat(o.ca_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return fail("CA directory '" + o.ca_dir + "' is not a directory");
    if (SSL_CTX_load_verify_dir(raw, o.ca_dir.c_str()) != 1)
      return fail("cannot use CA directory '" + o.ca_dir + "': " + errors_text());
  }
  if (!o.ca_pem.empty()) {
    any_trust = true;
    BioPtr bio = memory_bio(o.ca_pem);
    X509_STORE* store = SSL_CTX_get_cert_store(raw);
    int count = 0;
    for (int i = 0; i < 10000; ++i) {
      X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase_cb, nullptr);
      if (!cert) break;
      const int ok = X509_STORE_add_cert(store, cert);
      X509_free(cert);
      if (ok != 1) return fail("cannot add a CA certificate from ca_pem: " + errors_text());
      ++count;
    }
    const unsigned long last = ERR_peek_last_error();
    if (count == 0 || (last != 0 && !(ERR_GET_LIB(last) == ERR_LIB_PEM &&
                                      ERR_GET_REASON(last) == PEM_R_NO_START_LINE)))
      return fail("ca_pem holds no valid PEM certificate" +
                  (count == 0 ? std::string() : " after " + std::to_string(count)) + ": " +
                  errors_text());
    ERR_clear_error();
  }
  if (o.system_store || !any_trust) {
    if (SSL_CTX_set_default_verify_paths(raw) != 1)
      return fail("cannot load the system trust store: " + errors_text());
  }

  // Client certificate and key.
  if (!o.cert_file.empty() && !o.cert_pem.empty())
    return fail("give cert_file or cert_pem, not both");
  if (!o.key_file.empty() && !o.key_pem.empty()) return fail("give key_file or key_pem, not both");
  const bool has_cert = !o.cert_file.empty() || !o.cert_pem.empty();
  const bool has_key = !o.key_file.empty() || !o.key_pem.empty();
  if (has_cert != has_key)
    return fail(has_cert ? "a client certificate needs its key (key_file or key_pem)"
                         : "a client key needs its certificate (cert_file or cert_pem)");
  if (has_cert) {
    if (!o.cert_file.empty()) {
      if (SSL_CTX_use_certificate_chain_file(raw, o.cert_file.c_str()) != 1)
        return fail("cannot load client certificate '" + o.cert_file + "': " + errors_text());
    } else {
      BioPtr bio = memory_bio(o.cert_pem);
      X509* leaf = PEM_read_bio_X509_AUX(bio.get(), nullptr, no_passphrase_cb, nullptr);
      if (!leaf) return fail("cert_pem holds no PEM certificate: " + errors_text());
      const int ok = SSL_CTX_use_certificate(raw, leaf);
      X509_free(leaf);
      if (ok != 1) return fail("cannot use the client certificate: " + errors_text());
      SSL_CTX_clear_chain_certs(raw);
      for (int i = 0; i < 100; ++i) {
        X509* ca = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase_cb, nullptr);
        if (!ca) break;
        if (SSL_CTX_add0_chain_cert(raw, ca) != 1) {
          X509_free(ca);
          return fail("cannot add a chain certificate from cert_pem: " + errors_text());
        }
      }
      ERR_clear_error();
    }
    const std::string where = o.key_file.empty() ? std::string("key_pem") : "'" + o.key_file + "'";
    BioPtr bio =
        o.key_file.empty() ? memory_bio(o.key_pem) : BioPtr(BIO_new_file(o.key_file.c_str(), "r"));
    if (!bio) return fail("cannot open client key " + where + ": " + errors_text());
    Passphrase pass{&o.key_passphrase, false};
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_cb, &pass);
    if (!key) {
      const std::string why = errors_text();
      if (pass.asked && o.key_passphrase.empty())
        return fail("client key " + where + " is encrypted and no key_passphrase was given (" +
                    why + ")");
      if (pass.asked)
        return fail("cannot decrypt client key " + where + ": wrong key_passphrase (" + why + ")");
      return fail("cannot read client key " + where + ": " + why);
    }
    const int ok = SSL_CTX_use_PrivateKey(raw, key);
    EVP_PKEY_free(key);
    if (ok != 1) {
      const unsigned long code = ERR_peek_error();
      const bool mismatch = ERR_GET_LIB(code) == ERR_LIB_X509 &&
                            (ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH ||
                             ERR_GET_REASON(code) == X509_R_KEY_TYPE_MISMATCH);
      return fail("client key " + where +
                  (mismatch ? " does not match the client certificate: " : " cannot be used: ") +
                  errors_text());
    }
    if (SSL_CTX_check_private_key(raw) != 1)
      return fail("client key " + where +
                  " does not match the client certificate: " + errors_text());
  }
  ctx->has_client_cert_ = has_cert;
  SSL_CTX_set_cert_cb(raw, &TlsStreamImpl::on_certificate_request, nullptr);

  SSL_CTX_set_verify(raw, o.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                     &TlsStreamImpl::on_verify);
  if (o.min_version != 0 && SSL_CTX_set_min_proto_version(raw, o.min_version) != 1)
    return fail("unsupported min_version " + std::to_string(o.min_version));
  if (o.max_version != 0 && SSL_CTX_set_max_proto_version(raw, o.max_version) != 1)
    return fail("unsupported max_version " + std::to_string(o.max_version));

  if (!o.alpn.empty()) {
    std::vector<unsigned char> wire;
    for (const auto& p : o.alpn) {
      if (p.empty() || p.size() > 255) return fail("invalid ALPN protocol name '" + p + "'");
      wire.push_back(static_cast<unsigned char>(p.size()));
      wire.insert(wire.end(), p.begin(), p.end());
    }
    // Returns 0 on success.
    if (SSL_CTX_set_alpn_protos(raw, wire.data(), static_cast<unsigned int>(wire.size())) != 0)
      return fail("cannot set ALPN protocols: " + errors_text());
  }

  if (o.session_resumption) {
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(raw, &TlsStreamImpl::on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  }

  if (o.configure_ctx) o.configure_ctx(raw);
  ERR_clear_error();
  return ctx;
}

std::unique_ptr<TlsStream> wrap(std::unique_ptr<Stream> inner, std::shared_ptr<Context> ctx,
                                const std::string& host) {
  return std::make_unique<TlsStreamImpl>(std::move(inner), std::move(ctx), host);
}

bool session_reused(const Stream& stream) {
  const auto* t = dynamic_cast<const TlsStream*>(&stream);
  return t && t->session_reused();
}

std::string alpn_protocol(const Stream& stream) {
  const auto* t = dynamic_cast<const TlsStream*>(&stream);
  return t ? t->alpn_protocol() : std::string();
}

namespace detail {

void* native_handle(const Context& c) { return c.ctx_; }

bool prepare_foreign(Context& c, void* ssl, const std::string& host, std::string* error) {
  return prepare_connection(c, static_cast<SSL*>(ssl), strip_brackets(host), nullptr, error);
}

void keep_session(Context& c, void* ssl, const std::string& host) {
  if (!c.session_resumption_) return;
  SSL_SESSION* s = SSL_get1_session(static_cast<SSL*>(ssl));
  if (!s) return;
  // A copy: the engine's own object is marked not resumable if that
  // connection later ends on an error.
  SSL_SESSION* copy = SSL_SESSION_is_resumable(s) ? SSL_SESSION_dup(s) : nullptr;
  SSL_SESSION_free(s);
  if (copy) c.store(strip_brackets(host), copy);
}

bool verify_peer(const Context& c) { return c.verify_peer_; }
bool verify_host(const Context& c) { return c.verify_host_; }

std::string describe_failure(void* ssl, const std::string& host) {
  const long vr = SSL_get_verify_result(static_cast<SSL*>(ssl));
  if (vr != X509_V_OK) return describe_verify_result(vr, strip_brackets(host));
  return {};
}

}  // namespace detail

}  // namespace transport::tls
