// What the `mqtt` subcommands print: received messages as text or JSON
// lines, small JSON objects for results, and the progress line on stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "mqtt/codec/packets.h"

namespace mqtt::cli {

// Builds one JSON object: {"a":1,"b":"x"}.
class JsonObject {
 public:
  JsonObject& add(std::string_view key, std::string_view text);
  JsonObject& add(std::string_view key, const char* text) { return add(key, std::string_view(text)); }
  JsonObject& add(std::string_view key, uint64_t n);
  JsonObject& add(std::string_view key, int n) { return add(key, static_cast<int64_t>(n)); }
  JsonObject& add(std::string_view key, int64_t n);
  JsonObject& add(std::string_view key, double x);
  JsonObject& add(std::string_view key, bool b);
  // `json` is already a JSON value (object, array...).
  JsonObject& add_raw(std::string_view key, std::string_view json);
  std::string str() const { return body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_ = "{";
};

// A payload as JSON fields: "payload":"text" when it is valid UTF-8, else
// "payload_hex":"00ff...".
void add_payload(JsonObject& o, codec::Bytes payload);
// The MQTT 5 properties of a PUBLISH as a JSON object; empty string when none.
std::string properties_json(const codec::Properties& p);

// How `mqtt sub` prints a message in text mode (mosquitto_sub's default and -v).
struct TextFormat {
  bool verbose = false;      // "TOPIC PAYLOAD"
  bool newline = true;       // -N turns it off
  bool show_props = false;   // --show-properties: MQTT 5 properties after it
};
void print_message(std::FILE* out, const codec::Publish& p, const TextFormat& f);
std::string message_json(const codec::Publish& p);

// A one-line progress display on stderr ("\r...", cleared at the end), only
// when stderr is a terminal. Redraws at most 10 times a second.
class Progress {
 public:
  // `total` 0: unknown (no ETA). `enabled` false: never draws.
  Progress(std::string label, uint64_t total, bool enabled);
  ~Progress() { clear(); }
  void update(uint64_t done);
  void clear();

 private:
  std::string label_;
  uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// True when stderr is a terminal (progress lines are drawn only then).
bool stderr_is_terminal();

}  // namespace mqtt::cli
