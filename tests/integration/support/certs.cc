#include "tests/integration/support/certs.h"

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <stdexcept>

#include "tests/integration/support/process.h"

namespace itest {

std::string make_test_certs() {
  using namespace std::chrono_literals;
  const std::string openssl = require_binary("openssl");
  const std::string dir = make_temp_dir("certs");
  write_file(dir + "/gen.sh", R"(set -e
cd "$1"
o="$2"
k() { "$o" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
k ca.key
"$o" req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=Test CA"
k other.key
"$o" req -x509 -new -key other.key -out other.crt -days 3650 -subj "/CN=Other CA"
k server.key
"$o" req -new -key server.key -out server.csr -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
"$o" x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
  -days 365 -extfile server.ext
k client.key
"$o" req -new -key client.key -out client.csr -subj "/CN=test-client"
"$o" x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 365
)");
  Process p(Process::Spec({require_binary("sh"), dir + "/gen.sh", dir, openssl})
                .out_err(dir + "/gen.log"));
  if (!p.wait_exit(30s) || !p.status() || !WIFEXITED(*p.status()) ||
      WEXITSTATUS(*p.status()) != 0) {
    p.stop(SIGKILL);
    throw std::runtime_error("making certificates failed (" + p.describe_status() +
                             "): " + read_file(dir + "/gen.log"));
  }
  p.stop();
  return dir;
}

}  // namespace itest
