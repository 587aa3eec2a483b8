#ifndef LYNX_CLIBFUZZER_H
#define LYNX_CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>
/* libFuzzer's driver, from the toolchain's libclang_rt.fuzzer (linked by -sanitize=fuzzer).
 * SwiftPM links every executable with `main` aliased to `<Target>_main`, so the fuzzer's
 * entry point calls the driver itself instead of relying on libFuzzer's own `main`. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
