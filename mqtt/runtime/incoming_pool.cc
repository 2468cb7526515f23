#include "mqtt/runtime/incoming_pool.h"

#include <utility>

namespace mqtt {

namespace detail {
void return_to_pool(IncomingNode* n) noexcept { n->pool->give_back(n); }
}  // namespace detail

namespace runtime {

namespace {
// A node keeps at most this much heap from a large packet it once held.
constexpr size_t kKeepHeapBytes = 64 * 1024;
}  // namespace

detail::IncomingRef IncomingPool::make(std::span<const uint8_t> raw, const codec::Packet& decoded,
                                       ProtocolVersion v, std::string broker) {
  detail::IncomingNode* n = free_;
  if (n == nullptr) n = returned_.exchange(nullptr, std::memory_order_acquire);
  if (n != nullptr) {
    free_ = n->next;
    n->next = nullptr;
    n->refs.store(1, std::memory_order_relaxed);
  } else {
    n = new detail::IncomingNode{};
    n->pool = this;
    ++allocated_;
  }
  refs_.fetch_add(1, std::memory_order_relaxed);
  Incoming& in = n->value;
  if (in.heap_.capacity() > kKeepHeapBytes) std::vector<uint8_t>().swap(in.heap_);
  in.version_ = v;
  in.broker_ = std::move(broker);
  in.assign(raw, decoded);
  return detail::IncomingRef(n);
}

void IncomingPool::give_back(detail::IncomingNode* n) noexcept {
  detail::IncomingNode* head = returned_.load(std::memory_order_relaxed);
  do {
    n->next = head;
  } while (!returned_.compare_exchange_weak(head, n, std::memory_order_release,
                                            std::memory_order_relaxed));
  unref();
}

void IncomingPool::unref() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

IncomingPool::~IncomingPool() {
  for (detail::IncomingNode* list : {free_, returned_.load(std::memory_order_acquire)}) {
    while (list != nullptr) {
      detail::IncomingNode* next = list->next;
      delete list;
      list = next;
    }
  }
}

}  // namespace runtime
}  // namespace mqtt
