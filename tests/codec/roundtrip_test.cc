// encode -> decode -> equal for every packet type, both protocol versions,
// with and without properties. encode_ok() also checks encoded_size() ==
// bytes written.
#include "tests/codec/test_util.h"

namespace mqtt::codec {
namespace {

using test::ack;
using test::ByteVec;
using test::decode_ok;
using test::encode_ok;
using test::sub;
using test::to_hex;

constexpr auto V311 = ProtocolVersion::V311;
constexpr auto V5 = ProtocolVersion::V5;

const uint8_t kBlob[] = {0x00, 0x01, 0xFF, 0x80, 0x7F};

template <class T>
void check_roundtrip(const T& pkt, ProtocolVersion v) {
  ByteVec wire = encode_ok(Packet{pkt}, v);
  INFO("wire: " << to_hex(wire));
  Packet out = decode_ok(wire, v);
  REQUIRE(std::holds_alternative<T>(out));
  CHECK(std::get<T>(out) == pkt);
  CHECK(packet_type(out) == packet_type(Packet{pkt}));
  CHECK(static_cast<uint8_t>(packet_type(out)) == (wire[0] >> 4));
  // Re-encoding the decoded packet gives the same bytes.
  CHECK(encode_ok(out, v) == wire);
}

Connect full_connect(ProtocolVersion v) {
  Connect c;
  c.protocol_version = v;
  c.client_id = "client-\xC3\xA9";  // non-ASCII UTF-8
  c.clean_start = false;
  c.keep_alive = 0xFFFF;
  Will w;
  w.topic = "will/topic";
  w.payload = Bytes(kBlob);
  w.qos = QoS::ExactlyOnce;
  w.retain = true;
  c.will = w;
  c.username = "user";
  c.password = Bytes(kBlob);
  return c;
}

TEST_CASE("round trip CONNECT", "[roundtrip][connect]") {
  for (auto v : {V311, V5}) {
    INFO("version " << int(v));
    Connect minimal;
    minimal.protocol_version = v;
    check_roundtrip(minimal, v);
    check_roundtrip(full_connect(v), v);

    Connect user_only = minimal;
    user_only.client_id = "id";
    user_only.username = "";
    check_roundtrip(user_only, v);

    for (auto q : {QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce}) {
      Connect wq = full_connect(v);
      wq.will->qos = q;
      wq.will->retain = false;
      check_roundtrip(wq, v);
    }
  }
  SECTION("5.0 password without user name") {
    Connect c;
    c.protocol_version = V5;
    c.password = Bytes(kBlob);
    check_roundtrip(c, V5);
  }
  SECTION("5.0 every CONNECT and Will property") {
    Connect c = full_connect(V5);
    auto& p = c.properties;
    p.session_expiry_interval = 0xFFFFFFFF;
    p.receive_maximum = 1;
    p.maximum_packet_size = 1024;
    p.topic_alias_maximum = 0;
    p.request_response_information = 1;
    p.request_problem_information = 0;
    p.user_properties = {{"a", "1"}, {"a", "2"}, {"", ""}};
    p.authentication_method = "SCRAM-SHA-1";
    p.authentication_data = Bytes(kBlob);
    auto& w = c.will->properties;
    w.will_delay_interval = 30;
    w.payload_format_indicator = 1;
    w.message_expiry_interval = 3600;
    w.content_type = "text/plain";
    w.response_topic = "resp/topic";
    w.correlation_data = Bytes(kBlob);
    w.user_properties = {{"wk", "wv"}, {"wk2", "wv2"}};
    check_roundtrip(c, V5);
  }
}

TEST_CASE("round trip CONNACK", "[roundtrip][connack]") {
  for (auto v : {V311, V5}) {
    for (auto rc : {ReasonCode::Success, ReasonCode::UnsupportedProtocolVersion,
                    ReasonCode::ClientIdentifierNotValid, ReasonCode::ServerUnavailable,
                    ReasonCode::BadUserNameOrPassword, ReasonCode::NotAuthorized}) {
      ConnAck a;
      a.reason_code = rc;
      check_roundtrip(a, v);
    }
    ConnAck sp;
    sp.session_present = true;
    check_roundtrip(sp, v);
  }
  SECTION("5.0 failure codes that 3.1.1 does not have") {
    for (auto rc : {ReasonCode::UnspecifiedError, ReasonCode::MalformedPacket,
                    ReasonCode::Banned, ReasonCode::QuotaExceeded, ReasonCode::ServerMoved,
                    ReasonCode::ConnectionRateExceeded}) {
      ConnAck a;
      a.reason_code = rc;
      check_roundtrip(a, V5);
    }
  }
  SECTION("5.0 every CONNACK property") {
    ConnAck a;
    a.session_present = true;
    auto& p = a.properties;
    p.session_expiry_interval = 100;
    p.receive_maximum = 65535;
    p.maximum_qos = 1;
    p.retain_available = 0;
    p.maximum_packet_size = 268435460;
    p.assigned_client_identifier = "auto-123";
    p.topic_alias_maximum = 10;
    p.reason_string = "welcome";
    p.user_properties = {{"k1", "v1"}, {"k2", "v2"}};
    p.wildcard_subscription_available = 1;
    p.subscription_identifiers_available = 0;
    p.shared_subscription_available = 1;
    p.server_keep_alive = 120;
    p.response_information = "resp/";
    p.server_reference = "other.example:1883";
    p.authentication_method = "SCRAM-SHA-1";
    p.authentication_data = Bytes(kBlob);
    check_roundtrip(a, V5);
  }
}

TEST_CASE("round trip PUBLISH", "[roundtrip][publish]") {
  const std::string big(70000, 'p');  // payloads are not length-limited
  for (auto v : {V311, V5}) {
    INFO("version " << int(v));
    Publish p;
    p.topic = "a/b/c";
    check_roundtrip(p, v);
    p.payload = as_bytes("hello");
    check_roundtrip(p, v);
    p.qos = QoS::AtLeastOnce;
    p.packet_id = 1;
    check_roundtrip(p, v);
    p.qos = QoS::ExactlyOnce;
    p.packet_id = 65535;
    p.dup = true;
    p.retain = true;
    check_roundtrip(p, v);
    p.payload = as_bytes(big);
    p.topic = "/";
    check_roundtrip(p, v);
    p.topic = "$SYS/\xF0\x9F\x98\x80 x";  // '$' topic, 4-byte UTF-8, space
    check_roundtrip(p, v);
  }
  SECTION("5.0 every PUBLISH property, several user properties and subscription ids") {
    Publish p;
    p.qos = QoS::AtLeastOnce;
    p.packet_id = 42;
    p.topic = "sensors/1";
    p.payload = Bytes(kBlob);
    auto& pr = p.properties;
    pr.payload_format_indicator = 0;
    pr.message_expiry_interval = 0;
    pr.content_type = "application/json";
    pr.response_topic = "reply/here";
    pr.correlation_data = Bytes(kBlob);
    pr.subscription_identifiers = {1, 127, 128, 16384, 268435455};
    pr.topic_alias = 65535;
    pr.user_properties = {{"b", "2"}, {"a", "1"}, {"b", "3"}};  // order kept
    check_roundtrip(p, V5);
  }
  SECTION("5.0 empty topic with Topic Alias") {
    Publish p;
    p.topic = "";
    p.properties.topic_alias = 3;
    p.payload = as_bytes("x");
    check_roundtrip(p, V5);
  }
}

template <class A>
void ack_roundtrips(std::initializer_list<ReasonCode> v5_codes) {
  check_roundtrip(ack<A>(1), V311);
  check_roundtrip(ack<A>(65535), V311);
  check_roundtrip(ack<A>(1), V5);
  for (auto rc : v5_codes) {
    check_roundtrip(ack<A>(7, rc), V5);
    A with_props = ack<A>(8, rc);
    with_props.properties.reason_string = "because";
    with_props.properties.user_properties = {{"x", "y"}, {"x", "z"}};
    check_roundtrip(with_props, V5);
  }
  A success_props = ack<A>(9);
  success_props.properties.user_properties = {{"only", "user"}};
  check_roundtrip(success_props, V5);
}

TEST_CASE("round trip PUBACK, PUBREC, PUBREL, PUBCOMP", "[roundtrip][ack]") {
  SECTION("PUBACK") {
    ack_roundtrips<PubAck>({ReasonCode::Success, ReasonCode::NoMatchingSubscribers,
                            ReasonCode::UnspecifiedError,
                            ReasonCode::ImplementationSpecificError, ReasonCode::NotAuthorized,
                            ReasonCode::TopicNameInvalid, ReasonCode::PacketIdentifierInUse,
                            ReasonCode::QuotaExceeded, ReasonCode::PayloadFormatInvalid});
  }
  SECTION("PUBREC") {
    ack_roundtrips<PubRec>({ReasonCode::NoMatchingSubscribers, ReasonCode::UnspecifiedError,
                            ReasonCode::PayloadFormatInvalid});
  }
  SECTION("PUBREL") {
    ack_roundtrips<PubRel>({ReasonCode::Success, ReasonCode::PacketIdentifierNotFound});
  }
  SECTION("PUBCOMP") {
    ack_roundtrips<PubComp>({ReasonCode::Success, ReasonCode::PacketIdentifierNotFound});
  }
}

TEST_CASE("round trip SUBSCRIBE", "[roundtrip][subscribe]") {
  for (auto v : {V311, V5}) {
    Subscribe s;
    s.packet_id = 1;
    s.subscriptions = {sub("a/b"), sub("+/x/#", QoS::AtLeastOnce), sub("#", QoS::ExactlyOnce),
                       sub("$SYS/+"), sub("/")};
    check_roundtrip(s, v);
  }
  SECTION("5.0 every option combination and properties") {
    Subscribe s;
    s.packet_id = 300;
    for (auto rh : {RetainHandling::SendAtSubscribe, RetainHandling::SendAtSubscribeIfNew,
                    RetainHandling::DoNotSend}) {
      for (int bits = 0; bits < 4; ++bits) {
        s.subscriptions.push_back(sub("t/+", QoS::AtLeastOnce, bits & 1, bits & 2, rh));
      }
    }
    s.subscriptions.push_back(sub("$share/grp/a/#", QoS::ExactlyOnce, false, true));
    check_roundtrip(s, V5);
    s.properties.subscription_identifiers = {268435455};
    s.properties.user_properties = {{"u", "1"}, {"u", "2"}};
    check_roundtrip(s, V5);
  }
}

TEST_CASE("round trip SUBACK", "[roundtrip][suback]") {
  SubAck a;
  a.packet_id = 5;
  a.reason_codes = {ReasonCode::GrantedQoS0, ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS2,
                    ReasonCode::UnspecifiedError};
  check_roundtrip(a, V311);
  check_roundtrip(a, V5);
  a.reason_codes = {ReasonCode::ImplementationSpecificError,
                    ReasonCode::NotAuthorized,
                    ReasonCode::TopicFilterInvalid,
                    ReasonCode::PacketIdentifierInUse,
                    ReasonCode::QuotaExceeded,
                    ReasonCode::SharedSubscriptionsNotSupported,
                    ReasonCode::SubscriptionIdentifiersNotSupported,
                    ReasonCode::WildcardSubscriptionsNotSupported};
  check_roundtrip(a, V5);
  a.properties.reason_string = "partly";
  a.properties.user_properties = {{"k", "v"}};
  check_roundtrip(a, V5);
}

TEST_CASE("round trip UNSUBSCRIBE and UNSUBACK", "[roundtrip][unsubscribe]") {
  for (auto v : {V311, V5}) {
    Unsubscribe u;
    u.packet_id = 77;
    u.filters = {"a/+", "#", "$share/g/x"};
    check_roundtrip(u, v);
  }
  Unsubscribe u;
  u.packet_id = 78;
  u.filters = {"x"};
  u.properties.user_properties = {{"k", "v"}, {"k2", "v2"}};
  check_roundtrip(u, V5);

  UnsubAck a;
  a.packet_id = 77;
  check_roundtrip(a, V311);
  a.reason_codes = {ReasonCode::Success, ReasonCode::NoSubscriptionExisted,
                    ReasonCode::UnspecifiedError, ReasonCode::ImplementationSpecificError,
                    ReasonCode::NotAuthorized, ReasonCode::TopicFilterInvalid,
                    ReasonCode::PacketIdentifierInUse};
  check_roundtrip(a, V5);
  a.properties.reason_string = "done";
  a.properties.user_properties = {{"k", "v"}};
  check_roundtrip(a, V5);
}

TEST_CASE("round trip PINGREQ, PINGRESP", "[roundtrip]") {
  for (auto v : {V311, V5}) {
    check_roundtrip(PingReq{}, v);
    check_roundtrip(PingResp{}, v);
  }
}

TEST_CASE("round trip DISCONNECT", "[roundtrip][disconnect]") {
  check_roundtrip(Disconnect{}, V311);
  check_roundtrip(Disconnect{}, V5);
  for (auto rc : {ReasonCode::DisconnectWithWillMessage, ReasonCode::UnspecifiedError,
                  ReasonCode::ProtocolError, ReasonCode::ServerShuttingDown,
                  ReasonCode::KeepAliveTimeout, ReasonCode::SessionTakenOver,
                  ReasonCode::TopicAliasInvalid, ReasonCode::PacketTooLarge,
                  ReasonCode::MaximumConnectTime,
                  ReasonCode::WildcardSubscriptionsNotSupported}) {
    Disconnect d;
    d.reason_code = rc;
    check_roundtrip(d, V5);
  }
  Disconnect d;
  d.reason_code = ReasonCode::UseAnotherServer;
  d.properties.session_expiry_interval = 0;
  d.properties.reason_string = "moving";
  d.properties.server_reference = "backup:1883";
  d.properties.user_properties = {{"a", "b"}, {"c", "d"}};
  check_roundtrip(d, V5);
  Disconnect normal_with_props;
  normal_with_props.properties.reason_string = "bye";
  check_roundtrip(normal_with_props, V5);
}

TEST_CASE("round trip AUTH (5.0 only)", "[roundtrip][auth]") {
  check_roundtrip(Auth{}, V5);
  for (auto rc : {ReasonCode::Success, ReasonCode::ContinueAuthentication,
                  ReasonCode::ReAuthenticate}) {
    Auth a;
    a.reason_code = rc;
    // Every AUTH with a reason code names its method (spec 3.15.2.2.2).
    a.properties.authentication_method = "GS2-KRB5";
    check_roundtrip(a, V5);
    a.properties.authentication_data = Bytes(kBlob);
    a.properties.reason_string = "step";
    a.properties.user_properties = {{"k", "v"}, {"k", "w"}};
    check_roundtrip(a, V5);
  }
}

}  // namespace
}  // namespace mqtt::codec
