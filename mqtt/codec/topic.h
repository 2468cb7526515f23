// UTF-8 string, topic name and topic filter rules (spec 1.5.4, 4.7, 4.8.2).
#pragma once

#include <optional>
#include <string_view>

#include "mqtt/codec/error.h"

namespace mqtt::codec {

// std::nullopt when `s` is a valid MQTT UTF-8 string (well-formed UTF-8, no
// U+0000, no surrogates, at most 65535 bytes); otherwise the error
// (InvalidUtf8, Utf8NullCharacter, Utf8Surrogate, StringTooLong).
std::optional<CodecError> validate_utf8(std::string_view s);

// Topic name for PUBLISH: a valid string, non-empty, no '+' or '#'.
std::optional<CodecError> validate_topic_name(std::string_view topic);

// Topic filter for SUBSCRIBE/UNSUBSCRIBE: a valid string, non-empty, '#' only
// as the whole last level, '+' only as a whole level. "$share/{group}/{filter}"
// needs a non-empty group without '+', '#' or '/', and a valid filter.
std::optional<CodecError> validate_topic_filter(std::string_view filter);

struct SharedFilter {
  std::string_view group;
  std::string_view filter;
};

// Splits "$share/group/filter"; std::nullopt for a filter that is not shared.
std::optional<SharedFilter> parse_shared_filter(std::string_view filter);

// Whether `topic` (a valid topic name) matches `filter` (a valid filter).
// A "$share/group/" prefix is ignored. Topics starting with '$' are not
// matched by a filter whose first level is '+' or '#' (spec 4.7.2).
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace mqtt::codec
