#include "tests/integration/support/certs.h"

#include <cstdlib>
#include <stdexcept>

#include "tests/integration/support/process.h"

namespace itest {

std::string make_test_certs() {
  require_binary("openssl");
  const std::string dir = make_temp_dir("certs");
  write_file(dir + "/gen.sh", R"(set -e
cd "$1"
k() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
k ca.key
openssl req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=Test CA"
k other.key
openssl req -x509 -new -key other.key -out other.crt -days 3650 -subj "/CN=Other CA"
k server.key
openssl req -new -key server.key -out server.csr -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
  -days 365 -extfile server.ext
)");
  const std::string cmd = "/bin/sh " + dir + "/gen.sh " + dir + " > " + dir + "/gen.log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    throw std::runtime_error("making certificates failed: " + read_file(dir + "/gen.log"));
  }
  return dir;
}

}  // namespace itest
