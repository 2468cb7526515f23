// mqtt bench: one publisher and one subscriber connection on a topic of
// their own; the publisher sends --count messages of --size bytes (each
// carrying its sequence number and send time) at --rate, the subscriber
// times their arrival. Prints throughput and latency percentiles.
// Not tools/client_bench (the library's own benchmark suite).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "tools/mqtt/commands.h"
#include "tools/mqtt/exit_codes.h"
#include "tools/mqtt/flags.h"
#include "tools/mqtt/link.h"
#include "tools/mqtt/output.h"

namespace mqtt::cli {

namespace {

constexpr const char* kBenchHelp =
    "usage: mqtt bench [options]\n"
    "Publishes messages on one connection, receives them on another, and prints\n"
    "msg/s and latency percentiles (publish to receipt).\n"
    "  -t, --topic TOPIC      topic (default mqtt-bench/PID)\n"
    "  -n, --count N          messages (default 10000)\n"
    "  -s, --size BYTES       payload size, at least 16 (default 64)\n"
    "  -q, --qos 0|1|2        QoS of publish and subscription (default 0)\n"
    "      --rate N           publish at most N messages a second (default: no limit)\n"
    "  -M, --max-inflight N   publisher's QoS 1/2 window (default 100)\n"
    "      --timeout SECS     end the run after SECS (default 60)\n"
    "      --idle SECS        after the last publish, stop when nothing arrived for\n"
    "                         SECS (lost QoS 0 messages; default 2)\n"
    "      --no-progress      no progress line (drawn when stderr is a terminal)\n"
    "      --json             one JSON object with the results\n";

constexpr size_t kHeader = 16;  // sequence number and send time, 8 bytes each

struct BenchFlags {
  ConnectFlags conn;
  std::string topic;
  uint64_t count = 10000;
  uint64_t size = 64;
  QoS qos = QoS::AtMostOnce;
  double rate = 0;
  uint16_t max_inflight = 100;
  double timeout_s = 60;
  double idle_s = 2;
  bool progress = true;
};

std::optional<int> parse(int argc, char** argv, BenchFlags& f) {
  auto own = [&f](std::string_view a, Args& args) {
    if (a == "-t" || a == "--topic") {
      if (auto v = args.value(a)) f.topic = *v;
    } else if (a == "-n" || a == "--count" || a == "-C") {
      if (auto n = args.uint_value(a, 1, 100000000)) f.count = *n;
    } else if (a == "-s" || a == "--size") {
      if (auto n = args.uint_value(a, kHeader, 64 * 1024 * 1024)) f.size = *n;
    } else if (a == "-q" || a == "--qos") {
      if (auto q = args.qos_value(a)) f.qos = *q;
    } else if (a == "--rate") {
      if (auto n = args.number_value(a, 0, 1e9)) f.rate = *n;
    } else if (a == "-M" || a == "--max-inflight") {
      if (auto n = args.uint_value(a, 1, 65535)) f.max_inflight = static_cast<uint16_t>(*n);
    } else if (a == "--timeout" || a == "-W") {
      if (auto n = args.number_value(a, 0.001, 1e6)) f.timeout_s = *n;
    } else if (a == "--idle") {
      if (auto n = args.number_value(a, 0.001, 1e6)) f.idle_s = *n;
    } else if (a == "--no-progress") {
      f.progress = false;
    } else {
      return false;
    }
    return true;
  };
  if (auto exit = parse_command(argc, argv, "bench", kBenchHelp, f.conn, own)) return exit;
  if (f.topic.empty()) f.topic = "mqtt-bench/" + std::to_string(getpid());
  return std::nullopt;
}

using Clock = std::chrono::steady_clock;

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

// The value at quantile q (0..1) of sorted samples, in microseconds.
double percentile_us(const std::vector<uint64_t>& sorted_ns, double q) {
  if (sorted_ns.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted_ns.size() - 1) + 0.5);
  return static_cast<double>(sorted_ns[std::min(i, sorted_ns.size() - 1)]) / 1000.0;
}

struct Outcome {
  uint64_t sent = 0, received = 0, duplicates = 0;
  double publish_s = 0, run_s = 0;
  std::vector<uint64_t> latencies_ns;
};

void print_results(const BenchFlags& f, const MqttOptions& o, Outcome& r) {
  std::sort(r.latencies_ns.begin(), r.latencies_ns.end());
  const double recv_rate = r.run_s > 0 ? static_cast<double>(r.received) / r.run_s : 0;
  const double pub_rate = r.publish_s > 0 ? static_cast<double>(r.sent) / r.publish_s : 0;
  const double mb_s = recv_rate * static_cast<double>(f.size) / 1e6;
  const uint64_t lost = r.sent - std::min(r.sent, r.received);
  if (f.conn.json) {
    JsonObject j;
    j.add("count", f.count).add("size", f.size).add("qos", static_cast<int>(f.qos));
    j.add("protocol", to_string(o.protocol)).add("topic", f.topic);
    j.add("sent", r.sent).add("received", r.received).add("lost", lost);
    j.add("duplicates", r.duplicates).add("publish_seconds", r.publish_s);
    j.add("seconds", r.run_s).add("publish_msg_per_s", pub_rate);
    j.add("msg_per_s", recv_rate).add("mb_per_s", mb_s);
    JsonObject lat;
    lat.add("p50", percentile_us(r.latencies_ns, 0.50)).add("p90", percentile_us(r.latencies_ns, 0.90));
    lat.add("p99", percentile_us(r.latencies_ns, 0.99)).add("p999", percentile_us(r.latencies_ns, 0.999));
    lat.add("max", percentile_us(r.latencies_ns, 1.0));
    j.add_raw("latency_us", lat.str());
    std::printf("%s\n", j.str().c_str());
    return;
  }
  std::printf("mqtt bench: %llu messages of %llu bytes, QoS %d, %s, topic %s\n",
              static_cast<unsigned long long>(f.count), static_cast<unsigned long long>(f.size),
              static_cast<int>(f.qos), std::string(to_string(o.protocol)).c_str(), f.topic.c_str());
  std::printf("published %llu in %.3f s (%.0f msg/s queued)\n", static_cast<unsigned long long>(r.sent),
              r.publish_s, pub_rate);
  std::printf("received  %llu in %.3f s (%.0f msg/s, %.2f MB/s), lost %llu, duplicates %llu\n",
              static_cast<unsigned long long>(r.received), r.run_s, recv_rate, mb_s,
              static_cast<unsigned long long>(lost), static_cast<unsigned long long>(r.duplicates));
  auto ms = [&](double q) { return percentile_us(r.latencies_ns, q) / 1000.0; };
  std::printf("latency   p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms\n",
              ms(0.50), ms(0.90), ms(0.99), ms(0.999), ms(1.0));
}

}  // namespace

