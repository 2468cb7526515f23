// A small result type: gcc 12 in C++20 has no std::expected.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace mqtt {

// An error on its way into a Result: `return mqtt::unexpected(err);`.
template <class E>
struct Unexpected {
  E error;  // the error the Result will hold
};
// Deduces E from the error: Unexpected{err}.
template <class E>
Unexpected(E) -> Unexpected<E>;

// Wraps `e` for returning it as a Result's error. Pure: any thread.
template <class E>
Unexpected<std::decay_t<E>> unexpected(E&& e) {
  return {std::forward<E>(e)};
}

// Either a value or an error. Accessing the wrong alternative is a bug
// (checked by std::get in debug builds of the standard library). A plain
// value type: no thread safety beyond that of T and E; nothing here blocks.
template <class T, class E>
class [[nodiscard]] Result {
 public:
  // A success holding `value`.
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  // A failure holding `e.error`.
  Result(Unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}  // NOLINT

  // True when it holds a value.
  // @{
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // @}

  // The value; only when ok().
  // @{
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  // @}
  // The error; only when !ok().
  const E& error() const { return std::get<1>(v_); }

  // The value, as value() does; only when ok().
  // @{
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // @}

 private:
  std::variant<T, E> v_;
};

// Success holds no E: a success costs no construction of an error (for a
// ConnectionError, four strings and a vector) on the hot path.
template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  // A success.
  Result() = default;
  // A failure holding `e.error`.
  Result(Unexpected<E> e) : error_(std::move(e.error)) {}  // NOLINT

  // True on success.
  // @{
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  // @}
  // A default E when ok() (as before).
  const E& error() const {
    if (error_) return *error_;
    static const E none{};
    return none;
  }

 private:
  std::optional<E> error_;
};

}  // namespace mqtt
