// Broker URLs (mqtt/url.h): schemes and default ports, user info, IPv6
// literals, unix sockets, and a clear error for every malformed URL.
#include <catch2/catch.hpp>

#include "mqtt/url.h"

using mqtt::BrokerUrl;
using mqtt::parse_broker_url;

TEST_CASE("url: schemes and their default ports") {
  struct Case {
    const char* url;
    BrokerUrl::Scheme scheme;
    uint16_t port;
  };
  for (const Case& c : {Case{"mqtt://h", BrokerUrl::Scheme::Mqtt, 1883},
                        Case{"tcp://h", BrokerUrl::Scheme::Mqtt, 1883},
                        Case{"MQTT://h", BrokerUrl::Scheme::Mqtt, 1883},
                        Case{"mqtts://h", BrokerUrl::Scheme::Mqtts, 8883},
                        Case{"ssl://h", BrokerUrl::Scheme::Mqtts, 8883},
                        Case{"ws://h", BrokerUrl::Scheme::Ws, 80},
                        Case{"wss://h", BrokerUrl::Scheme::Wss, 443}}) {
    INFO(c.url);
    auto u = parse_broker_url(c.url);
    REQUIRE(u.ok());
    CHECK(u->scheme == c.scheme);
    CHECK(u->host == "h");
    CHECK(u->port == c.port);
  }
}

TEST_CASE("url: host, port, user info (percent-decoded), IPv6 literals") {
  auto u = parse_broker_url("mqtt://al%40ice:p%3Ass@broker.example.com:1884");
  REQUIRE(u.ok());
  CHECK(u->host == "broker.example.com");
  CHECK(u->port == 1884);
  CHECK(u->username == std::optional<std::string>("al@ice"));
  CHECK(u->password == std::optional<std::string>("p:ss"));
  auto v6 = parse_broker_url("mqtt://[::1]:1885");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 1885);
  auto v6d = parse_broker_url("mqtts://[fe80::1%25eth0]");
  REQUIRE(v6d.ok());
  CHECK(v6d->port == 8883);
  auto user_only = parse_broker_url("mqtt://bob@h");
  REQUIRE(user_only.ok());
  CHECK(user_only->username == std::optional<std::string>("bob"));
  CHECK_FALSE(user_only->password);
  auto ws = parse_broker_url("ws://h:8080/mqtt?token=1");
  REQUIRE(ws.ok());
  CHECK(ws->path == "/mqtt?token=1");
  CHECK(parse_broker_url("wss://h")->path == "/");
}

TEST_CASE("url: unix sockets") {
  auto u = parse_broker_url("unix:///run/mosquitto/mqtt.sock");
  REQUIRE(u.ok());
  CHECK(u->scheme == BrokerUrl::Scheme::Unix);
  CHECK(u->path == "/run/mosquitto/mqtt.sock");
  CHECK(parse_broker_url("unix://@abstract")->path == "@abstract");
}

TEST_CASE("url: malformed URLs say what is wrong") {
  struct Case {
    const char* url;
    const char* says;
  };
  for (const Case& c : {Case{"broker:1883", "no scheme"}, Case{"://h", "no scheme"},
                        Case{"http://h", "unknown scheme"}, Case{"mqtt://", "no host"},
                        Case{"mqtt://:1883", "no host"}, Case{"mqtt://h:", "empty port"},
                        Case{"mqtt://h:0", "port"}, Case{"mqtt://h:65536", "port"},
                        Case{"mqtt://h:12a", "port"}, Case{"mqtt://h:99999999999", "port"},
                        Case{"mqtt://[::1", "unclosed"}, Case{"mqtt://[]", "IPv6"},
                        Case{"mqtt://[::1]x", "after ]"}, Case{"mqtt://h/path", "path"},
                        Case{"mqtt://h#frag", "fragment"}, Case{"mqtt://u%4@h", "percent"},
                        Case{"unix://", "no socket path"}, Case{"unix://rel/path", "start with"}}) {
    INFO(c.url);
    auto u = parse_broker_url(c.url);
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().find(c.says) != std::string::npos);
    CHECK(u.error().find(c.url) != std::string::npos);
  }
}

TEST_CASE("url: apply_url sets the options, and leaves them alone on error") {
  mqtt::MqttOptions o("id", "old", 1);
  REQUIRE(mqtt::apply_url(o, "mqtt://u:p@[::1]:1999").ok());
  CHECK(o.host == "::1");
  CHECK(o.port == 1999);
  CHECK(o.username == std::optional<std::string>("u"));
  CHECK(o.password == std::optional<std::string>("p"));
  REQUIRE(mqtt::apply_url(o, "unix:///tmp/x.sock").ok());
  CHECK(o.unix_path == "/tmp/x.sock");
  REQUIRE(mqtt::apply_url(o, "mqtt://h").ok());
  CHECK(o.unix_path.empty());
  REQUIRE(mqtt::apply_url(o, "mqtts://broker.example").ok());
  CHECK(o.host == "broker.example");
  CHECK(o.port == 8883);
  REQUIRE(o.tls);  // TLS with the system trust store unless configured
  CHECK(o.tls->ca_file.empty());
  o.tls->ca_file = "/etc/my-ca.pem";
  REQUIRE(mqtt::apply_url(o, "ssl://other:9883").ok());
  CHECK(o.tls->ca_file == "/etc/my-ca.pem");  // existing TLS settings are kept
  REQUIRE(mqtt::apply_url(o, "mqtt://plain").ok());
  CHECK_FALSE(o.tls);
  CHECK_FALSE(o.websocket);
  REQUIRE(mqtt::apply_url(o, "ws://h:8080/mqtt?t=1").ok());
  REQUIRE(o.websocket);
  CHECK(o.websocket->path == "/mqtt?t=1");
  CHECK(o.port == 8080);
  CHECK_FALSE(o.tls);
  o.websocket->headers.push_back({"Authorization", "Bearer x"});
  REQUIRE(mqtt::apply_url(o, "wss://h").ok());
  REQUIRE(o.tls);
  CHECK(o.port == 443);
  CHECK(o.websocket->path == "/");
  CHECK(o.websocket->headers.size() == 1);  // kept
  REQUIRE(mqtt::apply_url(o, "mqtts://h").ok());
  CHECK_FALSE(o.websocket);
  CHECK(o.tls);
  const mqtt::MqttOptions before = o;
  CHECK_FALSE(mqtt::apply_url(o, "bogus").ok());
  CHECK(o.host == before.host);
  CHECK(o.port == before.port);
}

