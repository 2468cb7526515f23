#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "mqtt/token.h"

using namespace std::chrono_literals;
using mqtt::Completion;
using mqtt::RequestError;
using mqtt::Token;

TEST_CASE("token: default token reports ConnectionClosed at once") {
  Token t;
  CHECK_FALSE(t.ready());
  CHECK(t.wait().error == RequestError::ConnectionClosed);
  REQUIRE(t.wait_for(1ms));
  CHECK(t.wait_for(1ms)->error == RequestError::ConnectionClosed);
  REQUIRE(t.poll());
  CHECK(t.poll()->error == RequestError::ConnectionClosed);
}

TEST_CASE("token: poll, wait_for and wait on a completion from another thread") {
  auto state = std::make_shared<mqtt::detail::CompletionState>();
  Token t(state);
  CHECK_FALSE(t.ready());
  CHECK_FALSE(t.poll());
  CHECK_FALSE(t.wait_for(10ms));
  std::thread completer([state] {
    std::this_thread::sleep_for(20ms);
    state->complete(Completion{RequestError::None, {mqtt::ReasonCode::GrantedQoS1}, ""});
    state->complete(Completion{RequestError::Rejected, {}, "ignored: completes once"});
  });
  Completion c = t.wait();
  completer.join();
  CHECK(c.ok());
  REQUIRE(c.reason_codes.size() == 1);
  CHECK(t.ready());
  REQUIRE(t.poll());
  CHECK(t.poll()->ok());
  REQUIRE(t.wait_for(0ms));
  Token copy = t;
  CHECK(copy.wait().ok());
}
