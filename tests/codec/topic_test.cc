// UTF-8, topic name and topic filter rules (spec 1.5.4, 4.7, 4.8.2) and
// topic matching.
#include "tests/codec/test_util.h"

namespace mqtt::codec {
namespace {

using E = CodecError;

std::optional<CodecError> none() { return std::nullopt; }

TEST_CASE("validate_utf8: valid strings", "[topic][utf8]") {
  CHECK(validate_utf8("") == none());
  CHECK(validate_utf8("hello/world") == none());
  CHECK(validate_utf8("A\xF0\xAA\x9B\x94") == none());  // spec 1.5.4 example, U+2A6D4
  CHECK(validate_utf8("\xC2\x80") == none());          // U+0080
  CHECK(validate_utf8("\xDF\xBF") == none());          // U+07FF
  CHECK(validate_utf8("\xE0\xA0\x80") == none());      // U+0800
  CHECK(validate_utf8("\xED\x9F\xBF") == none());      // U+D7FF, just below surrogates
  CHECK(validate_utf8("\xEE\x80\x80") == none());      // U+E000, just above surrogates
  CHECK(validate_utf8("\xEF\xBB\xBF") == none());      // U+FEFF must be kept [MQTT-1.5.4-3]
  CHECK(validate_utf8("\xEF\xBF\xBF") == none());      // U+FFFF non-character: allowed
  CHECK(validate_utf8("\xF0\x90\x80\x80") == none());  // U+10000
  CHECK(validate_utf8("\xF4\x8F\xBF\xBF") == none());  // U+10FFFF
  CHECK(validate_utf8("\x01\x1F\x7F") == none());      // control characters: allowed
  std::string max(65535, 'x');
  CHECK(validate_utf8(max) == none());
}

TEST_CASE("validate_utf8: invalid strings", "[topic][utf8]") {
  // [MQTT-1.5.4-2]
  CHECK(validate_utf8(std::string_view("\0", 1)) == E::Utf8NullCharacter);
  CHECK(validate_utf8(std::string_view("ab\0", 3)) == E::Utf8NullCharacter);
  // [MQTT-1.5.4-1]: surrogates U+D800..U+DFFF.
  CHECK(validate_utf8("\xED\xA0\x80") == E::Utf8Surrogate);  // U+D800
  CHECK(validate_utf8("a\xED\xBF\xBF") == E::Utf8Surrogate);  // U+DFFF
  CHECK(validate_utf8("\xED\xB0\x80") == E::Utf8Surrogate);  // U+DC00
  // Ill-formed.
  CHECK(validate_utf8("\x80") == E::InvalidUtf8);              // lone continuation
  CHECK(validate_utf8("\xBF") == E::InvalidUtf8);
  CHECK(validate_utf8("\xC3") == E::InvalidUtf8);              // truncated 2-byte
  CHECK(validate_utf8("\xE2\x82") == E::InvalidUtf8);          // truncated 3-byte
  CHECK(validate_utf8("\xF0\x9F\x98") == E::InvalidUtf8);      // truncated 4-byte
  CHECK(validate_utf8("\xC3\x28") == E::InvalidUtf8);          // bad continuation
  CHECK(validate_utf8("\xC1\x81") == E::InvalidUtf8);          // overlong 'A'
  CHECK(validate_utf8("\xE0\x81\x81") == E::InvalidUtf8);      // overlong
  CHECK(validate_utf8("\xF0\x80\x81\x81") == E::InvalidUtf8);  // overlong
  CHECK(validate_utf8("\xF4\x90\x80\x80") == E::InvalidUtf8);  // U+110000
  CHECK(validate_utf8("\xF5\x80\x80\x80") == E::InvalidUtf8);
  CHECK(validate_utf8("\xFE") == E::InvalidUtf8);
  CHECK(validate_utf8("\xFF") == E::InvalidUtf8);
  CHECK(validate_utf8("ok\xE2\x82") == E::InvalidUtf8);        // truncated at the end
  // Too long.
  std::string too_long(65536, 'x');
  CHECK(validate_utf8(too_long) == E::StringTooLong);
}

TEST_CASE("validate_topic_name", "[topic]") {
  CHECK(validate_topic_name("a") == none());
  CHECK(validate_topic_name("/") == none());
  CHECK(validate_topic_name("sport/tennis/player1") == none());
  CHECK(validate_topic_name("/finance") == none());
  CHECK(validate_topic_name("$SYS/broker") == none());
  CHECK(validate_topic_name("a b/\xC3\xA9") == none());
  CHECK(validate_topic_name("a//b") == none());
  // [MQTT-4.7.3-1]
  CHECK(validate_topic_name("") == E::EmptyTopicName);
  // [MQTT-3.3.2-2]
  CHECK(validate_topic_name("+") == E::WildcardInTopicName);
  CHECK(validate_topic_name("#") == E::WildcardInTopicName);
  CHECK(validate_topic_name("a/+/b") == E::WildcardInTopicName);
  CHECK(validate_topic_name("a/#") == E::WildcardInTopicName);
  CHECK(validate_topic_name("sport+") == E::WildcardInTopicName);
  // String rules apply too.
  CHECK(validate_topic_name(std::string_view("a\0", 2)) == E::Utf8NullCharacter);
  CHECK(validate_topic_name("\xED\xA0\x80") == E::Utf8Surrogate);
  CHECK(validate_topic_name("\xC0") == E::InvalidUtf8);
}

TEST_CASE("validate_topic_filter", "[topic]") {
  // spec 4.7.1.2 / 4.7.1.3 examples
  for (const char* ok : {"sport/tennis/#", "#", "+", "+/tennis/#", "sport/+/player1", "/+",
                         "+/+", "a/b", "/", "$SYS/#", "a//b", "+/+/+", "sport/#",
                         "$share/g/a/+", "$share/consumer1//finance", "$share/g/#",
                         "$sharex/a", "$share"}) {
    INFO(ok);
    CHECK(validate_topic_filter(ok) == none());
  }
  for (const char* bad : {"sport/tennis#", "sport/tennis/#/ranking", "sport+", "a/#/b", "a#",
                          "a/b+", "#/a", "+a", "a+/b", "##", "++", "a/#b"}) {
    INFO(bad);
    CHECK(validate_topic_filter(bad) == E::InvalidTopicFilter);
  }
  // [MQTT-4.8.2-1], [MQTT-4.8.2-2]: ShareName non-empty, no '/', '+', '#', then '/' filter.
  for (const char* bad : {"$share/", "$share//a", "$share/g", "$share/g+/a", "$share/#/a",
                          "$share/+/a", "$share/g/a#"}) {
    INFO(bad);
    CHECK(validate_topic_filter(bad) == E::InvalidTopicFilter);
  }
  CHECK(validate_topic_filter("") == E::EmptyTopicFilter);
  CHECK(validate_topic_filter("\xED\xA0\x80/#") == E::Utf8Surrogate);
  CHECK(validate_topic_filter(std::string_view("a/\0", 3)) == E::Utf8NullCharacter);
}

TEST_CASE("parse_shared_filter", "[topic][shared]") {
  auto s = parse_shared_filter("$share/g/a/+");
  REQUIRE(s.has_value());
  CHECK(s->group == "g");
  CHECK(s->filter == "a/+");
  auto f = parse_shared_filter("$share/consumer1//finance");
  REQUIRE(f.has_value());
  CHECK(f->group == "consumer1");
  CHECK(f->filter == "/finance");
  auto h = parse_shared_filter("$share/grp/#");
  REQUIRE(h.has_value());
  CHECK(h->group == "grp");
  CHECK(h->filter == "#");
  // The views point into the argument.
  std::string_view in = "$share/g/x";
  auto v = parse_shared_filter(in);
  REQUIRE(v.has_value());
  CHECK(v->group.data() == in.data() + 7);
  CHECK(v->filter.data() == in.data() + 9);
  // Not shared.
  CHECK_FALSE(parse_shared_filter("a/b").has_value());
  CHECK_FALSE(parse_shared_filter("#").has_value());
  CHECK_FALSE(parse_shared_filter("$SYS/a").has_value());
  CHECK_FALSE(parse_shared_filter("$sharex/g/a").has_value());
  CHECK_FALSE(parse_shared_filter("share/g/a").has_value());
}

TEST_CASE("topic_matches: spec 4.7 examples", "[topic][match]") {
  // 4.7.1.2 multi-level wildcard
  CHECK(topic_matches("sport/tennis/player1/#", "sport/tennis/player1"));
  CHECK(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
  CHECK(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
  CHECK_FALSE(topic_matches("sport/tennis/player1/#", "sport/tennis/player2"));
  CHECK_FALSE(topic_matches("sport/tennis/player1/#", "sport/tennis"));
  CHECK(topic_matches("sport/#", "sport"));
  CHECK(topic_matches("#", "sport/tennis"));
  CHECK(topic_matches("#", "/"));
  CHECK(topic_matches("#", "a"));
  // 4.7.1.3 single-level wildcard
  CHECK(topic_matches("sport/tennis/+", "sport/tennis/player1"));
  CHECK(topic_matches("sport/tennis/+", "sport/tennis/player2"));
  CHECK_FALSE(topic_matches("sport/tennis/+", "sport/tennis/player1/ranking"));
  CHECK_FALSE(topic_matches("sport/+", "sport"));
  CHECK(topic_matches("sport/+", "sport/"));
  CHECK(topic_matches("+/+", "/finance"));
  CHECK(topic_matches("/+", "/finance"));
  CHECK_FALSE(topic_matches("+", "/finance"));
  CHECK(topic_matches("+", "finance"));
  CHECK(topic_matches("+/tennis/#", "sport/tennis/player1"));
  CHECK(topic_matches("sport/+/player1", "sport/tennis/player1"));
  CHECK_FALSE(topic_matches("sport/+/player1", "sport/tennis/player2"));
  CHECK(topic_matches("+/+/+", "a//c"));
  CHECK(topic_matches("a/+/c", "a//c"));
}

TEST_CASE("topic_matches: exact and case-sensitive", "[topic][match]") {
  CHECK(topic_matches("a/b", "a/b"));
  CHECK_FALSE(topic_matches("a/b", "a/b/"));
  CHECK_FALSE(topic_matches("a/b", "a"));
  CHECK_FALSE(topic_matches("a/b", "A/b"));  // 4.7.3: case sensitive
  CHECK_FALSE(topic_matches("ACCOUNTS", "Accounts"));
  CHECK(topic_matches("/", "/"));
  CHECK_FALSE(topic_matches("a", "a/b"));
  CHECK_FALSE(topic_matches("a/b/c", "a/b"));
  CHECK(topic_matches("a/#", "a/"));
  CHECK(topic_matches("a/+/#", "a/b"));
  CHECK_FALSE(topic_matches("a/+/#", "a"));
  CHECK(topic_matches("a b", "a b"));  // spaces are ordinary characters
  CHECK_FALSE(topic_matches("a", "a "));
}

TEST_CASE("topic_matches: topics beginning with $ (spec 4.7.2)", "[topic][match]") {
  // [MQTT-4.7.2-1]
  CHECK_FALSE(topic_matches("#", "$SYS/x"));
  CHECK_FALSE(topic_matches("+/x", "$SYS/x"));
  CHECK_FALSE(topic_matches("+/monitor/Clients", "$SYS/monitor/Clients"));
  CHECK_FALSE(topic_matches("+", "$SYS"));
  CHECK(topic_matches("$SYS/#", "$SYS/x"));
  CHECK(topic_matches("$SYS/#", "$SYS"));
  CHECK(topic_matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
  CHECK(topic_matches("$SYS/x", "$SYS/x"));
  CHECK_FALSE(topic_matches("$SYS/#", "SYS/x"));
  // '$' elsewhere is an ordinary character.
  CHECK(topic_matches("#", "a/$b"));
  CHECK(topic_matches("a/+", "a/$b"));
}

TEST_CASE("topic_matches: shared subscriptions ignore the $share/group/ prefix",
          "[topic][match][shared]") {
  CHECK(topic_matches("$share/g/a/+", "a/b"));
  CHECK_FALSE(topic_matches("$share/g/a/+", "a/b/c"));
  CHECK_FALSE(topic_matches("$share/g/a/+", "g/a/b"));
  CHECK(topic_matches("$share/consumer1/sport/tennis/+", "sport/tennis/player1"));
  CHECK(topic_matches("$share/consumer1//finance", "/finance"));
  CHECK(topic_matches("$share/g/#", "x/y"));
  CHECK_FALSE(topic_matches("$share/g/#", "$SYS/x"));
}

}  // namespace
}  // namespace mqtt::codec
