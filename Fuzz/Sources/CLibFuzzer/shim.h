// libFuzzer's driver, for fuzz targets that own main(). LLVM's LibFuzzer.rst, "Using libFuzzer as
// a library": "If the code being fuzzed must provide its own `main`, it's possible to invoke
// libFuzzer as a library. [...] when it's ready to start fuzzing, it can call
// `LLVMFuzzerRunDriver`, passing in the program arguments and a callback."
//
// SwiftPM links every executable on Linux with `--defsym main=<Module>_main`, so libFuzzer's own
// main() is never linked in; each target defines <Module>_main and calls this (Fuzz/README.md).
// The library itself comes with -sanitize=fuzzer (libclang_rt.fuzzer): no `link` line here.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
