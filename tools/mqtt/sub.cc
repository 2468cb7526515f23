// mqtt sub: subscribes and prints every message until --count messages
// arrived, --timeout passed, or SIGINT/SIGTERM. Rides out connection drops
// (the library reconnects and resubscribes); a refused first connection or
// subscription ends the run.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tools/mqtt/commands.h"
#include "tools/mqtt/exit_codes.h"
#include "tools/mqtt/flags.h"
#include "tools/mqtt/link.h"
#include "tools/mqtt/output.h"

namespace mqtt::cli {

namespace {

constexpr const char* kSubHelp =
    "usage: mqtt sub -t FILTER [-t FILTER...] [options]\n"
    "Subscribes and prints every message received (the payload, one per line).\n"
    "Subscription:\n"
    "  -t, --topic FILTER     topic filter to subscribe to (repeatable)\n"
    "  -q, --qos 0|1|2        maximum QoS asked for (default 0)\n"
    "      --no-local         MQTT 5: not our own publishes\n"
    "      --retain-as-published  MQTT 5: keep the retain flag as published\n"
    "      --retain-handling 0|1|2  MQTT 5: 0 send retained (default), 1 only on a new\n"
    "                         subscription, 2 never\n"
    "End:\n"
    "  -C, --count N          exit after N messages\n"
    "  -W, --timeout SECS     exit after SECS (exit 3 if --count was not reached)\n"
    "Output:\n"
    "  -v, --verbose          print the topic before the payload\n"
    "  -N                     no newline after the payload\n"
    "  -R, --no-retained      skip retained messages (the broker's stale ones)\n"
    "      --show-properties  text: MQTT 5 properties as JSON after the payload\n"
    "      --no-progress      no progress line (drawn with --count when stdout is\n"
    "                         not a terminal and stderr is)\n"
    "      --json             one JSON object per message: topic, qos, retain, payload\n"
    "                         (payload_hex when not UTF-8), properties\n";

struct SubFlags {
  ConnectFlags conn;
  std::vector<std::string> filters;
  QoS qos = QoS::AtMostOnce;
  bool no_local = false, retain_as_published = false;
  RetainHandling retain_handling = RetainHandling::SendAtSubscribe;
  uint64_t count = 0;     // 0: no limit
  double timeout_s = 0;   // 0: none
  TextFormat text;
  bool skip_retained = false;
  bool progress = true;
};

std::optional<int> parse(int argc, char** argv, SubFlags& f) {
  auto own = [&f](std::string_view a, Args& args) {
    if (a == "-t" || a == "--topic") {
      if (auto v = args.value(a)) f.filters.push_back(*v);
    } else if (a == "-q" || a == "--qos") {
      if (auto q = args.qos_value(a)) f.qos = *q;
    } else if (a == "--no-local") {
      f.no_local = true;
    } else if (a == "--retain-as-published") {
      f.retain_as_published = true;
    } else if (a == "--retain-handling") {
      if (auto n = args.uint_value(a, 0, 2)) f.retain_handling = static_cast<RetainHandling>(*n);
    } else if (a == "-C" || a == "--count") {
      if (auto n = args.uint_value(a, 1, UINT64_MAX / 2)) f.count = *n;
    } else if (a == "-W" || a == "--timeout") {
      if (auto n = args.number_value(a, 0.001, 1e7)) f.timeout_s = *n;
    } else if (a == "-v" || a == "--verbose") {
      f.text.verbose = true;
    } else if (a == "-N") {
      f.text.newline = false;
    } else if (a == "-R" || a == "--no-retained") {
      f.skip_retained = true;
    } else if (a == "--show-properties") {
      f.text.show_props = true;
    } else if (a == "--no-progress") {
      f.progress = false;
    } else {
      return false;
    }
    return true;
  };
  if (auto exit = parse_command(argc, argv, "sub", kSubHelp, f.conn, own)) return exit;
  if (f.filters.empty() && !f.conn.url_topic().empty()) f.filters.push_back(f.conn.url_topic());
  if (f.filters.empty()) return usage_error("sub", "no topic filter: give -t FILTER");
  if ((f.no_local || f.retain_as_published || f.retain_handling != RetainHandling::SendAtSubscribe) &&
      f.conn.version != ProtocolVersion::V5) {
    return usage_error("sub", "--no-local, --retain-as-published and --retain-handling need -V 5");
  }
  return std::nullopt;
}

// Checks the SUBACK: an error message naming the first refused filter.
std::optional<std::string> refused(const Completion& c, const std::vector<std::string>& filters) {
  if (!c.ok()) return "subscribe failed: " + std::string(to_string(c.error)) +
                      (c.message.empty() ? "" : ": " + c.message);
  for (size_t i = 0; i < c.reason_codes.size() && i < filters.size(); ++i) {
    if (static_cast<uint8_t>(c.reason_codes[i]) >= 0x80) {
      return "subscription to \"" + filters[i] + "\" refused: " +
             std::string(to_string(c.reason_codes[i]));
    }
  }
  return std::nullopt;
}

}  // namespace

int sub_main(int argc, char** argv) {
  SubFlags f;
  if (auto exit = parse(argc, argv, f)) return *exit;
  auto options = f.conn.options("mqtt-sub");
  if (!options.ok()) return usage_error("sub", options.error());
  options->auto_resubscribe = true;  // after a reconnect that lost the session

  install_signal_handlers();
  using Clock = std::chrono::steady_clock;
  const auto deadline = f.timeout_s > 0
                            ? Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(f.timeout_s * 1000))
                            : Clock::time_point::max();
  auto say = [&](const std::string& m) {
    if (!f.conn.quiet) std::fprintf(stderr, "mqtt sub: %s\n", m.c_str());
  };
  auto opened = Link::open(*options, 4096);
  if (!opened.ok()) {
    say(opened.error().message);
    return opened.error().exit_code;
  }
  Link link = std::move(*opened);
  if (f.conn.debug) say("connected (" + std::string(to_string(options->protocol)) + ")");

