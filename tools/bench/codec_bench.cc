// codec_bench: encode/decode throughput of PUBLISH packets, and a check that
// the measured loops do not touch the heap.
//
//   bazel run -c opt //tools:codec_bench                 readable table
//   bazel run -c opt //tools:codec_bench -- --json       one JSON object per case
//   bazel run -c opt //tools:codec_bench -- --runs 11 --seconds 0.5
//
// Every case is timed `runs` times (each run a fixed number of packets, chosen
// so that one run takes about `seconds`); the median run is reported. Global
// operator new/delete are replaced by counting versions, so "allocs/pkt" is the
// number of heap allocations per packet inside the timed loops (expected 0).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mqtt/codec/decoder.h"
#include "mqtt/codec/encoder.h"
#include "mqtt/codec/packets.h"

// ---------------------------------------------------------------------------
// Counting allocator.

namespace {
std::atomic<uint64_t> g_allocs{0};
std::atomic<uint64_t> g_frees{0};

void* counted_alloc(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* counted_aligned_alloc(std::size_t n, std::align_val_t al) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  std::size_t a = static_cast<std::size_t>(al);
  if (a < sizeof(void*)) a = sizeof(void*);
  std::size_t size = (n + a - 1) / a * a;
  return std::aligned_alloc(a, size ? size : a);
}
void counted_free(void* p) {
  if (p == nullptr) return;
  g_frees.fetch_add(1, std::memory_order_relaxed);
  std::free(p);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned_alloc(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned_alloc(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_aligned_alloc(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_aligned_alloc(n, a);
}
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  counted_free(p);
}

// ---------------------------------------------------------------------------

namespace {

namespace codec = mqtt::codec;
using mqtt::ProtocolVersion;
using mqtt::QoS;
using Clock = std::chrono::steady_clock;

// Keeps `p` (and what it points to) observable, so the work is not elided.
template <class T>
inline void keep(T* p) {
  asm volatile("" : : "r"(p) : "memory");
}

struct Case {
  bool encode = true;
  ProtocolVersion version = ProtocolVersion::V311;
  size_t payload = 64;
  QoS qos = QoS::AtMostOnce;
};

struct Outcome {
  size_t packet_bytes = 0;
  uint64_t iterations_per_run = 0;
  double median_ns = 0, min_ns = 0, max_ns = 0;
  double allocs_per_packet = 0;
  uint64_t allocs = 0;  // in the timed runs
  uint64_t checksum = 0;
};

constexpr std::string_view kTopic = "sensors/building-7/floor-3/temperature";

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "codec_bench: %s\n", what);
  std::exit(1);
}

class Bench {
 public:
  Bench(const Case& c, const std::vector<uint8_t>& payload) : case_(c) {
    pub_.qos = c.qos;
    pub_.topic = kTopic;
    pub_.packet_id = c.qos == QoS::AtMostOnce ? 0 : 1;
    pub_.payload = codec::Bytes(payload.data(), c.payload);
    auto size = codec::encoded_size(pub_, c.version);
    if (!size) die("encoded_size failed");
    buf_.assign(*size + 16, 0);
    auto n = codec::encode(pub_, c.version, buf_);
    if (!n || *n != *size) die("encode failed");
    packet_bytes_ = *n;
    opts_.version = c.version;
  }

  size_t packet_bytes() const { return packet_bytes_; }

  // Runs `n` packets through the measured operation; returns a checksum.
  uint64_t run(uint64_t n) {
    uint64_t sum = 0;
    if (case_.encode) {
      std::span<uint8_t> out(buf_);
      const bool with_id = case_.qos != QoS::AtMostOnce;
      for (uint64_t i = 0; i < n; ++i) {
        if (with_id) pub_.packet_id = static_cast<uint16_t>((i & 0x7FFF) | 1);
        auto r = codec::encode(pub_, case_.version, out);
        if (!r) die("encode failed in the timed loop");
        keep(buf_.data());
        sum += *r + buf_[*r - 1];
      }
    } else {
      std::span<const uint8_t> in(buf_.data(), packet_bytes_);
      for (uint64_t i = 0; i < n; ++i) {
        codec::DecodeResult r = codec::decode(in, opts_, packet_);
        if (r.status != codec::DecodeStatus::Ok) die("decode failed in the timed loop");
        const auto* p = std::get_if<codec::Publish>(&packet_);
        if (p == nullptr) die("decode returned something else than PUBLISH");
        keep(p);
        sum += r.consumed + p->payload.size() + p->topic.size() + p->packet_id;
      }
    }
    return sum;
  }

 private:
  Case case_;
  codec::Publish pub_;
  std::vector<uint8_t> buf_;
  size_t packet_bytes_ = 0;
  codec::DecodeOptions opts_;
  codec::Packet packet_;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Outcome measure(const Case& c, const std::vector<uint8_t>& payload, int runs, double seconds) {
  Bench b(c, payload);
  Outcome o;
  o.packet_bytes = b.packet_bytes();

  // Calibrate: grow the batch until it takes >= 20 ms (or a tenth of a run).
  uint64_t n = 1000;
  double t = 0;
  const double calib = std::min(0.02, seconds / 10);
  for (;;) {
    auto t0 = Clock::now();
    o.checksum += b.run(n);
    t = seconds_since(t0);
    if (t >= calib || n >= (uint64_t{1} << 32)) break;
    n *= 2;
  }
  double per_packet = t / static_cast<double>(n);
  uint64_t iters = static_cast<uint64_t>(seconds / std::max(per_packet, 1e-12));
  iters = std::clamp<uint64_t>(iters, 1, uint64_t{1} << 34);
  o.iterations_per_run = iters;

  std::vector<double> ns;
  uint64_t allocs = 0;
  for (int r = 0; r < runs; ++r) {
    uint64_t a0 = g_allocs.load(std::memory_order_relaxed);
    auto t0 = Clock::now();
    o.checksum += b.run(iters);
    double s = seconds_since(t0);
    allocs += g_allocs.load(std::memory_order_relaxed) - a0;
    ns.push_back(s * 1e9 / static_cast<double>(iters));
  }
  std::sort(ns.begin(), ns.end());
  o.median_ns = ns[ns.size() / 2];
  if (ns.size() % 2 == 0) o.median_ns = (ns[ns.size() / 2 - 1] + ns[ns.size() / 2]) / 2;
  o.min_ns = ns.front();
  o.max_ns = ns.back();
  o.allocs = allocs;
  o.allocs_per_packet =
      static_cast<double>(allocs) / (static_cast<double>(iters) * static_cast<double>(runs));
  return o;
}

std::string_view version_name(ProtocolVersion v) { return v == ProtocolVersion::V5 ? "5" : "3.1.1"; }

void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: codec_bench [--runs N] [--seconds S] [--json]\n"
               "  --runs N      timed runs per case, median reported (default 7, 1..101)\n"
               "  --seconds S   target duration of one run (default 0.3, 0.001..10)\n"
               "  --json        one JSON object per case per line\n");
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 7;
  double seconds = 0.3;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--json") {
      json = true;
    } else if ((a == "--runs" || a == "--seconds") && i + 1 < argc) {
      char* end = nullptr;
      const char* v = argv[++i];
      if (a == "--runs") {
        long r = std::strtol(v, &end, 10);
        if (*end != '\0' || r < 1 || r > 101) {
          std::fprintf(stderr, "codec_bench: --runs must be 1..101\n");
          return 2;
        }
        runs = static_cast<int>(r);
      } else {
        double s = std::strtod(v, &end);
        if (*end != '\0' || !(s >= 0.001 && s <= 10)) {
          std::fprintf(stderr, "codec_bench: --seconds must be 0.001..10\n");
          return 2;
        }
        seconds = s;
      }
    } else if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }

  std::vector<uint8_t> payload(1024);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>('a' + i % 26);

  std::vector<Case> cases;
  for (bool enc : {true, false}) {
    for (ProtocolVersion v : {ProtocolVersion::V311, ProtocolVersion::V5}) {
      for (size_t size : {size_t{64}, size_t{1024}}) {
        for (QoS q : {QoS::AtMostOnce, QoS::AtLeastOnce}) cases.push_back({enc, v, size, q});
      }
    }
  }

  if (!json) {
    std::printf("MQTT codec benchmark: PUBLISH, topic \"%.*s\" (%zu B), single thread\n",
                static_cast<int>(kTopic.size()), kTopic.data(), kTopic.size());
    std::printf("median of %d runs of ~%.2f s each\n\n", runs, seconds);
    std::printf("%-7s %-7s %8s %4s %7s %14s %9s %13s %11s\n", "op", "version", "payload", "qos",
                "bytes", "packets/s", "ns/pkt", "min..max", "allocs/pkt");
  }
  uint64_t checksum = 0;
  uint64_t loop_allocs = 0;
  double enc64 = 1e30, dec64 = 1e30;  // lowest packets/s among the 64 B cases
  for (const Case& c : cases) {
    Outcome o = measure(c, payload, runs, seconds);
    checksum += o.checksum;
    loop_allocs += o.allocs;
    double pps = 1e9 / o.median_ns;
    if (c.payload == 64) {
      double& worst = c.encode ? enc64 : dec64;
      worst = std::min(worst, pps);
    }
    const char* op = c.encode ? "encode" : "decode";
    if (json) {
      std::printf(
          "{\"op\":\"%s\",\"version\":\"%.*s\",\"payload\":%zu,\"qos\":%d,\"packet_bytes\":%zu,"
          "\"runs\":%d,\"iterations_per_run\":%llu,\"packets_per_second\":%.0f,"
          "\"ns_per_packet\":%.2f,\"min_ns\":%.2f,\"max_ns\":%.2f,\"allocs_per_packet\":%.6f}\n",
          op, static_cast<int>(version_name(c.version).size()), version_name(c.version).data(),
          c.payload, static_cast<int>(c.qos), o.packet_bytes, runs,
          static_cast<unsigned long long>(o.iterations_per_run), pps, o.median_ns, o.min_ns,
          o.max_ns, o.allocs_per_packet);
    } else {
      char range[32];
      std::snprintf(range, sizeof range, "%.1f..%.1f", o.min_ns, o.max_ns);
      std::printf("%-7s %-7.*s %8zu %4d %7zu %12.2f M %9.2f %13s %11.3g\n", op,
                  static_cast<int>(version_name(c.version).size()), version_name(c.version).data(),
                  c.payload, static_cast<int>(c.qos), o.packet_bytes, pps / 1e6, o.median_ns,
                  range, o.allocs_per_packet);
    }
    std::fflush(stdout);
  }
  if (json) {
    std::printf("{\"summary\":true,\"min_encode_64B_per_second\":%.0f,"
                "\"min_decode_64B_per_second\":%.0f,\"goal_per_second\":10000000,"
                "\"checksum\":%llu,\"allocations_in_loops\":%llu,\"allocations_total\":%llu}\n",
                enc64, dec64, static_cast<unsigned long long>(checksum),
                static_cast<unsigned long long>(loop_allocs),
                static_cast<unsigned long long>(g_allocs.load()));
  } else {
    std::printf("\ngoal >= 10 M/s for a 64 B PUBLISH (slowest of version x QoS):\n");
    std::printf("  encode %.2f M/s: %s\n", enc64 / 1e6, enc64 >= 1e7 ? "met" : "NOT met");
    std::printf("  decode %.2f M/s: %s\n", dec64 / 1e6, dec64 >= 1e7 ? "met" : "NOT met");
    // The program total is non-zero (setup allocates outside the loops), which
    // shows that the counting operator new is the one in use.
    std::printf("heap allocations: %llu in the timed loops, %llu in the whole program\n",
                static_cast<unsigned long long>(loop_allocs),
                static_cast<unsigned long long>(g_allocs.load()));
    std::printf("(checksum %llu)\n", static_cast<unsigned long long>(checksum));
  }
  return 0;
}
