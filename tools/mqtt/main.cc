// mqtt: a command-line MQTT client (docs/cli.md).
//
//   mqtt sub -t 'sensors/#' -v            mqtt pub -t sensors/1 -m 21.5 -q 1
//   mqtt bench -n 10000 -s 64 -q 1        mqtt dissect --v5 < capture.hex
//
// main() only dispatches: each subcommand parses its own flags.
#include <cstdio>
#include <string_view>

#include "tools/mqtt/commands.h"
#include "tools/mqtt/exit_codes.h"

namespace {

constexpr const char* kHelp =
    "usage: mqtt COMMAND [options]      (mqtt COMMAND --help for its options)\n"
    "Commands:\n"
    "  pub      publish a message (or --repeat N, or one per line of stdin)\n"
    "  sub      subscribe and print messages until --count or --timeout\n"
    "  bench    publish/subscribe throughput and latency against a broker\n"
    "  dissect  decode MQTT packets from hex or binary and print every field\n"
    "Flags follow mosquitto_pub/mosquitto_sub (-h -p -t -m -f -q -r -u -P -i -k -V -c\n"
    "-D ...); --url takes mqtt://, mqtts://, ws://, wss:// and unix:// URLs. Text by\n"
    "default, JSON lines with --json.\n"
    "Exit status (every command):\n"
    "  0  success\n"
    "  1  connection or broker error: unreachable, refused (bad credentials, not\n"
    "     authorized), TLS, timeout connecting, connection lost, a publish or\n"
    "     subscription refused; dissect: the input does not decode\n"
    "  2  usage error: unknown flag, bad value, missing topic or message,\n"
    "     unreadable file; nothing was sent\n"
    "  3  partial: --timeout or a signal came before --count messages (sub, bench),\n"
    "     before every publish was acknowledged (pub), or bench lost messages;\n"
    "     dissect: the input ends inside a packet\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace mqtt::cli;
  if (argc < 2) {
    std::fputs(kHelp, stderr);
    return kExitUsage;
  }
  const std::string_view command = argv[1];
  if (command == "--help" || command == "help" || command == "-?") {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (command == "pub") return pub_main(argc - 1, argv + 1);
  if (command == "sub") return sub_main(argc - 1, argv + 1);
  if (command == "bench") return bench_main(argc - 1, argv + 1);
  if (command == "dissect") return dissect_main(argc - 1, argv + 1);
  std::fprintf(stderr, "mqtt: unknown command \"%s\" (pub, sub, bench or dissect)\n%s", argv[1], kHelp);
  return kExitUsage;
}
