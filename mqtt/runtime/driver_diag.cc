// The driver's counters and log records (mqtt/diagnostics.h). Reactor
// thread only: nothing here calls user code; records go to the bounded
// buffer the consumer thread drains.
#include <string>

#include "mqtt/runtime/driver.h"

namespace mqtt {

std::string_view to_string(LogLevel l) {
  switch (l) {
    case LogLevel::Error: return "error";
    case LogLevel::Warn: return "warn";
    case LogLevel::Info: return "info";
    case LogLevel::Debug: return "debug";
  }
  return "unknown";
}

}  // namespace mqtt

namespace mqtt::runtime {

namespace {

std::string_view component_of(ConnectionErrorCode c) {
  switch (c) {
    case ConnectionErrorCode::ConnectTimeout:
    case ConnectionErrorCode::ConnectionRefused:
    case ConnectionErrorCode::Disconnected:
    case ConnectionErrorCode::RequestsDone:
    case ConnectionErrorCode::Shutdown:
      return "connect";
    case ConnectionErrorCode::PingTimeout:
    case ConnectionErrorCode::DisconnectedByBroker:
    case ConnectionErrorCode::MalformedPacket:
    case ConnectionErrorCode::PacketTooLarge:
    case ConnectionErrorCode::ProtocolViolation:
      return "session";
    default:
      return "transport";
  }
}

LogLevel level_of(const ConnectionError& e) {
  switch (e.code) {
    case ConnectionErrorCode::Disconnected:
    case ConnectionErrorCode::RequestsDone:
    case ConnectionErrorCode::Shutdown:
      return LogLevel::Info;  // an end the user asked for
    case ConnectionErrorCode::ConnectionRefused:
    case ConnectionErrorCode::MalformedPacket:
    case ConnectionErrorCode::ProtocolViolation:
      return LogLevel::Error;
    default:
      return e.terminal ? LogLevel::Error : LogLevel::Warn;
  }
}

}  // namespace

void Driver::log(LogLevel l, std::string_view component, std::string message) {
  if (!logs(l)) return;
  LogRecord r;
  r.level = l;
  r.component = component;
  r.message = std::move(message);
  r.time = std::chrono::system_clock::now();
  core_->log.push(std::move(r), core_->cells);
}

void Driver::note_error(const ConnectionError& e) {
  const size_t i = static_cast<size_t>(e.code);
  if (i < core_->cells.connection_errors.size()) bump(core_->cells.connection_errors[i]);
  const LogLevel l = level_of(e);
  if (!logs(l)) return;
  std::string m = e.code == ConnectionErrorCode::ConnectionRefused ? "refused: " : "";
  m += describe(e);
  if (e.terminal) m += " (the loop has ended)";
  log(l, component_of(e.code), std::move(m));
}

void Driver::note_failure(RequestError why, uint64_t n, std::string_view message) {
  const size_t i = static_cast<size_t>(why);
  if (i >= drops_.size()) return;
  bump(core_->cells.requests_failed[i], n);
  if (!logs(LogLevel::Warn)) return;
  if (drops_[i] == 0) drop_msg_[i] = message;
  drops_[i] += n;
  drops_pending_ = true;
}

// One line per reason per poll, however many requests failed in it.
void Driver::flush_drop_log() {
  if (!drops_pending_) return;
  drops_pending_ = false;
  for (size_t i = 0; i < drops_.size(); ++i) {
    if (drops_[i] == 0) continue;
    log(LogLevel::Warn, "session",
        std::to_string(drops_[i]) + " request(s) dropped: " +
            std::string(to_string(static_cast<RequestError>(i))) +
            (drop_msg_[i].empty() ? "" : " (first: " + drop_msg_[i] + ")"));
    drops_[i] = 0;
    drop_msg_[i].clear();
  }
}

void Driver::set_paused(bool p, TimePoint now) {
  if (p == paused_) return;
  paused_ = p;
  if (p) {
    paused_since_ = now;
  } else {
    paused_total_ns_ += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - paused_since_).count());
  }
  if (logs(LogLevel::Debug)) {
    log(LogLevel::Debug, "flow",
        p ? "reading paused: the consumer is behind (event queue full)"
          : "reading resumed");
  }
}

}  // namespace mqtt::runtime
