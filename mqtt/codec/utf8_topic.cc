// UTF-8 validation (spec 1.5.4), topic names and filters (spec 4.7), shared
// subscriptions (spec 4.8.2) and topic matching.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "mqtt/codec/detail/wire.h"
#include "mqtt/codec/topic.h"

namespace mqtt::codec {
namespace detail {
namespace {

constexpr uint64_t kLo = 0x0101010101010101ull;
constexpr uint64_t kHi = 0x8080808080808080ull;

inline uint64_t load8(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
// Non-zero when some byte of v is 0x00 or >= 0x80.
inline uint64_t not_plain_ascii(uint64_t v) { return ((v - kLo) | v) & kHi; }
// Non-zero when some byte of v equals the byte replicated in `pattern`
// (v must have no byte >= 0x80 for exactness; false positives only follow a
// true match, so "any match" is exact).
inline uint64_t has_byte(uint64_t v, uint64_t pattern) {
  const uint64_t x = v ^ pattern;
  return (x - kLo) & ~x & kHi;
}

inline bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

// Validates the character starting at s[i] where s[i] is 0 or >= 0x80;
// advances i past it.
CodecError utf8_char(const uint8_t* s, size_t n, size_t& i) {
  const uint8_t b0 = s[i];
  if (b0 == 0) return CodecError::Utf8NullCharacter;
  if (b0 < 0xC2) return CodecError::InvalidUtf8;  // continuation byte or overlong lead
  if (b0 < 0xE0) {
    if (n - i < 2 || !is_cont(s[i + 1])) return CodecError::InvalidUtf8;
    i += 2;
    return kOk;
  }
  if (b0 < 0xF0) {
    if (n - i < 3) return CodecError::InvalidUtf8;
    const uint8_t b1 = s[i + 1], b2 = s[i + 2];
    if (!is_cont(b1) || !is_cont(b2)) return CodecError::InvalidUtf8;
    if (b0 == 0xE0 && b1 < 0xA0) return CodecError::InvalidUtf8;  // overlong
    if (b0 == 0xED && b1 >= 0xA0) return CodecError::Utf8Surrogate;
    i += 3;
    return kOk;
  }
  if (b0 < 0xF5) {
    if (n - i < 4) return CodecError::InvalidUtf8;
    const uint8_t b1 = s[i + 1], b2 = s[i + 2], b3 = s[i + 3];
    if (!is_cont(b1) || !is_cont(b2) || !is_cont(b3)) return CodecError::InvalidUtf8;
    if (b0 == 0xF0 && b1 < 0x90) return CodecError::InvalidUtf8;  // overlong
    if (b0 == 0xF4 && b1 >= 0x90) return CodecError::InvalidUtf8;  // > U+10FFFF
    i += 4;
    return kOk;
  }
  return CodecError::InvalidUtf8;
}

CodecError check_filter_levels(std::string_view f) {
  // '#' only as the whole last level, '+' only as a whole level.
  const size_t n = f.size();
  for (size_t i = 0; i < n; ++i) {
    const char c = f[i];
    if (c == '+' || c == '#') {
      const bool starts_level = i == 0 || f[i - 1] == '/';
      const bool ends_level = i + 1 == n || f[i + 1] == '/';
      if (!starts_level || !ends_level) return CodecError::InvalidTopicFilter;
      if (c == '#' && i + 1 != n) return CodecError::InvalidTopicFilter;
    }
  }
  return kOk;
}

constexpr std::string_view kSharePrefix = "$share/";

}  // namespace

namespace {

// Slow paths: byte by byte from the start, full UTF-8 decoding.
CodecError check_utf8_slow(const uint8_t* s, size_t n) {
  size_t i = 0;
  for (;;) {
    while (n - i >= 8 && !not_plain_ascii(load8(s + i))) i += 8;
    while (i < n && s[i] != 0 && s[i] < 0x80) ++i;
    if (i == n) return kOk;
    if (auto e = utf8_char(s, n, i); e != kOk) return e;
  }
}

CodecError check_topic_name_slow(const uint8_t* s, size_t n) {
  size_t i = 0;
  for (;;) {
    for (;;) {
      if (i == n) return kOk;
      const uint8_t c = s[i];
      if (c == '+' || c == '#') return CodecError::WildcardInTopicName;
      if (c == 0 || c >= 0x80) break;
      ++i;
    }
    if (auto e = utf8_char(s, n, i); e != kOk) return e;
  }
}

constexpr uint64_t kPlus = 0x2B2B2B2B2B2B2B2Bull;
constexpr uint64_t kHash = 0x2323232323232323ull;

inline uint64_t topic_chunk_special(uint64_t v) {
  return not_plain_ascii(v) | has_byte(v, kPlus) | has_byte(v, kHash);
}

#if defined(__SSE2__)
// 16 bytes at a time: true when one is 0, '+', '#' or >= 0x80.
inline bool topic_chunk16_special(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i zero = _mm_cmpeq_epi8(v, _mm_setzero_si128());
  const __m128i plus = _mm_cmpeq_epi8(v, _mm_set1_epi8('+'));
  const __m128i hash = _mm_cmpeq_epi8(v, _mm_set1_epi8('#'));
  // movemask takes each byte's top bit: set for a match, and for >= 0x80.
  return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(zero, plus), _mm_or_si128(hash, v))) != 0;
}
#endif

}  // namespace

// Fast path: whole 8-byte words (the last one overlapping) of plain ASCII.
CodecError check_utf8(const uint8_t* s, size_t n) {
  if (n >= 8) {
    size_t i = 0;
    for (; n - i >= 8; i += 8)
      if (not_plain_ascii(load8(s + i))) return check_utf8_slow(s, n);
    if (i == n || !not_plain_ascii(load8(s + n - 8))) return kOk;
  }
  return check_utf8_slow(s, n);
}

CodecError check_utf8_payload(const uint8_t* s, size_t n) {
  size_t i = 0;
  for (;;) {
    // ASCII runs, U+0000 included (it is well-formed UTF-8 in a payload).
    while (n - i >= 8 && (load8(s + i) & kHi) == 0) i += 8;
    while (i < n && s[i] < 0x80) ++i;
    if (i == n) return kOk;
    if (utf8_char(s, n, i) != kOk) return CodecError::PayloadFormatInvalid;
  }
}

CodecError check_topic_name_chars(const uint8_t* s, size_t n) {
#if defined(__SSE2__)
  if (n >= 16) {
    size_t i = 0;
    for (; n - i >= 16; i += 16)
      if (topic_chunk16_special(s + i)) return check_topic_name_slow(s, n);
    if (i == n || !topic_chunk16_special(s + n - 16)) return kOk;
    return check_topic_name_slow(s, n);
  }
#endif
  if (n >= 8) {
    size_t i = 0;
    for (; n - i >= 8; i += 8)
      if (topic_chunk_special(load8(s + i))) return check_topic_name_slow(s, n);
    if (i == n || !topic_chunk_special(load8(s + n - 8))) return kOk;
  }
  return check_topic_name_slow(s, n);
}

CodecError check_topic_filter(std::string_view f) {
  if (f.empty()) return CodecError::EmptyTopicFilter;
  if (auto e = check_utf8(reinterpret_cast<const uint8_t*>(f.data()), f.size()); e != kOk)
    return e;
  if (f.starts_with(kSharePrefix)) {
    const std::string_view rest = f.substr(kSharePrefix.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return CodecError::InvalidTopicFilter;
    const std::string_view group = rest.substr(0, slash);
    if (group.find_first_of("+#") != std::string_view::npos)
      return CodecError::InvalidTopicFilter;
    const std::string_view inner = rest.substr(slash + 1);
    if (inner.empty()) return CodecError::InvalidTopicFilter;
    return check_filter_levels(inner);
  }
  return check_filter_levels(f);
}

}  // namespace detail

std::optional<CodecError> validate_utf8(std::string_view s) {
  if (s.size() > 65535) return CodecError::StringTooLong;
  if (auto e = detail::check_utf8(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      e != detail::kOk)
    return e;
  return std::nullopt;
}

std::optional<CodecError> validate_topic_name(std::string_view topic) {
  if (topic.size() > 65535) return CodecError::StringTooLong;
  if (topic.empty()) return CodecError::EmptyTopicName;
  if (auto e = detail::check_topic_name_chars(reinterpret_cast<const uint8_t*>(topic.data()),
                                              topic.size());
      e != detail::kOk)
    return e;
  return std::nullopt;
}

std::optional<CodecError> validate_topic_filter(std::string_view filter) {
  if (filter.size() > 65535) return CodecError::StringTooLong;
  if (auto e = detail::check_topic_filter(filter); e != detail::kOk) return e;
  return std::nullopt;
}

std::optional<SharedFilter> parse_shared_filter(std::string_view filter) {
  if (!filter.starts_with(detail::kSharePrefix)) return std::nullopt;
  const std::string_view rest = filter.substr(detail::kSharePrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return SharedFilter{rest.substr(0, slash), rest.substr(slash + 1)};
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  if (auto shared = parse_shared_filter(filter)) filter = shared->filter;
  if (filter.empty() || topic.empty()) return false;
  if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#')) return false;

  size_t f = 0, t = 0;
  for (;;) {
    size_t fe = filter.find('/', f);
    if (fe == std::string_view::npos) fe = filter.size();
    size_t te = topic.find('/', t);
    if (te == std::string_view::npos) te = topic.size();
    const std::string_view fl = filter.substr(f, fe - f);
    if (fl == "#") return true;
    if (fl != "+" && fl != topic.substr(t, te - t)) return false;
    const bool f_end = fe == filter.size();
    const bool t_end = te == topic.size();
    if (f_end && t_end) return true;
    if (t_end) return filter.substr(fe) == "/#";  // "a/#" matches "a"
    if (f_end) return false;
    f = fe + 1;
    t = te + 1;
  }
}

}  // namespace mqtt::codec
