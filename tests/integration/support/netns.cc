#include "tests/integration/support/netns.h"

#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "tests/integration/support/process.h"

namespace itest {

namespace {

bool entered = false;
bool table_made = false;

std::string why(const std::string& what) {
  const int e = errno;
  return what + " failed: " + std::strerror(e) +
         (e == EPERM ? " (these tests need root: CAP_SYS_ADMIN and CAP_NET_ADMIN)" : "");
}

}  // namespace

void run_checked(const std::string& command) {
  const std::string dir = make_temp_dir("cmd");
  const std::string out = dir + "/out.txt";
  const int rc = std::system((command + " > " + out + " 2>&1").c_str());
  if (rc != 0) {
    throw std::runtime_error("command failed (status " + std::to_string(rc) + "): " + command +
                             "\n" + read_file(out));
  }
}

void enter_private_namespaces() {
  if (entered) return;
  const std::string ip = require_binary("ip");
  if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
    throw std::runtime_error(why("unshare(CLONE_NEWNET | CLONE_NEWNS)"));
  }
  // Private mounts: the bind mounts below must not reach the machine's
  // namespace (with shared propagation they would).
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    throw std::runtime_error(why("making / a private mount (mount --make-rprivate /)"));
  }
  entered = true;
  run_checked(ip + " link set lo up");
}

void replace_file(const std::string& target, const std::string& text) {
  if (!entered) throw std::runtime_error("replace_file() before enter_private_namespaces()");
  const std::string dir = make_temp_dir("bind");
  const std::string source = dir + "/file";
  write_file(source, text);
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    throw std::runtime_error(why("bind-mounting a file over " + target));
  }
}

void nft(const std::string& rules) {
  if (!entered) throw std::runtime_error("nft() before enter_private_namespaces()");
  const std::string bin = require_binary("nft");
  const std::string dir = make_temp_dir("nft");
  std::string text;
  if (!table_made) {
    text += "add table inet itest\n";
    text += "add chain inet itest input { type filter hook input priority 0; policy accept; }\n";
  }
  text += rules + "\n";
  write_file(dir + "/rules.nft", text);
  run_checked(bin + " -f " + dir + "/rules.nft");
  table_made = true;
}

}  // namespace itest
