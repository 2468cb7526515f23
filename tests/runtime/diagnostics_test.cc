// Counters' renderer (mqtt/prometheus.h): exact text for known numbers,
// label escaping, several clients under one HELP/TYPE; and the reactor's
// log buffer (mqtt/runtime/diag.h): bounded, overflow counted, never waits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <sstream>
#include <thread>

#include "mqtt/prometheus.h"
#include "mqtt/runtime/diag.h"

using mqtt::Counters;
using mqtt::PrometheusSample;

namespace {

PrometheusSample known() {
  PrometheusSample s;
  s.client = "edge-1";
  s.counters.messages_in = {1, 2, 3};
  s.counters.bytes_in = {10, 20, 30};
  s.counters.messages_out = {4, 5, 6};
  s.counters.bytes_out = {40, 50, 60};
  s.counters.reconnects = 7;
  s.counters.connection_attempts = 9;
  s.counters.connection_errors[static_cast<size_t>(mqtt::ConnectionErrorCode::PingTimeout)] = 2;
  s.counters.requests_failed[static_cast<size_t>(mqtt::RequestError::ConnectionClosed)] = 11;
  s.counters.reading_paused_ns = 1'500'000'000;
  s.counters.log_records = 12;
  s.counters.log_dropped = 3;
  s.snapshot.state = mqtt::Snapshot::State::Connected;
  s.snapshot.queued_publishes = 13;
  s.snapshot.inflight_publishes = 14;
  s.snapshot.inflight_window = 100;
  s.snapshot.last_ping_rtt = std::chrono::microseconds(250);
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("prometheus: exact text of the first families") {
  const std::string text = mqtt::render_prometheus(known());
  const std::string head =
      "# HELP mqtt_client_messages_total PUBLISH packets received (in) and sent (out).\n"
      "# TYPE mqtt_client_messages_total counter\n"
      "mqtt_client_messages_total{client=\"edge-1\",direction=\"in\",qos=\"0\"} 1\n"
      "mqtt_client_messages_total{client=\"edge-1\",direction=\"in\",qos=\"1\"} 2\n"
      "mqtt_client_messages_total{client=\"edge-1\",direction=\"in\",qos=\"2\"} 3\n"
      "mqtt_client_messages_total{client=\"edge-1\",direction=\"out\",qos=\"0\"} 4\n"
      "mqtt_client_messages_total{client=\"edge-1\",direction=\"out\",qos=\"1\"} 5\n"
      "mqtt_client_messages_total{client=\"edge-1\",direction=\"out\",qos=\"2\"} 6\n"
      "# HELP mqtt_client_bytes_total Bytes of those PUBLISH packets (whole packets).\n"
      "# TYPE mqtt_client_bytes_total counter\n"
      "mqtt_client_bytes_total{client=\"edge-1\",direction=\"in\",qos=\"0\"} 10\n"
      "mqtt_client_bytes_total{client=\"edge-1\",direction=\"in\",qos=\"1\"} 20\n"
      "mqtt_client_bytes_total{client=\"edge-1\",direction=\"in\",qos=\"2\"} 30\n"
      "mqtt_client_bytes_total{client=\"edge-1\",direction=\"out\",qos=\"0\"} 40\n"
      "mqtt_client_bytes_total{client=\"edge-1\",direction=\"out\",qos=\"1\"} 50\n"
      "mqtt_client_bytes_total{client=\"edge-1\",direction=\"out\",qos=\"2\"} 60\n"
      "# HELP mqtt_client_reconnects_total Successful connections after the first.\n"
      "# TYPE mqtt_client_reconnects_total counter\n"
      "mqtt_client_reconnects_total{client=\"edge-1\"} 7\n";
  REQUIRE(text.substr(0, head.size()) == head);
  CHECK(text.back() == '\n');
}

TEST_CASE("prometheus: every known value appears on its line") {
  const auto lines = lines_of(mqtt::render_prometheus(known()));
  auto has = [&](const std::string& l) {
    return std::find(lines.begin(), lines.end(), l) != lines.end();
  };
  CHECK(has("mqtt_client_connection_attempts_total{client=\"edge-1\"} 9"));
  CHECK(has("mqtt_client_connection_errors_total{client=\"edge-1\",code=\"PingTimeout\"} 2"));
  CHECK(has("mqtt_client_connection_errors_total{client=\"edge-1\",code=\"Dns\"} 0"));
  CHECK(has("mqtt_client_requests_failed_total{client=\"edge-1\",reason=\"ConnectionClosed\"} 11"));
  CHECK(has("mqtt_client_reading_paused_seconds_total{client=\"edge-1\"} 1.5"));
  CHECK(has("mqtt_client_log_records_total{client=\"edge-1\"} 12"));
  CHECK(has("mqtt_client_log_dropped_total{client=\"edge-1\"} 3"));
  CHECK(has("mqtt_client_state{client=\"edge-1\",state=\"Connected\"} 1"));
  CHECK(has("mqtt_client_state{client=\"edge-1\",state=\"Connecting\"} 0"));
  CHECK(has("mqtt_client_queued_requests{client=\"edge-1\",lane=\"publish\"} 13"));
  CHECK(has("mqtt_client_inflight_publishes{client=\"edge-1\"} 14"));
  CHECK(has("mqtt_client_inflight_window{client=\"edge-1\"} 100"));
  CHECK(has("mqtt_client_last_ping_rtt_seconds{client=\"edge-1\"} 0.00025"));
  // No "None" reason: it is not a failure.
  for (const auto& l : lines) CHECK(l.find("reason=\"None\"") == std::string::npos);
  // Each family once: a HELP and a TYPE line per metric name.
  size_t help = 0, type = 0, samples = 0;
  for (const auto& l : lines) {
    if (l.rfind("# HELP ", 0) == 0) ++help;
    else if (l.rfind("# TYPE ", 0) == 0) ++type;
    else ++samples;
  }
  CHECK(help == 18);
  CHECK(type == 18);
  // 6 + 6 by direction and QoS, 15 error codes, 10 reasons (None left
  // out), 5 states, 2 lanes, 12 families of one sample.
  CHECK(samples == 12 + 15 + 10 + 5 + 2 + 12);
}

TEST_CASE("prometheus: no ping yet, no rtt sample") {
  PrometheusSample s = known();
  s.snapshot.last_ping_rtt.reset();
  const std::string text = mqtt::render_prometheus(s);
  CHECK(text.find("# TYPE mqtt_client_last_ping_rtt_seconds gauge\n") != std::string::npos);
  CHECK(text.find("mqtt_client_last_ping_rtt_seconds{") == std::string::npos);
}

TEST_CASE("prometheus: label values are escaped") {
  CHECK(mqtt::prometheus_escape("plain") == "plain");
  CHECK(mqtt::prometheus_escape("a\\b") == "a\\\\b");
  CHECK(mqtt::prometheus_escape("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(mqtt::prometheus_escape("two\nlines") == "two\\nlines");
  PrometheusSample s = known();
  s.client = "we\"ird\\\nid";
  const std::string text = mqtt::render_prometheus(s);
  CHECK(text.find("mqtt_client_reconnects_total{client=\"we\\\"ird\\\\\\nid\"} 7\n") !=
        std::string::npos);
  // The raw newline never splits a sample line.
  for (const auto& l : lines_of(text)) CHECK(l != "id\"} 7");
}

TEST_CASE("prometheus: several clients share one HELP/TYPE per family") {
  std::vector<PrometheusSample> v = {known(), known()};
  v[1].client = "edge-2";
  v[1].counters.reconnects = 70;
  const std::string text = mqtt::render_prometheus(v);
  const std::string both =
      "# TYPE mqtt_client_reconnects_total counter\n"
      "mqtt_client_reconnects_total{client=\"edge-1\"} 7\n"
      "mqtt_client_reconnects_total{client=\"edge-2\"} 70\n";
  CHECK(text.find(both) != std::string::npos);
  size_t n = 0;
  for (size_t p = 0; (p = text.find("# TYPE mqtt_client_reconnects_total", p)) != std::string::npos; ++p) ++n;
  CHECK(n == 1);
}

TEST_CASE("log buffer: bounded, overflow counted, order kept") {
  mqtt::runtime::CounterCells cells;
  mqtt::runtime::LogBuffer buf(4);
  std::vector<mqtt::LogRecord> out;
  CHECK_FALSE(buf.take(out));  // nothing pushed: no lock taken, nothing out
  for (int i = 0; i < 10; ++i) {
    mqtt::LogRecord r;
    r.message = std::to_string(i);
    buf.push(std::move(r), cells);
  }
  CHECK(cells.log_records.load() == 4);
  CHECK(cells.log_dropped.load() == 6);
  REQUIRE(buf.take(out));
  REQUIRE(out.size() == 4);
  for (int i = 0; i < 4; ++i) CHECK(out[i].message == std::to_string(i));
  // Room again after the take.
  mqtt::LogRecord r;
  r.message = "again";
  buf.push(std::move(r), cells);
  REQUIRE(buf.take(out));
  CHECK(out.size() == 1);
  CHECK(out[0].message == "again");
  CHECK_FALSE(buf.take(out));
}

TEST_CASE("log buffer: a producer never waits for a slow consumer") {
  mqtt::runtime::CounterCells cells;
  mqtt::runtime::LogBuffer buf(64);
  std::atomic<bool> stop{false};
  uint64_t taken = 0;
  std::thread consumer([&] {
    std::vector<mqtt::LogRecord> out;
    while (!stop.load()) {
      buf.take(out);
      taken += out.size();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a slow sink
    }
    buf.take(out);
    taken += out.size();
  });
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100000; ++i) buf.push(mqtt::LogRecord{}, cells);
  const auto spent = std::chrono::steady_clock::now() - t0;
  stop = true;
  consumer.join();
  CHECK(cells.log_records.load() + cells.log_dropped.load() == 100000);
  CHECK(cells.log_records.load() == taken);
  CHECK(cells.log_dropped.load() > 0);
  // 100k pushes against a consumer sleeping 1 ms per take: far under the
  // ~1.5 s the pushes would take if each waited for one take.
  CHECK(spent < std::chrono::seconds(5));
}
