#include "mqtt/prometheus.h"

#include <charconv>
#include <cstdint>
#include <iterator>

namespace mqtt {

namespace {

constexpr std::string_view kDirection[] = {"in", "out"};

// Label values: the enumerators' names (stable, no spaces), not to_string()'s prose.
constexpr std::string_view kErrorCode[] = {
    "Dns",           "Io",                   "ConnectTimeout",  "ConnectionRefused",
    "PingTimeout",   "ClosedByBroker",       "DisconnectedByBroker", "MalformedPacket",
    "PacketTooLarge", "ProtocolViolation",   "Tls",             "WebSocket",
    "Disconnected",  "RequestsDone",         "Shutdown"};
static_assert(std::size(kErrorCode) == Counters::kConnectionErrorCodes);

constexpr std::string_view kRequestError[] = {
    "None",          "Rejected",            "SessionReset",      "ConnectionClosed",
    "PacketTooLarge", "QoSNotSupported",    "RetainNotSupported", "ProtocolError",
    "TopicAliasInvalid", "FeatureNotSupported", "StoreFailed"};
static_assert(std::size(kRequestError) == Counters::kRequestErrors);

void append_number(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_number(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

class Writer {
 public:
  explicit Writer(std::span<const PrometheusSample> s) : samples_(s) {}

  // A family: HELP and TYPE, then `each(sample, emit)` for every sample.
  template <typename Each>
  void family(std::string_view name, std::string_view type, std::string_view help, Each each) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
    for (const PrometheusSample& s : samples_) {
      current_ = &s;
      name_ = name;
      each(s);
    }
  }

  // One sample line: extra labels as "k=\"v\"" pairs already escaped.
  template <typename V>
  void line(V value, std::string_view k1 = {}, std::string_view v1 = {},
            std::string_view k2 = {}, std::string_view v2 = {}) {
    out_ += name_;
    out_ += "{client=\"";
    out_ += prometheus_escape(current_->client);
    out_ += '"';
    label(k1, v1);
    label(k2, v2);
    out_ += "} ";
    append_number(out_, value);
    out_ += '\n';
  }

  std::string take() { return std::move(out_); }

 private:
  void label(std::string_view k, std::string_view v) {
    if (k.empty()) return;
    out_ += ',';
    out_ += k;
    out_ += "=\"";
    out_ += prometheus_escape(v);
    out_ += '"';
  }

  std::span<const PrometheusSample> samples_;
  const PrometheusSample* current_ = nullptr;
  std::string_view name_;
  std::string out_;
};

using Arr = std::array<uint64_t, Counters::kQoS>;

// messages/bytes: in then out, QoS 0..2.
void per_direction(Writer& w, const Arr& in, const Arr& out) {
  const Arr* both[] = {&in, &out};
  for (size_t d = 0; d < 2; ++d) {
    for (size_t q = 0; q < Counters::kQoS; ++q) {
      const char qos[2] = {static_cast<char>('0' + q), 0};
      w.line((*both[d])[q], "direction", kDirection[d], "qos", qos);
    }
  }
}

double seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

std::string prometheus_escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_prometheus(const PrometheusSample& sample) {
  return render_prometheus(std::span<const PrometheusSample>(&sample, 1));
}

std::string render_prometheus(std::span<const PrometheusSample> samples) {
  Writer w(samples);
  using S = PrometheusSample;
  w.family("mqtt_client_messages_total", "counter", "PUBLISH packets received (in) and sent (out).",
           [&](const S& s) { per_direction(w, s.counters.messages_in, s.counters.messages_out); });
  w.family("mqtt_client_bytes_total", "counter", "Bytes of those PUBLISH packets (whole packets).",
           [&](const S& s) { per_direction(w, s.counters.bytes_in, s.counters.bytes_out); });
  w.family("mqtt_client_reconnects_total", "counter", "Successful connections after the first.",
           [&](const S& s) { w.line(s.counters.reconnects); });
  w.family("mqtt_client_connection_attempts_total", "counter", "Connection attempts.",
           [&](const S& s) { w.line(s.counters.connection_attempts); });
  w.family("mqtt_client_connection_errors_total", "counter",
           "Connection errors reported, by ConnectionErrorCode.", [&](const S& s) {
             for (size_t i = 0; i < Counters::kConnectionErrorCodes; ++i) {
               w.line(s.counters.connection_errors[i], "code", kErrorCode[i]);
             }
           });
  w.family("mqtt_client_requests_failed_total", "counter",
           "Requests that failed, by RequestError (broker refusals as Rejected).", [&](const S& s) {
             for (size_t i = 1; i < Counters::kRequestErrors; ++i) {  // 0 is None
               w.line(s.counters.requests_failed[i], "reason", kRequestError[i]);
             }
           });
  w.family("mqtt_client_reading_paused_seconds_total", "counter",
           "Time socket reads were paused because the consumer was behind.",
           [&](const S& s) { w.line(seconds(s.counters.reading_paused_ns)); });
  w.family("mqtt_client_log_records_total", "counter", "Log records buffered for the sink.",
           [&](const S& s) { w.line(s.counters.log_records); });
  w.family("mqtt_client_log_dropped_total", "counter", "Log records lost to a full buffer.",
           [&](const S& s) { w.line(s.counters.log_dropped); });
  w.family("mqtt_client_state", "gauge", "1 for the connection's current state.", [&](const S& s) {
    for (auto st : {Snapshot::State::Connecting, Snapshot::State::Connected,
                    Snapshot::State::Reconnecting, Snapshot::State::Disconnecting,
                    Snapshot::State::Ended}) {
      w.line(uint64_t{s.snapshot.state == st}, "state", to_string(st));
    }
  });
  w.family("mqtt_client_queued_requests", "gauge", "Requests waiting in a lane.", [&](const S& s) {
    w.line(uint64_t{s.snapshot.queued_publishes}, "lane", "publish");
    w.line(uint64_t{s.snapshot.queued_control}, "lane", "control");
  });
  w.family("mqtt_client_queued_events", "gauge", "Events waiting for the consumer.",
           [&](const S& s) { w.line(uint64_t{s.snapshot.queued_events}); });
  w.family("mqtt_client_inflight_publishes", "gauge", "Sent QoS 1/2 publishes awaiting completion.",
           [&](const S& s) { w.line(uint64_t{s.snapshot.inflight_publishes}); });
  w.family("mqtt_client_inflight_window", "gauge", "Outgoing QoS 1/2 window.",
           [&](const S& s) { w.line(uint64_t{s.snapshot.inflight_window}); });
  w.family("mqtt_client_unwritten_bytes", "gauge", "Bytes encoded but not yet written.",
           [&](const S& s) { w.line(uint64_t{s.snapshot.unwritten_bytes}); });
  w.family("mqtt_client_reading_paused", "gauge", "1 while socket reads are paused.",
           [&](const S& s) { w.line(uint64_t{s.snapshot.reading_paused}); });
  w.family("mqtt_client_excess_incoming_qos2_total", "counter",
           "Incoming QoS 2 beyond our Receive Maximum (tolerated).",
           [&](const S& s) { w.line(s.snapshot.excess_incoming_qos2); });
  w.family("mqtt_client_last_ping_rtt_seconds", "gauge",
           "Round trip of the last PINGREQ (absent before the first PINGRESP).", [&](const S& s) {
             if (s.snapshot.last_ping_rtt) w.line(seconds(s.snapshot.last_ping_rtt->count()));
           });
  return w.take();
}

}  // namespace mqtt
