// Entry points of the libFuzzer executables of scripts/fuzz-readers.sh (SwiftPM targets
// p2p-fuzz-*, only in the package when P2P_FUZZ=1).
//
// SwiftPM links an executable on Linux with `--defsym main=<module>_main`, the renamed entry
// point of its Swift module. A fuzz target's Swift file has no entry point (it is compiled with
// -parse-as-library and only defines LLVMFuzzerTestOneInput), so these functions stand in for it
// and hand over to libFuzzer's driver, which parses the command line as libFuzzer's own main does.
#include "P2PFuzzMain.h"

static int run(int argc, char **argv) { return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput); }

int p2p_fuzz_datasets_main(int argc, char **argv) { return run(argc, argv); }
int p2p_fuzz_experiments_main(int argc, char **argv) { return run(argc, argv); }
int p2p_fuzz_safetensors_main(int argc, char **argv) { return run(argc, argv); }
