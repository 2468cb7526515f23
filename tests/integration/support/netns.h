// Private network and mount namespaces for tests that change the network
// (firewall rules that black-hole an address) or the name-resolution files
// (/etc/hosts, /etc/resolv.conf) without touching the machine.
//
//   itest::enter_private_namespaces();            // first, on the main thread
//   itest::replace_file("/etc/hosts", "::1 broker.test\n127.0.0.1 broker.test\n");
//   itest::nft("add rule inet t input ip6 daddr ::1 tcp dport 1883 drop");
//
// The test process moves into new namespaces (unshare), so everything it
// starts afterwards (peers, reactor threads, resolver threads) lives there:
// ports, addresses and rules are private, and bind mounts are invisible
// outside. Threads that existed before keep the old namespaces. Needs root
// (CAP_SYS_ADMIN, CAP_NET_ADMIN) and nft (Debian's nftables): without them
// these throw std::runtime_error, a test FAILURE with a message, never a skip.
#pragma once

#include <string>

namespace itest {

// Idempotent: new network and mount namespaces for the whole rest of the
// process (mounts made private, so nothing propagates back), with `lo` up
// (127.0.0.1/8 and ::1). Call from the main thread before creating clients,
// reactors or peers.
void enter_private_namespaces();

// Bind-mounts a file holding `text` over `target` (an existing file), in the
// private mount namespace only.
void replace_file(const std::string& target, const std::string& text);

// A table "inet itest" with an input chain "input" (filter hook, accepting by
// default) exists after the first call; `rules` are nft commands, one per
// line, e.g. "add rule inet itest input ip daddr 127.0.0.2 tcp dport 1883 drop".
void nft(const std::string& rules);

// Runs `command` with /bin/sh; throws with its output unless it exits 0.
void run_checked(const std::string& command);

}  // namespace itest
