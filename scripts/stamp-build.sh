#!/usr/bin/env bash
# Writes Sources/CBuildInfo/generated/build-info.h (ignored by git): the VERSION file's content and
# the commit (`git rev-parse --short=12 HEAD`, "-dirty" when tracked files have changes), which
# `lynx-portal --version`, doctor and the operator's /healthz report. Rewritten only when its content
# changes, so an unchanged tree does not recompile. Every Makefile target that builds runs it first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=$(tr -d '[:space:]' < VERSION)
if [[ ! "$version" =~ ^[0-9A-Za-z.+-]+$ ]]; then
    echo "stamp-build.sh: VERSION holds '$version', expected something like 0.2.0" >&2
    exit 1
fi
if commit=$(git rev-parse --short=12 HEAD 2>/dev/null); then
    if [ -n "$(git status --porcelain --untracked-files=no)" ]; then commit="$commit-dirty"; fi
else
    commit=unknown
fi

dir=Sources/CBuildInfo/generated
header=$dir/build-info.h
content="// Written by scripts/stamp-build.sh; do not edit, do not commit.
#define LYNX_BUILD_VERSION \"$version\"
#define LYNX_BUILD_COMMIT \"$commit\""
if [ -f "$header" ] && [ "$(cat "$header")" = "$content" ]; then exit 0; fi
mkdir -p "$dir"
printf '%s\n' "$content" > "$header.tmp"
mv "$header.tmp" "$header"
# The compiler's dependency list of build_info.c does not name a header that did not exist at its
# last compile: a new mtime makes the build recompile it either way (its content is unchanged).
touch Sources/CBuildInfo/build_info.c
echo "stamped $version (commit $commit)"
