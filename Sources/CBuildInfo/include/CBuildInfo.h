#ifndef CBUILDINFO_H
#define CBUILDINFO_H

/// The release this binary was built as: the repository's VERSION file, or "dev" when the build
/// was not stamped (scripts/stamp-build.sh writes the stamp; every Makefile target that builds
/// runs it).
const char *lynx_build_version(void);

/// The commit it was built from (`git rev-parse --short=12 HEAD`, with "-dirty" when tracked
/// files had changes), or "unknown" when the build was not stamped.
const char *lynx_build_commit(void);

#endif