int bench_main(int argc, char** argv) {
  BenchFlags f;
  if (auto exit = parse(argc, argv, f)) return *exit;
  auto sub_options = f.conn.options("mqtt-bench-sub");
  auto pub_options = f.conn.options("mqtt-bench-pub");
  if (!sub_options.ok()) return usage_error("bench", sub_options.error());
  if (f.conn.client_id) {  // one id for two connections would knock one off
    sub_options->client_id += "-sub";
    pub_options->client_id += "-pub";
  }
  pub_options->max_inflight = f.max_inflight;
  auto say = [&](const std::string& m) {
    if (!f.conn.quiet) std::fprintf(stderr, "mqtt bench: %s\n", m.c_str());
  };

  install_signal_handlers();
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(f.timeout_s * 1000));
  auto sub_opened = Link::open(*sub_options, Client::kMaxCapacity);
  if (!sub_opened.ok()) {
    say(sub_opened.error().message);
    return sub_opened.error().exit_code;
  }
  Link sub = std::move(*sub_opened);
  auto token = sub.client().subscribe(f.topic, f.qos);
  if (!token.ok()) {
    say("cannot subscribe: " + token.error().message);
    return kExitUsage;  // an invalid topic
  }
  // The subscriber must be in place before the first publish.
  std::optional<Completion> suback;
  while (!suback && Clock::now() < deadline && !g_interrupted.load()) {
    sub.connection().next_for(std::chrono::milliseconds(20));
    suback = token->poll();
  }
  if (!suback || !suback->ok() || suback->reason_codes.empty() ||
      static_cast<uint8_t>(suback->reason_codes[0]) >= 0x80) {
    say("the subscription to " + f.topic + " was not granted");
    return kExitFailure;
  }
  auto pub_opened = Link::open(*pub_options, 1024);
  if (!pub_opened.ok()) {
    say(pub_opened.error().message);
    return pub_opened.error().exit_code;
  }
  Link pub = std::move(*pub_opened);
  pub.drain_in_background();

  Outcome r;
  std::atomic<uint64_t> sent{0};
  std::atomic<bool> publishing{true};
  const auto start = Clock::now();
  std::thread publisher([&] {
    std::string payload(f.size, 'x');
    for (uint64_t i = 0; i < f.count; ++i) {
      if (g_interrupted.load() || Clock::now() >= deadline || pub.failure()) break;
      if (f.rate > 0) {
        // Paced here, not by the library's rate limit, so that the send time
        // in the payload is when the message was due, not when it was queued.
        std::this_thread::sleep_until(
            start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(i) / f.rate)));
      }
      const uint64_t t = now_ns();
      std::memcpy(payload.data(), &i, 8);
      std::memcpy(payload.data() + 8, &t, 8);
      // try_publish, so that a stalled broker cannot hold this thread past
      // the deadline.
      auto done = pub.client().try_publish(f.topic, f.qos, false, payload);
      while (!done.ok() && done.error().code == ClientError::Code::QueueFull &&
             !g_interrupted.load() && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        done = pub.client().try_publish(f.topic, f.qos, false, payload);
      }
      if (!done.ok()) break;
      sent.store(i + 1, std::memory_order_relaxed);
    }
    r.publish_s = std::chrono::duration<double>(Clock::now() - start).count();
    publishing.store(false);
  });

  Progress progress("mqtt bench", f.count, f.progress && stderr_is_terminal());
  std::vector<bool> seen(f.count, false);
  r.latencies_ns.reserve(f.count);
  auto last_arrival = Clock::now();
  const auto idle = std::chrono::milliseconds(static_cast<int64_t>(f.idle_s * 1000));
  while (r.received < f.count && Clock::now() < deadline && !g_interrupted.load()) {
    auto ev = sub.connection().next_for(std::chrono::milliseconds(50));
    const auto now = Clock::now();
    if (ev) {
      if (const codec::Publish* p = ev->publish(); p && p->payload.size() >= kHeader) {
        const uint64_t arrived = now_ns();
        uint64_t seq = 0, t = 0;
        std::memcpy(&seq, p->payload.data(), 8);
        std::memcpy(&t, p->payload.data() + 8, 8);
        if (seq < f.count && !seen[seq]) {
          seen[seq] = true;
          ++r.received;
          r.latencies_ns.push_back(arrived - t);
          r.run_s = std::chrono::duration<double>(now - start).count();
        } else {
          ++r.duplicates;
        }
        last_arrival = now;
        progress.update(r.received);
        continue;
      }
      if (const ConnectionError* e = ev->error()) say("subscriber: " + describe_failure(*e));
    }
    // Everything sent and nothing more arriving: the rest was lost.
    if (!publishing.load() && now - last_arrival > idle) break;
    if (pub.failure()) break;
  }
  g_interrupted.store(true);  // stops the publisher if it is still going
  publisher.join();
  progress.clear();
  r.sent = sent.load();
  auto failure = pub.failure();
  pub.close(std::chrono::seconds(1));
  sub.close(std::chrono::seconds(1));
  if (failure) say("publisher: " + *failure);
  print_results(f, *pub_options, r);
  if (failure) return kExitFailure;
  return r.received == f.count ? kExitOk : kExitPartial;
}

}  // namespace mqtt::cli
