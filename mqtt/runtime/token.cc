#include "mqtt/token.h"

namespace mqtt {

namespace {
Completion no_request() {
  return Completion{RequestError::ConnectionClosed, {}, "no request behind this token"};
}
}  // namespace

Completion Token::wait() const {
  if (!state_) return no_request();
  return state_->wait();
}

std::optional<Completion> Token::wait_for(std::chrono::nanoseconds timeout) const {
  if (!state_) return no_request();
  Completion c;
  if (state_->wait_for(timeout, c)) return c;
  return std::nullopt;
}

std::optional<Completion> Token::poll() const {
  // A default-constructed Token has nothing to wait for: like wait(), it
  // reports ConnectionClosed at once.
  if (!state_) return no_request();
  if (!state_->done()) return std::nullopt;
  return state_->result();
}

}  // namespace mqtt
