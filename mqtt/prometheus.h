// Renders Counters and Snapshot (mqtt/diagnostics.h, mqtt/client.h) in the
// Prometheus text exposition format (version 0.0.4): HELP and TYPE once per
// metric family, then one sample per client and label set, e.g.
//   mqtt_client_messages_total{client="edge-1",direction="in",qos="1"} 42
// Plain functions: no threads, no sockets, no locks; the caller serves the
// text (examples/prometheus_metrics.cc serves it over HTTP). Every counter
// and every label value appears, zeros included, so series stay stable.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "mqtt/client.h"
#include "mqtt/diagnostics.h"

namespace mqtt {

// One connection's numbers, under the label client="<client>".
struct PrometheusSample {
  std::string client;  // the client label's value (escaped when rendered)
  Counters counters;   // from Client::counters() or Connection::counters()
  Snapshot snapshot;   // from Client::snapshot() or Connection::snapshot()
};

// The exposition of every sample (metric families grouped, as the format
// requires). Content type: "text/plain; version=0.0.4; charset=utf-8".
// Never blocks; any thread.
std::string render_prometheus(std::span<const PrometheusSample> samples);
// The exposition of one sample, as above.
std::string render_prometheus(const PrometheusSample& sample);

// A label value escaped as the format wants: \ -> \\, " -> \", newline -> \n.
std::string prometheus_escape(std::string_view label_value);

}  // namespace mqtt
