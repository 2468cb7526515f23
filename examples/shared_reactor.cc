// Recipe: many connections on one shared reactor. By default each
// connection gets its own I/O thread; a process with many connections
// creates one Reactor and passes it to Client::create(), so that all of them
// share one thread. One consumer thread reads every connection through
// epoll on their event_fd()s.
//
//   bazel run //examples:shared_reactor -- HOST PORT      (or URL [CA_FILE])
//
// 50 clients each subscribe to their own topic, publish one message to it,
// and disconnect once it has come back. Exit code 0 when every client got its
// message and ended with Disconnected, with a single reactor thread in the
// process.
#include <dirent.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "examples/recipe_common.h"
#include "mqtt/client.h"

namespace {

// How many threads of this process have this name (/proc/self/task/*/comm).
int threads_named(const std::string& name) {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(d)) {
      std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
      std::string s;
      if (std::getline(comm, s) && s == name) ++n;
    }
    ::closedir(d);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr int kClients = 50;
  mqtt::MqttOptions options("", "localhost", 1883);
  if (!recipes::apply_broker_args(options, argc, argv)) return 2;

  // One I/O thread for every connection below.
  mqtt::Reactor::Options reactor_options;
  reactor_options.thread_name = "shared-io";
  auto reactor = mqtt::Reactor::create(reactor_options);

  std::vector<mqtt::Client> clients;
  std::vector<mqtt::Connection> connections;
  std::vector<std::string> topics;
  for (int i = 0; i < kClients; ++i) {
    options.client_id = "recipe-shared-" + std::to_string(::getpid()) + "-" + std::to_string(i);
    auto [client, connection] = mqtt::Client::create(options, 16, reactor);
    topics.push_back("recipes/shared/" + std::to_string(::getpid()) + "/" + std::to_string(i));
    // Requests wait in the queue until the connection is up; the subscribe
    // lane is taken before the publish lane.
    (void)client.subscribe(topics.back(), mqtt::QoS::AtLeastOnce);
    clients.push_back(std::move(client));
    connections.push_back(std::move(connection));
  }

  // One consumer thread (this one) for all of them: epoll on their event_fd.
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < kClients; ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, connections[i].event_fd(), &ev);
  }

  std::vector<bool> subscribed(kClients, false), got_message(kClients, false), disconnected(kClients, false);
  int ended = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ended < kClients && std::chrono::steady_clock::now() < give_up) {
    epoll_event ready[16];
    const int n = ::epoll_wait(ep, ready, 16, 500);
    for (int k = 0; k < n; ++k) {
      const uint32_t i = ready[k].data.u32;
      while (auto ev = connections[i].try_next()) {
        const auto* in = ev->incoming();
        if (in && in->type() == mqtt::codec::PacketType::SubAck && !subscribed[i]) {
          // Subscribed: now the message to ourselves cannot be missed.
          subscribed[i] = true;
          (void)clients[i].try_publish(topics[i], mqtt::QoS::AtLeastOnce, false, "hello");
        } else if (ev->publish() && !got_message[i]) {
          got_message[i] = true;
          (void)clients[i].disconnect();
        } else if (const auto* e = ev->error(); e && e->terminal) {
          disconnected[i] = e->code == mqtt::ConnectionErrorCode::Disconnected;
          ++ended;
          ::epoll_ctl(ep, EPOLL_CTL_DEL, connections[i].event_fd(), nullptr);
          break;
        } else if (ev->error()) {
          std::cout << "connection " << i << ": " << *ev << '\n';
        }
      }
    }
  }
  ::close(ep);

  int ok = 0;
  for (int i = 0; i < kClients; ++i) ok += got_message[i] && disconnected[i];
  // (Counted now: the reactor thread names itself once it runs.)
  const int shared_threads = threads_named("shared-io");
  const int own_threads = threads_named("mqtt-reactor");  // the default name
  std::cout << ok << " of " << kClients << " clients got their message and disconnected; reactor "
            << "threads: " << shared_threads << " shared, " << own_threads << " of their own\n";
  return ok == kClients && shared_threads == 1 && own_threads == 0 ? 0 : 1;
}