TEST_CASE("url lists: apply_urls and apply_url_list fill options.brokers") {
  using mqtt::BrokerAddress;
  mqtt::MqttOptions o("id", "old", 1);
  REQUIRE(mqtt::apply_urls(o, {"mqtt://a:1883", "tcp://[::1]:1884", "mqtt://c"}).ok());
  CHECK(o.brokers ==
        std::vector<BrokerAddress>{{"a", 1883, ""}, {"::1", 1884, ""}, {"c", 1883, ""}});
  CHECK(o.host == "a");  // the first URL sets the shared options as apply_url() does
  CHECK_FALSE(o.tls);

  REQUIRE(
      mqtt::apply_url_list(o, " mqtts://u:p@a.example , ssl://b.example:8884,tls://c.example").ok());
  CHECK(o.brokers == std::vector<BrokerAddress>{{"a.example", 8883, ""},
                                                {"b.example", 8884, ""},
                                                {"c.example", 8883, ""}});
  REQUIRE(o.tls);
  CHECK(o.username == std::optional<std::string>("u"));
  CHECK(o.password == std::optional<std::string>("p"));

  // User info on a later URL only is taken too; the same on several is fine.
  REQUIRE(mqtt::apply_urls(o, {"mqtt://a", "mqtt://v:q@b", "mqtt://v:q@c"}).ok());
  CHECK(o.username == std::optional<std::string>("v"));
  CHECK(o.password == std::optional<std::string>("q"));

  REQUIRE(mqtt::apply_urls(o, {"unix:///run/a.sock", "unix://@b"}).ok());
  CHECK(o.brokers == std::vector<BrokerAddress>{{"", 0, "/run/a.sock"}, {"", 0, "@b"}});

  REQUIRE(mqtt::apply_urls(o, {"ws://a/mqtt", "ws://b:8080/mqtt"}).ok());
  REQUIRE(o.websocket);
  CHECK(o.websocket->path == "/mqtt");
  CHECK(o.brokers == std::vector<BrokerAddress>{{"a", 80, ""}, {"b", 8080, ""}});

  // A list of one is apply_url(); apply_url() always means one broker.
  REQUIRE(mqtt::apply_urls(o, {"mqtt://solo:1999"}).ok());
  CHECK(o.brokers.empty());
  CHECK(o.host == "solo");
  REQUIRE(mqtt::apply_urls(o, {"mqtt://a", "mqtt://b"}).ok());
  REQUIRE(mqtt::apply_url(o, "mqtt://one").ok());
  CHECK(o.brokers.empty());
}

TEST_CASE("url lists: mixed schemes, paths or credentials and bad entries are refused") {
  struct Case {
    std::vector<std::string> urls;
    const char* says;
  };
  for (const Case& c :
       {Case{{}, "empty"}, Case{{"mqtt://a", "mqtts://b"}, "same transport"},
        Case{{"mqtt://a", "unix:///s"}, "same transport"},
        Case{{"ws://a", "wss://b"}, "same transport"},
        Case{{"ws://a/x", "ws://b/y"}, "path is shared"},
        Case{{"mqtt://u:p@a", "mqtt://u:other@b"}, "other credentials"},
        Case{{"mqtt://u@a", "mqtt://w@b"}, "other credentials"},
        Case{{"mqtt://a", "mqtt://b:0"}, "port"}, Case{{"mqtt://a", "bogus"}, "no scheme"}}) {
    mqtt::MqttOptions o("id", "old", 1);
    o.brokers = {{"x", 1, ""}};
    auto r = mqtt::apply_urls(o, c.urls);
    INFO((r.ok() ? std::string("ok") : r.error()));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find(c.says) != std::string::npos);
    CHECK(o.host == "old");  // unchanged
    CHECK(o.brokers.size() == 1);
  }
  mqtt::MqttOptions o;
  for (const char* list :
       {"", "mqtt://a,", ",mqtt://a", "mqtt://a,,mqtt://b", "mqtt://a, ,mqtt://b"}) {
    INFO(list);
    auto r = mqtt::apply_url_list(o, list);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().find("empty entry") != std::string::npos);
  }
  // The offending URL is named.
  auto r = mqtt::apply_url_list(o, "mqtt://a, mqtts://b");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().find("\"mqtts://b\"") != std::string::npos);
}
