#include "tests/integration/support/certs.h"

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <stdexcept>

#include "tests/integration/support/process.h"

namespace itest {

std::string make_test_certs() {
  using namespace std::chrono_literals;
  require_binary("openssl");
  const std::string dir = make_temp_dir("certs");
  Process p(Process::Spec({require_binary("bash"), runfile("tools/lib/make_certs.sh"), dir})
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
