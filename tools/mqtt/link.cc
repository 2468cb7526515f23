#include "tools/mqtt/link.h"

#include <csignal>
#include <cstring>

#include "tools/mqtt/exit_codes.h"

namespace mqtt::cli {

std::atomic<bool> g_interrupted{false};

namespace {

extern "C" void on_signal(int) { g_interrupted.store(true); }

// How often blocking loops look at g_interrupted.
constexpr auto kPoll = std::chrono::milliseconds(100);

}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is reported by the write
}

std::string describe_failure(const ConnectionError& e) {
  std::string what;
  switch (e.code) {
    case ConnectionErrorCode::ConnectionRefused:
      what = "connection refused by the broker: " + std::string(to_string(e.reason_code));
      break;
    case ConnectionErrorCode::DisconnectedByBroker:
      what = "disconnected by the broker: " + std::string(to_string(e.reason_code));
      break;
    case ConnectionErrorCode::ConnectTimeout: what = "no connection within --connect-timeout"; break;
    case ConnectionErrorCode::ClosedByBroker: what = "the broker closed the connection"; break;
    case ConnectionErrorCode::PingTimeout: what = "the broker stopped answering pings"; break;
    case ConnectionErrorCode::Io:
    case ConnectionErrorCode::Dns:
      // The library's message names the broker and the errno already.
      if (!e.message.empty()) return "cannot connect: " + e.message;
      what = e.sys_errno ? std::string("cannot connect: ") + std::strerror(e.sys_errno)
                         : std::string("cannot connect");
      break;
    case ConnectionErrorCode::Tls: what = "TLS failed"; break;
    case ConnectionErrorCode::WebSocket: what = "WebSocket upgrade refused"; break;
    default: what = std::string(to_string(e.code)); break;
  }
  const bool says_more = !e.message.empty() && what.find(e.message) == std::string::npos;
  if (!e.broker.empty()) what += " (" + e.broker + ")";
  if (says_more) what += ": " + e.message;
  return what;
}

Result<Link, Failure> Link::open(const MqttOptions& options, size_t capacity) {
  using R = Result<Link, Failure>;
  auto created = Client::try_create(options, capacity);
  if (!created.ok()) {
    const CreateError& e = created.error();
    // Bad option values (an unreadable CA file...) are the user's to fix.
    const int code = e.code == CreateError::Code::InvalidOptions ? kExitUsage : kExitFailure;
    return R(unexpected(Failure{code, e.message}));
  }
  Link link(std::move(created->first), std::move(created->second));
  // The library bounds the attempt by connect_timeout; this is a backstop.
  const auto deadline = std::chrono::steady_clock::now() + options.connect_timeout +
                        std::chrono::seconds(1);
  while (std::chrono::steady_clock::now() < deadline) {
    if (g_interrupted.load()) return R(unexpected(Failure{kExitFailure, "interrupted"}));
    auto ev = link.connection_.next_for(kPoll);
    if (!ev) {
      if (link.connection_.ended()) break;
      continue;
    }
    if (const Incoming* in = ev->incoming()) {
      // A refusing CONNACK is also an event; its ConnectionError follows.
      const auto* ack = std::get_if<codec::ConnAck>(&in->packet());
      if (ack && ack->reason_code == ReasonCode::Success) {
        link.session_present_ = ack->session_present;
        return link;
      }
    } else if (const ConnectionError* e = ev->error()) {
      return R(unexpected(Failure{kExitFailure, describe_failure(*e)}));
    }
  }
  return R(unexpected(Failure{kExitFailure, "no CONNACK from the broker in time"}));
}

Link::~Link() {
  if (drainer_.joinable()) {
    (void)client_.try_disconnect(std::chrono::milliseconds(0));  // Closed: already ending
    drainer_.join();
  }
}

void Link::note(std::string message) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  if (!shared_->failure) shared_->failure = std::move(message);
}

std::optional<std::string> Link::failure() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->failure;
}

void Link::drain_in_background() {
  drainer_ = std::thread([this] {
    while (auto ev = connection_.next()) {
      if (const ConnectionError* e = ev->error()) {
        if (e->code != ConnectionErrorCode::Disconnected) note(describe_failure(*e));
      } else if (const RequestFailed* f = ev->request_failed()) {
        note(std::string(to_string(f->kind)) + " failed: " + std::string(to_string(f->reason)) +
             (f->message.empty() ? "" : ": " + f->message));
      }
    }
  });
}

bool Link::close(std::chrono::milliseconds drain, codec::Disconnect packet) {
  auto token = client_.disconnect_tracked(drain, packet);
  bool ok = false;
  if (token.ok()) {
    // Disconnected follows the drain deadline within ~200 ms.
    auto done = token->wait_for(drain + std::chrono::seconds(2));
    ok = done && done->ok();
  }
  if (drainer_.joinable()) {
    drainer_.join();
  } else {
    const auto deadline = std::chrono::steady_clock::now() + drain + std::chrono::seconds(2);
    while (!connection_.ended() && std::chrono::steady_clock::now() < deadline) {
      connection_.next_for(kPoll);
    }
  }
  return ok;
}

}  // namespace mqtt::cli
