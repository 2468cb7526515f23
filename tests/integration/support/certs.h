// Test certificates made by tools/lib/make_certs.sh (the openssl CLI) in a
// fresh temp folder: a CA
// ("Test CA"), a server certificate signed by it for DNS:localhost and
// IP:127.0.0.1 (server.crt / server.key), and an unrelated CA ("Other CA",
// other.crt / other.key), and a client certificate signed by the CA
// (CN=test-client: client.crt / client.key). Throws std::runtime_error (a test failure) when
// openssl is missing or fails.
#pragma once

#include <string>

namespace itest {

// The folder holding those files.
std::string make_test_certs();

}  // namespace itest
