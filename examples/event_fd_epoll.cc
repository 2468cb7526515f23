// Recipe: the connection inside your own epoll loop. Connection::event_fd()
// is readable (level-triggered) while events wait; put it in your epoll set
// beside your other descriptors (here a timer) and drain it with try_next()
// when it fires. Nothing in the loop blocks: requests use the try_ forms.
//
//   bazel run //examples:event_fd_epoll -- HOST PORT      (or URL [CA_FILE])
//
// Every 100 ms the timer publishes a message to a topic the client is
// subscribed to; after 10 have come back it disconnects, and the loop ends
// when the connection's last event has been read. Exit code 0 when all 10
// came back and the connection ended with Disconnected.
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>

#include "examples/recipe_common.h"
#include "mqtt/client.h"

int main(int argc, char** argv) {
  constexpr int kMessages = 10;
  const std::string topic = "recipes/epoll/" + std::to_string(::getpid());
  mqtt::MqttOptions options("recipe-epoll-" + std::to_string(::getpid()), "localhost", 1883);
  if (!recipes::apply_broker_args(options, argc, argv)) return 2;
  auto [client, connection] = mqtt::Client::create(options, 64);

  // The loop's descriptors: the connection's events and a 100 ms timer.
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  const int events_fd = connection.event_fd();  // owned by the Connection
  const int timer_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (ep < 0 || events_fd < 0 || timer_fd < 0) {
    std::cerr << "could not create the descriptors\n";
    return 1;
  }
  const itimerspec every_100ms{{0, 100'000'000}, {0, 100'000'000}};
  ::timerfd_settime(timer_fd, 0, &every_100ms, nullptr);
  for (int fd : {events_fd, timer_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }

  // try_subscribe: never blocks. Its token is checked by the loop.
  std::optional<mqtt::Token> subscribed;
  if (auto t = client.try_subscribe(topic, mqtt::QoS::AtLeastOnce)) subscribed = *t;
  int sent = 0, received = 0, wakeups = 0;
  bool disconnecting = false, disconnected = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);

  while (!connection.ended() && std::chrono::steady_clock::now() < give_up) {
    epoll_event ready[2];
    const int n = ::epoll_wait(ep, ready, 2, 500);
    for (int i = 0; i < n; ++i) {
      if (ready[i].data.fd == timer_fd) {
        uint64_t ticks;
        (void)::read(timer_fd, &ticks, sizeof ticks);
        // Publish once the subscription is in place; try_publish never
        // blocks the loop (QueueFull: skip this tick).
        if (subscribed && subscribed->ready() && sent < kMessages && !disconnecting) {
          if (client.try_publish(topic, mqtt::QoS::AtLeastOnce, false,
                                 "tick " + std::to_string(sent))) {
            ++sent;
          }
        }
      } else {
        ++wakeups;
        // Drain everything that is waiting; the descriptor stays readable
        // until the queue is empty.
        while (auto ev = connection.try_next()) {
          if (ev->publish()) ++received;
          if (const auto* e = ev->error()) {
            std::cout << "event: " << *ev << '\n';
            disconnected = e->code == mqtt::ConnectionErrorCode::Disconnected;
          }
        }
      }
    }
    if (received >= kMessages && !disconnecting) {
      disconnecting = true;
      (void)client.disconnect();  // never blocks; the loop reads until the end
    }
  }
  ::close(timer_fd);
  ::close(ep);
  std::cout << "epoll loop: sent " << sent << ", received " << received << " of " << kMessages
            << " in " << wakeups << " wake-ups, "
            << (disconnected ? "ended with Disconnected" : "did not end cleanly") << '\n';
  return received == kMessages && disconnected ? 0 : 1;
}
