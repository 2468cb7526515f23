// Exit statuses of the `mqtt` tool, the same for every subcommand, so that
// scripts can tell a broker problem from a typo (docs/cli.md).
#pragma once

namespace mqtt::cli {

constexpr int kExitOk = 0;
// Connection or broker error: unreachable, refused (credentials, not
// authorized), TLS, no CONNACK in time, connection lost, a publish or
// subscription refused. `mqtt dissect`: the input does not decode.
constexpr int kExitFailure = 1;
// Bad flags or values, an unreadable input file: nothing was sent.
constexpr int kExitUsage = 2;
// Partial: --timeout (or SIGINT/SIGTERM) ended the run before --count was
// reached (sub, bench), or before every publish was acknowledged (pub). `mqtt dissect`: the input
// ends inside a packet.
constexpr int kExitPartial = 3;

}  // namespace mqtt::cli
