// MQTT 5 enhanced authentication in the session (spec 4.12, 3.15): the AUTH
// exchange before CONNACK, re-authentication, and the broker's breaches.
// Every rule's spec id is in its test's name. Fake clock; no sockets.
#include "tests/session/harness.h"

using namespace session_test;

namespace {

const std::string kMethod = "SCRAM-SHA-256";

codec::Connect auth_connect(Harness& h, std::string_view method = kMethod) {
  codec::Connect c = h.connect_packet();
  c.properties.authentication_method = method;
  c.properties.authentication_data = codec::as_bytes("client-first");
  return c;
}

codec::Auth broker_auth(ReasonCode rc, std::optional<std::string_view> method = kMethod,
                        std::string_view data = "") {
  codec::Auth a;
  a.reason_code = rc;
  a.properties.authentication_method = method;
  if (!data.empty()) a.properties.authentication_data = codec::as_bytes(data);
  return a;
}

codec::ConnAck auth_connack(std::optional<std::string_view> method = kMethod) {
  codec::ConnAck ack;
  ack.properties.authentication_method = method;
  return ack;
}

Request auth_request(ReasonCode rc, std::string_view data, std::string_view method = kMethod) {
  auto r = make_auth_request(rc, method, codec::as_bytes(data), {}, ProtocolVersion::V5);
  REQUIRE(r.ok());
  r->completion = token();
  return std::move(*r);
}

// Submits a tracked AUTH request; its (settled) result.
Completion submit_auth(Harness& h, Request r) {
  auto t = r.completion;
  h.s.submit(std::move(r), h.now);
  REQUIRE(t->done());
  return t->result();
}

// CONNECT with the method, then the broker's challenge.
void begin_with_challenge(Harness& h) {
  h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
  auto c = h.take();
  REQUIRE(c.size() == 1);
  h.feed_ok(broker_auth(ReasonCode::ContinueAuthentication, kMethod, "server-first"));
}

void expect_violation_with_0x82(Harness& h, const Result<size_t, ConnectionError>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
  CHECK(r.error().reason_code == ReasonCode::ProtocolError);
  REQUIRE(h.s.flush_before_close());
  auto sent = h.take();
  REQUIRE(sent.size() == 1);
  REQUIRE(sent[0]->type() == PacketType::Disconnect);
  CHECK(sent[0]->as<codec::Disconnect>().reason_code == ReasonCode::ProtocolError);
}

}  // namespace

TEST_CASE("CONNECT carries Authentication Method and Data (3.1.2.11.9/10)") {
  Harness h(v5config());
  h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
  auto c = h.take();
  REQUIRE(c.size() == 1);
  const auto& p = c[0]->as<codec::Connect>().properties;
  CHECK(p.authentication_method == std::optional<std::string_view>(kMethod));
  REQUIRE(p.authentication_data);
  CHECK(codec::as_string(*p.authentication_data) == "client-first");
}

TEST_CASE("the broker's AUTH 0x18 before CONNACK is reported, answered with AUTH 0x18, then CONNACK [MQTT-4.12.0-2/-3]") {
  Harness h(v5config());
  begin_with_challenge(h);
  REQUIRE(h.obs.incoming == std::vector<PacketType>{PacketType::Auth});
  CHECK(h.s.state() == SessionState::Connecting);
  // Held requests stay held until CONNACK [MQTT-3.1.2-30]; the AUTH goes now.
  h.s.submit(h.subscribe({"a/b"}), h.now);
  auto done = submit_auth(h, auth_request(ReasonCode::ContinueAuthentication, "client-final"));
  CHECK(done.ok());
  auto sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::Auth});
  const auto& a = sent[0]->as<codec::Auth>();
  CHECK(a.reason_code == ReasonCode::ContinueAuthentication);
  CHECK(a.properties.authentication_method == std::optional<std::string_view>(kMethod));
  CHECK(codec::as_string(*a.properties.authentication_data) == "client-final");
  CHECK(h.obs.outgoing.back().type == Outgoing::Type::Auth);
  h.feed_ok(auth_connack());
  CHECK(h.s.state() == SessionState::Connected);
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::Subscribe});
}

TEST_CASE("the CONNACK deadline bounds the whole exchange before CONNACK") {
  Harness h(v5config());
  h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
  h.take();
  h.now += 6s;
  h.feed_ok(broker_auth(ReasonCode::ContinueAuthentication));
  CHECK(h.s.next_deadline() == T0 + 10s);  // the AUTH extends nothing
  h.now = T0 + 10s;
  auto r = h.s.handle_timeout(h.now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::ConnectTimeout);
}

