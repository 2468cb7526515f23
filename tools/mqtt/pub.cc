// mqtt pub: publishes one message (or --repeat N, or one per stdin line) and
// exits once every publish is acknowledged (QoS 1/2) or written (QoS 0).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "tools/mqtt/commands.h"
#include "tools/mqtt/exit_codes.h"
#include "tools/mqtt/flags.h"
#include "tools/mqtt/link.h"
#include "tools/mqtt/output.h"

namespace mqtt::cli {

namespace {

constexpr const char* kPubHelp =
    "usage: mqtt pub -t TOPIC {-m MESSAGE | -f FILE | -n | -s | -l} [options]\n"
    "Publishes a message and exits once it is acknowledged (QoS 1/2) or sent (QoS 0).\n"
    "Message:\n"
    "  -t, --topic TOPIC      topic to publish to\n"
    "  -m, --message TEXT     the payload\n"
    "  -f, --file FILE        the payload is the contents of FILE\n"
    "  -n, --null-message     an empty payload\n"
    "  -s, --stdin-file       the payload is all of standard input\n"
    "  -l, --stdin-line       one message per line of standard input\n"
    "  -q, --qos 0|1|2        quality of service (default 0)\n"
    "  -r, --retain           retained message\n"
    "      --repeat N         publish the message N times (also --count N)\n"
    "      --repeat-delay SECS  wait between repeats\n"
    "      --rate N           at most N messages a second\n"
    "  -M, --max-inflight N   QoS 1/2 messages in flight (default 100)\n"
    "      --timeout SECS     give up (exit 3) when not done by then\n"
    "      --no-progress      no progress line\n";

enum class Source { None, Message, File, Null, Stdin, Lines };

struct PubFlags {
  ConnectFlags conn;
  std::string topic;
  Source source = Source::None;
  std::string message;  // -m text or -f path
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  uint64_t repeat = 1;
  double repeat_delay_s = 0;
  double rate = 0;
  uint16_t max_inflight = 100;
  double timeout_s = 0;  // 0: none
  bool progress = true;
};

// Parses argv into `f`. nullopt: go on; otherwise exit with that status
// (help printed, or a usage error reported).
std::optional<int> parse(int argc, char** argv, PubFlags& f) {
  auto own = [&f](std::string_view a, Args& args) {
    auto set_source = [&](Source s) {
      if (f.source != Source::None) args.fail("give only one of -m, -f, -n, -s and -l");
      f.source = s;
    };
    if (a == "-t" || a == "--topic") {
      if (auto v = args.value(a)) f.topic = *v;
    } else if (a == "-m" || a == "--message") {
      set_source(Source::Message);
      if (auto v = args.value(a)) f.message = *v;
    } else if (a == "-f" || a == "--file") {
      set_source(Source::File);
      if (auto v = args.value(a)) f.message = *v;
    } else if (a == "-n" || a == "--null-message") {
      set_source(Source::Null);
    } else if (a == "-s" || a == "--stdin-file") {
      set_source(Source::Stdin);
    } else if (a == "-l" || a == "--stdin-line") {
      set_source(Source::Lines);
    } else if (a == "-q" || a == "--qos") {
      if (auto q = args.qos_value(a)) f.qos = *q;
    } else if (a == "-r" || a == "--retain") {
      f.retain = true;
    } else if (a == "--repeat" || a == "--count") {
      if (auto n = args.uint_value(a, 1, 1000000000)) f.repeat = *n;
    } else if (a == "--repeat-delay") {
      if (auto n = args.number_value(a, 0, 3600)) f.repeat_delay_s = *n;
    } else if (a == "--rate") {
      if (auto n = args.number_value(a, 0, 1e9)) f.rate = *n;
    } else if (a == "-M" || a == "--max-inflight") {
      if (auto n = args.uint_value(a, 1, 65535)) f.max_inflight = static_cast<uint16_t>(*n);
    } else if (a == "--timeout") {
      if (auto n = args.number_value(a, 0, 1e7)) f.timeout_s = *n;
    } else if (a == "--no-progress") {
      f.progress = false;
    } else {
      return false;
    }
    return true;
  };
  if (auto exit = parse_command(argc, argv, "pub", kPubHelp, f.conn, own)) return exit;
  if (f.topic.empty()) f.topic = f.conn.url_topic();
  if (f.topic.empty()) return usage_error("pub", "no topic: give -t TOPIC");
  if (f.source == Source::None) return usage_error("pub", "no message: give -m, -f, -n, -s or -l");
  if (f.source == Source::Lines && f.repeat > 1) {
    return usage_error("pub", "--repeat does not go with -l");
  }
  return std::nullopt;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

// Publishes and follows each message's token, in order.
class Publisher {
 public:
  Publisher(Link& link, const PubFlags& f) : link_(link), f_(f) {}

  // Queues one message. False when it was not: a failure (reported, see
  // failed()), or the deadline or a signal came first. Never blocks for
  // long: a full lane is waited out in short steps that watch for a lost
  // connection, the deadline and signals.
  bool publish(std::string_view payload, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      auto t = link_.client().try_publish_tracked(f_.topic, f_.qos, f_.retain, payload,
                                                  f_.conn.props.publish);
      if (t.ok()) {
        pending_.push_back(Pending{++sent_, payload.size(), std::move(*t)});
        collect(std::chrono::steady_clock::time_point::min());
        return true;
      }
      if (t.error().code != ClientError::Code::QueueFull) {
        fail(std::string("cannot publish: ") + t.error().message);
        return false;
      }
      if (g_interrupted.load() || std::chrono::steady_clock::now() >= deadline) return false;
      if (auto lost = link_.failure()) {
        fail(*lost);
        return false;
      }
      // The lane frees as the reactor takes requests; the oldest token
      // completing is a good moment to look again.
      if (!pending_.empty()) {
        pending_.front().token.wait_for(std::chrono::milliseconds(10));
        collect(std::chrono::steady_clock::time_point::min());
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }

  // Waits for the outstanding tokens until `deadline` (or one fails / the
  // connection is lost); true when all completed.
  bool collect(std::chrono::steady_clock::time_point deadline) {
    while (!pending_.empty()) {
      auto& p = pending_.front();
      auto c = p.token.poll();
      if (!c) {
        if (std::chrono::steady_clock::now() >= deadline || g_interrupted.load()) return false;
        if (auto lost = link_.failure()) {
          fail(*lost);
          return false;
        }
        c = p.token.wait_for(std::chrono::milliseconds(50));
        if (!c) continue;
      }
      report(p, *c);
      pending_.pop_front();
    }
    return true;
  }

  uint64_t sent() const { return sent_; }
  uint64_t acknowledged() const { return acknowledged_; }
  bool failed() const { return failed_; }
  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    uint64_t index;
    size_t bytes;
    Token token;
  };

  void report(const Pending& p, const Completion& c) {
    if (c.ok()) ++acknowledged_;
    else fail("message " + std::to_string(p.index) + " failed: " + std::string(to_string(c.error)) +
              (c.message.empty() ? "" : ": " + c.message));
    if (!f_.conn.json) return;
    JsonObject o;
    o.add("index", p.index).add("topic", f_.topic).add("qos", static_cast<int>(f_.qos));
    o.add("retain", f_.retain).add("bytes", uint64_t{p.bytes}).add("ok", c.ok());
    if (!c.reason_codes.empty()) o.add("reason_code", to_string(c.reason_codes[0]));
    if (!c.ok()) o.add("error", to_string(c.error));
    std::printf("%s\n", o.str().c_str());
    std::fflush(stdout);
  }

  void fail(std::string message) {
    if (!failed_ && !f_.conn.quiet) std::fprintf(stderr, "mqtt pub: %s\n", message.c_str());
    failed_ = true;
  }

  Link& link_;
  const PubFlags& f_;
  std::deque<Pending> pending_;
  uint64_t sent_ = 0, acknowledged_ = 0;
  bool failed_ = false;
};

}  // namespace

int pub_main(int argc, char** argv) {
  PubFlags f;
  if (auto exit = parse(argc, argv, f)) return *exit;
  std::string payload;
  if (f.source == Source::Message) {
    payload = f.message;
  } else if (f.source == Source::File) {
    if (!read_file(f.message, payload)) {
      return usage_error("pub", "cannot read " + f.message + ": " + std::strerror(errno));
    }
  } else if (f.source == Source::Stdin) {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    payload = ss.str();
  }
  auto options = f.conn.options("mqtt-pub");
  if (!options.ok()) return usage_error("pub", options.error());
  options->max_inflight = f.max_inflight;
  options->rate_limit.messages_per_second = f.rate;

  install_signal_handlers();
  auto opened = Link::open(*options, 1024);
  if (!opened.ok()) {
    if (!f.conn.quiet) std::fprintf(stderr, "mqtt pub: %s\n", opened.error().message.c_str());
    return opened.error().exit_code;
  }
  Link link = std::move(*opened);
  if (f.conn.debug) std::fprintf(stderr, "mqtt pub: connected\n");
  link.drain_in_background();

  using Clock = std::chrono::steady_clock;
  const auto deadline = f.timeout_s > 0
                            ? Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(f.timeout_s * 1000))
                            : Clock::time_point::max();
  Publisher pub(link, f);
  Progress progress("mqtt pub", f.repeat, f.progress && f.repeat > 1 && stderr_is_terminal());
  bool stopped = false;  // by --timeout or a signal
  if (f.source == Source::Lines) {
    std::string line;
    while (!pub.failed() && std::getline(std::cin, line)) {
      if (g_interrupted.load() || Clock::now() >= deadline) {
        stopped = true;
        break;
      }
      if (!pub.publish(line, deadline)) {
        stopped = !pub.failed();
        break;
      }
    }
  } else {
    for (uint64_t i = 0; i < f.repeat && !pub.failed(); ++i) {
      if (g_interrupted.load() || Clock::now() >= deadline) {
        stopped = true;
        break;
      }
      if (i > 0 && f.repeat_delay_s > 0) {
        std::this_thread::sleep_for(std::chrono::duration<double>(f.repeat_delay_s));
      }
      if (!pub.publish(payload, deadline)) {
        stopped = !pub.failed();
        break;
      }
      progress.update(i + 1);
    }
  }
  if (!pub.failed() && !pub.collect(deadline)) stopped = !pub.failed();
  progress.clear();
  // A clean run has nothing left to drain; otherwise do not wait long.
  const bool drained = link.close(pub.pending() == 0 ? std::chrono::seconds(5)
                                                     : std::chrono::milliseconds(500),
                                  codec::Disconnect{ReasonCode::NormalDisconnection,
                                                    f.conn.props.disconnect});
  if (pub.failed()) return kExitFailure;
  if (stopped) {
    if (!f.conn.quiet) {
      std::fprintf(stderr, "mqtt pub: %s before the end: %llu of %llu message(s) done\n",
                   g_interrupted.load() ? "interrupted" : "--timeout",
                   static_cast<unsigned long long>(pub.acknowledged()),
                   static_cast<unsigned long long>(f.source == Source::Lines ? pub.sent() : f.repeat));
    }
    return kExitPartial;
  }
  if (!drained && !f.conn.quiet) std::fprintf(stderr, "mqtt pub: warning: DISCONNECT not completed\n");
  return kExitOk;
}

}  // namespace mqtt::cli