  std::vector<SubscribeFilter> subs;
  for (const auto& filter : f.filters) {
    subs.push_back(SubscribeFilter{filter, f.qos, f.no_local, f.retain_as_published, f.retain_handling});
  }
  auto token = link.client().subscribe_many(subs, f.conn.props.subscribe);
  if (!token.ok()) {
    say("cannot subscribe: " + token.error().message);
    link.close(std::chrono::milliseconds(500));
    return token.error().code == ClientError::Code::InvalidRequest ? kExitUsage : kExitFailure;
  }
  bool subscribed = false;

  const bool to_terminal = isatty(fileno(stdout)) == 1;
  Progress progress("mqtt sub", f.count,
                    f.progress && f.count > 0 && !to_terminal && stderr_is_terminal());
  uint64_t received = 0;
  int exit_code = kExitOk;
  bool running = true;
  while (running) {
    if (g_interrupted.load() || Clock::now() >= deadline) {
      if (f.count > 0) exit_code = kExitPartial;
      break;
    }
    if (!subscribed) {
      if (auto c = token->poll()) {
        if (auto why = refused(*c, f.filters)) {
          say(*why);
          exit_code = kExitFailure;
          break;
        }
        subscribed = true;
        if (f.conn.debug) {
          for (size_t i = 0; i < f.filters.size() && i < c->reason_codes.size(); ++i) {
            say("subscribed to " + f.filters[i] + " (granted QoS " +
                std::to_string(static_cast<int>(c->reason_codes[i])) + ")");
          }
        }
      }
    }
    const auto wait = std::min<Clock::duration>(std::chrono::milliseconds(100), deadline - Clock::now());
    auto ev = link.connection().next_for(wait);
    if (!ev) {
      if (link.connection().ended()) {
        exit_code = kExitFailure;
        break;
      }
      continue;
    }
    if (const codec::Publish* p = ev->publish()) {
      if (f.skip_retained && p->retain) continue;
      if (f.conn.json) {
        std::string line = message_json(*p);
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stdout);
      } else {
        print_message(stdout, *p, f.text);
      }
      if (std::fflush(stdout) != 0) {
        // A reader that went away (`mqtt sub ... | head -3`) ends the run
        // normally; any other write error is a failure.
        if (errno != EPIPE) {
          say(std::string("cannot write the output: ") + std::strerror(errno));
          exit_code = kExitFailure;
        }
        break;
      }
      ++received;
      progress.update(received);
      if (f.count > 0 && received >= f.count) running = false;
    } else if (const ConnectionError* e = ev->error()) {
      say(describe_failure(*e) + (e->terminal ? "" : "; reconnecting"));
      if (e->terminal) {
        exit_code = kExitFailure;
        break;
      }
    } else if (const RequestFailed* rf = ev->request_failed()) {
      say(std::string(to_string(rf->kind)) + " failed: " + std::string(to_string(rf->reason)));
    }
  }
  progress.clear();
  link.close(std::chrono::seconds(1), codec::Disconnect{ReasonCode::NormalDisconnection,
                                                        f.conn.props.disconnect});
  if (exit_code == kExitPartial) {
    say(std::string(g_interrupted.load() ? "interrupted" : "--timeout") + " after " +
        std::to_string(received) + " of " + std::to_string(f.count) + " message(s)");
  }
  return exit_code;
}

}  // namespace mqtt::cli
