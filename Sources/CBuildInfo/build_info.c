#include "CBuildInfo.h"

// generated/build-info.h is written by scripts/stamp-build.sh (ignored by git) and defines
// LYNX_BUILD_VERSION and LYNX_BUILD_COMMIT. A plain `swift build` without it still builds.
#if __has_include("generated/build-info.h")
#include "generated/build-info.h"
#endif

#ifndef LYNX_BUILD_VERSION
#define LYNX_BUILD_VERSION "dev"
#endif
#ifndef LYNX_BUILD_COMMIT
#define LYNX_BUILD_COMMIT "unknown"
#endif

const char *lynx_build_version(void) { return LYNX_BUILD_VERSION; }

const char *lynx_build_commit(void) { return LYNX_BUILD_COMMIT; }