TEST_CASE("an AUTH with another method is a protocol error with DISCONNECT 0x82 [MQTT-4.12.0-5]") {
  Harness h(v5config());
  SECTION("before CONNACK") {
    h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
    h.take();
    expect_violation_with_0x82(h, h.feed(broker_auth(ReasonCode::ContinueAuthentication, "PLAIN")));
    CHECK(h.obs.incoming.empty());
  }
  SECTION("during a re-authentication") {
    begin_with_challenge(h);
    submit_auth(h, auth_request(ReasonCode::ContinueAuthentication, "x"));
    h.feed_ok(auth_connack());
    h.take();
    REQUIRE(submit_auth(h, auth_request(ReasonCode::ReAuthenticate, "again")).ok());
    h.take();
    expect_violation_with_0x82(h, h.feed(broker_auth(ReasonCode::ContinueAuthentication, "PLAIN")));
    // The breach itself is never reported.
    CHECK(h.obs.incoming == std::vector<PacketType>{PacketType::Auth, PacketType::ConnAck});
  }
}

TEST_CASE("a successful CONNACK with another or no method is a protocol error [MQTT-4.12.0-5]") {
  Harness h(v5config());
  h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
  h.take();
  SECTION("another") { expect_violation_with_0x82(h, h.feed(auth_connack("PLAIN"))); }
  SECTION("none") { expect_violation_with_0x82(h, h.feed(auth_connack(std::nullopt))); }
  CHECK(h.obs.incoming.empty());
}

TEST_CASE("AUTH or a CONNACK method when the CONNECT had no method is a protocol error [MQTT-4.12.0-6]") {
  Harness h(v5config());
  h.s.begin_connection(h.connect_packet(), h.now, h.now + 10s);
  h.take();
  Result<size_t, ConnectionError> r = 0;
  SECTION("AUTH") { r = h.feed(broker_auth(ReasonCode::ContinueAuthentication)); }
  SECTION("CONNACK") { r = h.feed(auth_connack()); }
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
  // No DISCONNECT before CONNACK without enhanced authentication.
  CHECK_FALSE(h.s.flush_before_close());
  CHECK(h.obs.incoming.empty());
}

TEST_CASE("AUTH 0x19 from the broker is a protocol error with DISCONNECT 0x82 (table 3-11)") {
  Harness h(v5config());
  h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
  h.take();
  auto r = h.feed(broker_auth(ReasonCode::ReAuthenticate));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::ProtocolViolation);
  CHECK(h.s.flush_before_close());
  CHECK(h.obs.incoming.empty());
}

TEST_CASE("AUTH Success before CONNACK, or outside a re-authentication, is a protocol error") {
  Harness h(v5config());
  SECTION("before CONNACK") {
    h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
    h.take();
    expect_violation_with_0x82(h, h.feed(broker_auth(ReasonCode::Success)));
  }
  SECTION("connected, no re-authentication") {
    h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
    h.take();
    h.feed_ok(auth_connack());
    h.take();
    expect_violation_with_0x82(h, h.feed(broker_auth(ReasonCode::ContinueAuthentication)));
  }
}

TEST_CASE("re-authentication: AUTH 0x19 after CONNACK, 0x18 rounds, 0x00 ends it [MQTT-4.12.1-1]") {
  Harness h(v5config());
  h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
  h.take();
  h.feed_ok(auth_connack());
  h.take();
  REQUIRE(submit_auth(h, auth_request(ReasonCode::ReAuthenticate, "first")).ok());
  // A second one while it runs is refused.
  CHECK(submit_auth(h, auth_request(ReasonCode::ReAuthenticate, "x")).error ==
        RequestError::ProtocolError);
  auto sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::Auth});
  CHECK(sent[0]->as<codec::Auth>().reason_code == ReasonCode::ReAuthenticate);
  CHECK(sent[0]->as<codec::Auth>().properties.authentication_method ==
        std::optional<std::string_view>(kMethod));
  h.feed_ok(broker_auth(ReasonCode::ContinueAuthentication, kMethod, "challenge"));
  REQUIRE(submit_auth(h, auth_request(ReasonCode::ContinueAuthentication, "proof")).ok());
  CHECK(types(h.take()) == std::vector<PacketType>{PacketType::Auth});
  h.feed_ok(broker_auth(ReasonCode::Success, kMethod, "verifier"));
  CHECK(h.obs.incoming ==
        std::vector<PacketType>{PacketType::ConnAck, PacketType::Auth, PacketType::Auth});
  // Done: another re-authentication may start; a stray 0x18 may not.
  CHECK(submit_auth(h, auth_request(ReasonCode::ContinueAuthentication, "x")).error ==
        RequestError::ProtocolError);
  CHECK(submit_auth(h, auth_request(ReasonCode::ReAuthenticate, "again")).ok());
}

TEST_CASE("re-authentication refused: the broker's DISCONNECT is DisconnectedByBroker [MQTT-4.12.1-2]") {
  Harness h(v5config());
  h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
  h.take();
  h.feed_ok(auth_connack());
  REQUIRE(submit_auth(h, auth_request(ReasonCode::ReAuthenticate, "first")).ok());
  codec::Disconnect d;
  d.reason_code = ReasonCode::NotAuthorized;
  auto r = h.feed(d);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ConnectionErrorCode::DisconnectedByBroker);
  CHECK(r.error().reason_code == ReasonCode::NotAuthorized);
}

