// The subcommands of the `mqtt` tool. Each takes its own arguments (argv[0]
// is the subcommand's name) and returns the exit status (exit_codes.h).
#pragma once

namespace mqtt::cli {

int pub_main(int argc, char** argv);
int sub_main(int argc, char** argv);
int bench_main(int argc, char** argv);
int dissect_main(int argc, char** argv);

}  // namespace mqtt::cli
