#include "tools/mqtt/output.h"

#include <unistd.h>

#include <cmath>

#include "mqtt/codec/topic.h"
#include "tools/dissect/format.h"

namespace mqtt::cli {

using dissect::json_quote;
using dissect::to_hex;

void JsonObject::key(std::string_view k) {
  if (body_.size() > 1) body_ += ',';
  body_ += json_quote(k);
  body_ += ':';
}

JsonObject& JsonObject::add(std::string_view k, std::string_view text) {
  key(k);
  body_ += json_quote(text);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, uint64_t n) {
  key(k);
  body_ += std::to_string(n);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, int64_t n) {
  key(k);
  body_ += std::to_string(n);
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, double x) {
  key(k);
  if (!std::isfinite(x)) {
    body_ += "null";
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", x);
    body_ += buf;
  }
  return *this;
}

JsonObject& JsonObject::add(std::string_view k, bool b) {
  key(k);
  body_ += b ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::add_raw(std::string_view k, std::string_view json) {
  key(k);
  body_ += json;
  return *this;
}

void add_payload(JsonObject& o, codec::Bytes payload) {
  std::string_view text = codec::as_string(payload);
  if (!codec::validate_utf8(text)) {
    o.add("payload", text);
  } else {
    o.add("payload_hex", to_hex(payload));
  }
}

std::string properties_json(const codec::Properties& p) {
  JsonObject o;
  bool any = false;
  auto mark = [&] { any = true; };
  if (p.payload_format_indicator) o.add("payload_format_indicator", uint64_t{*p.payload_format_indicator}), mark();
  if (p.message_expiry_interval) o.add("message_expiry_interval", uint64_t{*p.message_expiry_interval}), mark();
  if (p.content_type) o.add("content_type", *p.content_type), mark();
  if (p.response_topic) o.add("response_topic", *p.response_topic), mark();
  if (p.correlation_data) o.add("correlation_data_hex", to_hex(*p.correlation_data)), mark();
  if (p.topic_alias) o.add("topic_alias", uint64_t{*p.topic_alias}), mark();
  if (!p.subscription_identifiers.empty()) {
    std::string ids = "[";
    for (uint32_t id : p.subscription_identifiers) {
      if (ids.size() > 1) ids += ',';
      ids += std::to_string(id);
    }
    o.add_raw("subscription_identifiers", ids + "]");
    mark();
  }
  if (!p.user_properties.empty()) {
    // A list, not an object: keys may repeat and their order matters.
    std::string list = "[";
    for (const auto& up : p.user_properties) {
      if (list.size() > 1) list += ',';
      list += JsonObject().add("key", up.key).add("value", up.value).str();
    }
    o.add_raw("user_properties", list + "]");
    mark();
  }
  return any ? o.str() : std::string();
}

std::string message_json(const codec::Publish& p) {
  JsonObject o;
  o.add("topic", p.topic);
  o.add("qos", static_cast<int>(p.qos));
  o.add("retain", p.retain);
  if (p.dup) o.add("dup", true);
  add_payload(o, p.payload);
  if (std::string props = properties_json(p.properties); !props.empty()) {
    o.add_raw("properties", props);
  }
  return o.str();
}

void print_message(std::FILE* out, const codec::Publish& p, const TextFormat& f) {
  if (f.verbose) {
    std::fwrite(p.topic.data(), 1, p.topic.size(), out);
    std::fputc(' ', out);
  }
  std::fwrite(p.payload.data(), 1, p.payload.size(), out);
  if (f.show_props) {
    if (std::string props = properties_json(p.properties); !props.empty()) {
      std::fprintf(out, " %s", props.c_str());
    }
  }
  if (f.newline) std::fputc('\n', out);
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled),
      start_(std::chrono::steady_clock::now()) {}

void Progress::update(uint64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // Short runs never show it; then at most 10 redraws a second.
  if (now - start_ < std::chrono::seconds(1)) return;
  if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  char line[160];
  if (total_ > 0) {
    const double pct = 100.0 * static_cast<double>(done) / static_cast<double>(total_);
    const double eta = rate > 0 && done < total_ ? static_cast<double>(total_ - done) / rate : 0;
    std::snprintf(line, sizeof line, "\r%s %llu/%llu (%.0f%%) %.0f msg/s, ETA %.0fs   ",
                  label_.c_str(), static_cast<unsigned long long>(done),
                  static_cast<unsigned long long>(total_), pct, rate, eta);
  } else {
    std::snprintf(line, sizeof line, "\r%s %llu, %.0f msg/s   ", label_.c_str(),
                  static_cast<unsigned long long>(done), rate);
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::clear() {
  if (!drawn_) return;
  // Erase the line so that what follows starts on a clean one.
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace mqtt::cli
