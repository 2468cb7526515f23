// Logging and metrics hooks (docs/guide.md, "Logging and metrics").
//
// Log: MqttOptions::log_sink receives connection-level records (connect,
// refusal, reconnect, protocol error, keepalive timeout, dropped requests,
// reading paused/resumed), never one per message. The reactor never calls it:
// it appends records to a bounded buffer (MqttOptions::log_buffer records;
// when full the record is dropped and Counters::log_dropped counts it, the
// reactor never waits), and the consumer thread hands them to the sink from
// Connection::next()/try_next()/next_for() (after taking the event) or
// Connection::drain_log(). No sink (the default): nothing is recorded; the
// reactor pays one branch per event site.
//
// Counters: Client::counters() / Connection::counters(), any thread, never
// blocks. Relaxed atomics written only by the reactor as things happen
// (monotonic; the fields are read one by one, so a read may mix two moments).
// Always on: about 15 instructions per message each way, ~1% of a QoS 0
// publish (docs/benchmarks.md, "Cost of the counters").
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "mqtt/completion.h"
#include "mqtt/connection_error.h"

namespace mqtt {

// How severe a log record is, most severe first (MqttOptions::log_level
// records that level and the ones above it).
enum class LogLevel : uint8_t { Error, Warn, Info, Debug };

// "error", "warn", "info", "debug". Never blocks; any thread.
std::string_view to_string(LogLevel l);

// One connection-level log line, as the sink receives it.
struct LogRecord {
  LogLevel level = LogLevel::Info;  // how severe
  // "connect" (attempts, CONNACK, refusals, backoff, end of the loop),
  // "session" (protocol errors, keepalive, dropped requests), "transport"
  // (I/O, TLS, WebSocket, DNS errors), "flow" (reading paused/resumed).
  std::string_view component;  // a literal: valid for the life of the program
  std::string message;  // one line of text, without a newline
  std::chrono::system_clock::time_point time;  // when the reactor recorded it
};

// Called on the consumer thread (inside Connection::next()/try_next()/
// next_for()/drain_log()), one record at a time, in the order recorded. It
// must not call that Connection's next*()/drain_log() (the one-consumer
// guard aborts). What it throws is caught and dropped (the event that call
// returns is never lost).
using LogSink = std::function<void(const LogRecord&)>;

// Monotonic totals of one connection (all its reconnects). Arrays indexed by
// static_cast<size_t>(QoS / ConnectionErrorCode / RequestError).
struct Counters {
  static constexpr size_t kQoS = 3;  // entries of the per-QoS arrays
  // Entries of connection_errors: one per ConnectionErrorCode.
  static constexpr size_t kConnectionErrorCodes =
      static_cast<size_t>(ConnectionErrorCode::Shutdown) + 1;
  // Entries of requests_failed: one per RequestError.
  static constexpr size_t kRequestErrors = static_cast<size_t>(RequestError::StoreFailed) + 1;

  // PUBLISH packets received (duplicates included) and their whole packet
  // bytes (fixed header included), by QoS.
  std::array<uint64_t, kQoS> messages_in{};
  std::array<uint64_t, kQoS> bytes_in{};  // bytes of those packets, by QoS
  // PUBLISH packets the reactor handed to the session to send (once each,
  // resends after a reconnect not counted again) and their encoded bytes.
  std::array<uint64_t, kQoS> messages_out{};
  std::array<uint64_t, kQoS> bytes_out{};  // bytes of those packets, by QoS
  uint64_t reconnects = 0;  // as Snapshot::reconnects
  uint64_t connection_attempts = 0;  // as Snapshot::connection_attempts
  // Every ConnectionError the loop produced, by code (the final one too).
  std::array<uint64_t, kConnectionErrorCodes> connection_errors{};
  // Requests that failed, by reason: every RequestFailed event (times its
  // count) and every token completed with an error (a broker's negative
  // PUBACK or SUBACK counts as Rejected).
  std::array<uint64_t, kRequestErrors> requests_failed{};
  // Time the reactor spent with socket reads paused because the consumer
  // was behind (Snapshot::reading_paused), the ongoing pause included up to
  // the reactor's last loop pass.
  uint64_t reading_paused_ns = 0;
  uint64_t log_records = 0;  // records put in the log buffer
  uint64_t log_dropped = 0;  // records lost because the buffer was full
};

}  // namespace mqtt
