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

bool Token::stored() const { return state_ && state_->stored(); }

std::optional<RequestError> Token::wait_stored(std::chrono::nanoseconds timeout) const {
  if (!state_) return RequestError::ConnectionClosed;
  RequestError e = RequestError::None;
  if (state_->wait_stored(timeout, e)) return e;
  return std::nullopt;
}

std::optional<size_t> wait_any(std::span<const Token> tokens, std::chrono::nanoseconds timeout) {
  auto first_ready = [&]() -> std::optional<size_t> {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (!tokens[i].state_ || tokens[i].state_->done()) return i;
    }
    return std::nullopt;
  };
  if (tokens.empty()) return std::nullopt;
  if (auto i = first_ready()) return i;
  if (timeout <= std::chrono::nanoseconds::zero()) return std::nullopt;
  // Register one waiter with every pending state; any completion fires it.
  auto waiter = std::make_shared<detail::AnyWaiter>();
  size_t registered = 0;
  bool already = false;
  for (; registered < tokens.size(); ++registered) {
    if (!tokens[registered].state_->add_waiter(waiter)) {
      already = true;
      break;
    }
  }
  if (!already) {
    std::unique_lock<std::mutex> lock(waiter->mu);
    if (timeout >= detail::kForever) {
      waiter->cv.wait(lock, [&] { return waiter->fired; });
    } else {
      waiter->cv.wait_for(lock, timeout, [&] { return waiter->fired; });
    }
  }
  for (size_t i = 0; i < registered; ++i) tokens[i].state_->remove_waiter(waiter.get());
  return first_ready();
}

}  // namespace mqtt
