// Which broker each connection attempt goes to (MqttOptions::brokers), as a
// small pure object the driver consults; no sockets, no clock. Reactor thread
// only.
//
//   BrokerRotation r(brokers_of(options));
//   const BrokerAddress& b = r.begin_attempt();   // connect to b ...
//   r.attempt_failed();    // ... it failed before connecting: next time, the next one
//   r.connected();         // ... or it connected: a later drop retries b first
//   bool now = r.continue_round();   // no backoff wait before the next attempt?
//
// Rounds. Brokers are tried in list order, wrapping around, starting from
// the one that last worked (the first one at first). A failed attempt moves
// on to the next broker at once (continue_round() is true) until every
// broker of the round has failed; then the reconnect backoff applies before
// the next round, as it does before the first attempt after a drop.
//
// MQTT 5 server redirection (a CONNACK or DISCONNECT with "Use another
// server" / "Server moved" and a Server Reference) inserts the named server
// with insert_front(): the next attempt goes to it, and a new round starts
// there (after the backoff wait).
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mqtt/options.h"

namespace mqtt::runtime {

// The list the options name: `brokers`, or the single host:port / unix_path.
inline std::vector<BrokerAddress> brokers_of(const MqttOptions& o) {
  if (!o.brokers.empty()) return o.brokers;
  return {BrokerAddress{o.host, o.port, o.unix_path}};
}

// The first server of an MQTT 5 Server Reference (§4.11: one or more
// references separated by spaces; the usual form is "host[:port]", an IPv6
// literal in brackets). `default_port`: the current broker's. nullopt when
// the first entry is not of that form.
inline std::optional<BrokerAddress> parse_server_reference(std::string_view ref,
                                                           uint16_t default_port) {
  const size_t start = ref.find_first_not_of(' ');
  if (start == std::string_view::npos) return std::nullopt;
  ref = ref.substr(start, ref.find(' ', start) - start);
  BrokerAddress b;
  b.port = default_port;
  std::string_view port_text;
  if (ref.front() == '[') {
    const size_t close = ref.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    b.host = std::string(ref.substr(1, close - 1));
    const std::string_view rest = ref.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
  } else {
    const size_t colon = ref.find(':');
    if (colon != std::string_view::npos && ref.find(':', colon + 1) != std::string_view::npos)
      return std::nullopt;  // an IPv6 literal without brackets is ambiguous
    b.host = std::string(ref.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = ref.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
  }
  if (b.host.empty() || b.host.find('/') != std::string::npos) return std::nullopt;
  if (!port_text.empty()) {
    uint32_t p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || p > 65535) return std::nullopt;
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535) return std::nullopt;
    b.port = static_cast<uint16_t>(p);
  }
  return b;
}

class BrokerRotation {
 public:
  explicit BrokerRotation(std::vector<BrokerAddress> list)
      : configured_(list), list_(std::move(list)) {
    if (list_.empty()) list_.push_back(BrokerAddress{});
  }

  // New options (update_options()). The same list keeps the position (and
  // any broker inserted by redirection); a different one starts over at its
  // first broker with the next attempt.
  void configure(const std::vector<BrokerAddress>& list) {
    if (list == configured_ || list.empty()) return;
    configured_ = list;
    list_ = list;
    index_ = 0;
    advance_ = false;
    failures_ = 0;
  }

  // The broker of the attempt that starts now; applies what the end of the
  // previous attempt decided (move on, or a redirection).
  const BrokerAddress& begin_attempt() {
    if (front_) {
      auto same = std::find(list_.begin(), list_.end(), *front_);
      if (same != list_.end()) list_.erase(same);
      list_.insert(list_.begin(), std::move(*front_));
      front_.reset();
      index_ = 0;
      failures_ = 0;
    } else if (advance_) {
      index_ = (index_ + 1) % list_.size();
    }
    advance_ = false;
    return list_[index_];
  }

  // The attempt ended before a connection was up (transport, TLS, or a
  // refusing CONNACK): the next attempt goes to the next broker.
  void attempt_failed() {
    advance_ = true;
    ++failures_;
  }

  // The attempt's CONNACK accepted the connection: should it drop later,
  // the next round starts with this broker.
  void connected() {
    advance_ = false;
    failures_ = 0;
  }

  // True when the next attempt goes straight to the next broker of the
  // round (no backoff wait): the last attempt failed and some broker of this
  // round has not been tried yet.
  bool continue_round() const {
    return !front_ && failures_ > 0 && failures_ % list_.size() != 0;
  }

  // MQTT 5 server redirection: the next attempt goes to `b`, which stays in
  // the list ahead of the others (an equal entry is moved, not duplicated)
  // until configure() changes the list. Call it at any time before the next
  // attempt starts, before or after attempt_failed(): the outcome is the same.
  void insert_front(BrokerAddress b) { front_ = std::move(b); }

  // The broker of the current (or last) attempt.
  const BrokerAddress& current() const { return list_[index_]; }
  const std::vector<BrokerAddress>& list() const { return list_; }

 private:
  std::vector<BrokerAddress> configured_;  // as the options gave it
  std::vector<BrokerAddress> list_;        // configured_ plus redirections
  size_t index_ = 0;
  bool advance_ = false;  // the last attempt failed: move on
  size_t failures_ = 0;   // attempts failed since the last connection (or list change)
  std::optional<BrokerAddress> front_;
};

}  // namespace mqtt::runtime
