// mqtt_dissect: the packet dissector on its own, the same as `mqtt dissect`
// (tools/mqtt/dissect.cc; docs/dissector.md). Kept for the scripts and docs
// that name it.
#include "tools/mqtt/commands.h"

int main(int argc, char** argv) { return mqtt::cli::dissect_main(argc, argv); }