TEST_CASE("CONNACK 0x8C or 0x87 ends the exchange as a terminal ConnectionRefused [MQTT-4.12.0-1/-4]") {
  for (ReasonCode rc : {ReasonCode::BadAuthenticationMethod, ReasonCode::NotAuthorized}) {
    Harness h(v5config());
    begin_with_challenge(h);
    codec::ConnAck ack;
    ack.reason_code = rc;
    auto r = h.feed(ack);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ConnectionErrorCode::ConnectionRefused);
    CHECK(r.error().reason_code == rc);
    CHECK(r.error().terminal);
  }
}

TEST_CASE("our AUTH that does not fit the exchange fails, and is never written [MQTT-4.12.0-3/-7]") {
  SECTION("0x18 before any broker AUTH") {
    Harness h(v5config());
    h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
    h.take();
    CHECK(submit_auth(h, auth_request(ReasonCode::ContinueAuthentication, "x")).error ==
          RequestError::ProtocolError);
    CHECK(h.s.output().empty());
  }
  SECTION("0x19 before CONNACK") {
    Harness h(v5config());
    begin_with_challenge(h);
    CHECK(submit_auth(h, auth_request(ReasonCode::ReAuthenticate, "x")).error ==
          RequestError::ProtocolError);
  }
  SECTION("no method in this connection's CONNECT") {
    Harness h(v5config());
    h.connect();
    CHECK(submit_auth(h, auth_request(ReasonCode::ReAuthenticate, "x")).error ==
          RequestError::ProtocolError);
    CHECK(h.s.output().empty());
  }
  SECTION("another method than the CONNECT's (options changed since)") {
    Harness h(v5config());
    begin_with_challenge(h);
    CHECK(submit_auth(h, auth_request(ReasonCode::ContinueAuthentication, "x", "PLAIN")).error ==
          RequestError::ProtocolError);
  }
  SECTION("no connection: ConnectionClosed, reported untracked as kind Auth") {
    Harness h(v5config());
    begin_with_challenge(h);
    h.s.connection_lost();
    Request r = auth_request(ReasonCode::ContinueAuthentication, "x");
    r.completion.reset();
    h.s.submit(std::move(r), h.now);
    REQUIRE(h.obs.failures.size() == 1);
    CHECK(h.obs.failures[0].kind == Request::Kind::Auth);
    CHECK(h.obs.failures[0].reason == RequestError::ConnectionClosed);
  }
}

TEST_CASE("a new connection forgets the previous exchange") {
  Harness h(v5config());
  begin_with_challenge(h);
  h.s.connection_lost();
  h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
  h.take();
  // The old challenge awaits no answer on this connection.
  CHECK(submit_auth(h, auth_request(ReasonCode::ContinueAuthentication, "x")).error ==
        RequestError::ProtocolError);
}

TEST_CASE("make_auth_request refuses 3.1.1 and reason codes other than 0x18/0x19") {
  auto v311 = make_auth_request(ReasonCode::ContinueAuthentication, kMethod, {}, {},
                                ProtocolVersion::V311);
  REQUIRE_FALSE(v311.ok());
  auto success = make_auth_request(ReasonCode::Success, kMethod, {}, {}, ProtocolVersion::V5);
  REQUIRE_FALSE(success.ok());
  CHECK(success.error() == codec::CodecError::InvalidReasonCode);
  auto ok = make_auth_request(ReasonCode::ReAuthenticate, kMethod, codec::as_bytes("d"), {},
                              ProtocolVersion::V5);
  REQUIRE(ok.ok());
  auto f = auth_fields(ok->bytes.span());
  REQUIRE(f);
  CHECK(f->code == ReasonCode::ReAuthenticate);
  CHECK(f->method == kMethod);
}

TEST_CASE("an AUTH above the broker's Maximum Packet Size goes without its Reason String and "
          "User Properties [MQTT-3.15.2-2] [MQTT-3.15.2-3]") {
  Harness h(v5config());
  h.s.begin_connection(auth_connect(h), h.now, h.now + 10s);
  h.take();
  codec::ConnAck ack = auth_connack();
  ack.properties.maximum_packet_size = 48;
  h.feed_ok(ack);
  h.take();
  codec::Properties extra;
  extra.reason_string = "a reason string that makes this AUTH too large for the broker";
  extra.user_properties = {{"k", "v"}};
  auto r = make_auth_request(ReasonCode::ReAuthenticate, kMethod, codec::as_bytes("d"), extra,
                             ProtocolVersion::V5);
  REQUIRE(r.ok());
  r->completion = token();
  REQUIRE(submit_auth(h, std::move(*r)).ok());
  auto sent = h.take();
  REQUIRE(types(sent) == std::vector<PacketType>{PacketType::Auth});
  const auto& a = sent[0]->as<codec::Auth>();
  CHECK_FALSE(a.properties.reason_string);
  CHECK(a.properties.user_properties.empty());
  CHECK(a.properties.authentication_method == std::optional<std::string_view>(kMethod));
  CHECK(sent[0]->raw.size() <= 48);
}
