// Serves the client's Counters and Snapshot in the Prometheus text format
// (mqtt/prometheus.h) on a loopback port, and prints its log records.
//
//   prometheus_metrics [host] [port] [metrics_port] [seconds]
//
// Connects, sends itself 10 QoS 1 messages through the broker, then answers
// GET /metrics on 127.0.0.1:metrics_port (0: any free port; the line
// "metrics: http://127.0.0.1:PORT/metrics" says which) for `seconds` (10 by
// default), and disconnects. Plain blocking sockets, one request at a time:
// a scrape endpoint, not a web server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "mqtt/client.h"
#include "mqtt/prometheus.h"

namespace {

using Clock = std::chrono::steady_clock;

// A listening socket on 127.0.0.1:port; -1 on failure (errno says why).
int listen_loopback(uint16_t port, uint16_t& bound) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  bound = ntohs(a.sin_port);
  return fd;
}

void write_all(int fd, const std::string& s) {
  for (size_t off = 0; off < s.size();) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// One request: reads its head (at most 4 KiB, 1 s), answers, closes.
void serve_one(int conn, const mqtt::Client& client) {
  const timeval tv{1, 0};
  ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string head;
  char buf[1024];
  while (head.size() < 4096 && head.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  std::string status = "404 Not Found";
  std::string body = "try GET /metrics\n";
  std::string type = "text/plain";
  if (head.rfind("GET /metrics ", 0) == 0 || head.rfind("GET /metrics?", 0) == 0) {
    status = "200 OK";
    type = "text/plain; version=0.0.4; charset=utf-8";
    body = mqtt::render_prometheus(
        mqtt::PrometheusSample{"demo", client.counters(), client.snapshot()});
  }
  write_all(conn, "HTTP/1.0 " + status + "\r\nContent-Type: " + type +
                      "\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\n\r\n" + body);
  ::close(conn);
}

}  // namespace

int main(int argc, char** argv) {
  mqtt::MqttOptions options("prometheus-demo", argc > 1 ? argv[1] : "localhost",
                            static_cast<uint16_t>(argc > 2 ? std::atoi(argv[2]) : 1883));
  const auto metrics_port = static_cast<uint16_t>(argc > 3 ? std::atoi(argv[3]) : 0);
  const auto serve_for = std::chrono::seconds(argc > 4 ? std::atoi(argv[4]) : 10);
  // The sink runs on this (the consumer) thread, inside next()/try_next().
  options.log_sink = [](const mqtt::LogRecord& r) {
    std::cerr << "[" << mqtt::to_string(r.level) << "] " << r.component << ": " << r.message
              << '\n';
  };

  auto [client, connection] = mqtt::Client::create(options, /*capacity=*/64);
  (void)client.subscribe("metrics/demo", mqtt::QoS::AtLeastOnce);
  for (int i = 0; i < 10; ++i) {
    (void)client.publish("metrics/demo", mqtt::QoS::AtLeastOnce, false, "message " + std::to_string(i));
  }
  // Receive the 10 messages back (at most 10 s).
  int received = 0;
  for (const auto until = Clock::now() + std::chrono::seconds(10);
       received < 10 && Clock::now() < until && !connection.ended();) {
    auto ev = connection.next_for(std::chrono::milliseconds(100));
    if (ev && ev->publish()) ++received;
  }
  std::cout << "received " << received << " messages" << std::endl;

  uint16_t bound = 0;
  const int lfd = listen_loopback(metrics_port, bound);
  if (lfd < 0) {
    std::cerr << "cannot listen on 127.0.0.1:" << metrics_port << '\n';
    return 1;
  }
  std::cout << "metrics: http://127.0.0.1:" << bound << "/metrics" << std::endl;
  for (const auto until = Clock::now() + serve_for; Clock::now() < until;) {
    pollfd p{lfd, POLLIN, 0};
    if (::poll(&p, 1, 100) == 1) {
      const int c = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) serve_one(c, client);
    }
    while (connection.try_next()) {
    }  // keep the loop polled (events, log records)
  }
  ::close(lfd);

  (void)client.disconnect(std::chrono::seconds(2));
  for (int i = 0; i < 1000 && !connection.ended(); ++i) connection.next_for(std::chrono::milliseconds(10));
  return received == 10 ? 0 : 1;
}
