#!/usr/bin/env python3
"""The release bundle of an earlier commit of this repository, built for real and cached.

The commit is the first line of Tests/deploy/upgrade-from (a full commit id; the next line says
why that one). The commit's tree is taken with `git archive COMMIT | tar -x` into a temporary
directory, so neither the working tree nor .git is touched; there it is built with
`swift build -c release --static-swift-stdlib` and assembled as that commit's Makefile `release`
target did: bin/lynx-portal (stripped), templates, static, quizzes, deploy.

The bundle is cached under $LYNX_TEST_CACHE/bundles/COMMIT (default
/var/cache/lynx-portal-test/bundles/COMMIT) and reused when complete (a `.complete` marker written
last), so only the first run pays the build (several minutes on 2 cores).

Run it alone to build ahead of the tests: `python3 Tests/deploy/earlier_bundle.py` prints the
bundle's path.
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
CACHE = pathlib.Path(os.environ.get("LYNX_TEST_CACHE", "/var/cache/lynx-portal-test"))
UPGRADE_FROM = HERE / "upgrade-from"


class EarlierBundleError(RuntimeError):
    pass


def upgrade_from_commit():
    """The full commit id on the first line of Tests/deploy/upgrade-from."""
    lines = [line.strip() for line in UPGRADE_FROM.read_text().splitlines()]
    commit = lines[0] if lines else ""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise EarlierBundleError(f"{UPGRADE_FROM}: the first line must be a full 40-hex commit id, not {commit!r}")
    return commit


def git(*args, check=True):
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=check)


def ensure_commit(commit):
    """The commit must be in the clone; a shallow clone is deepened once, else a clear failure."""
    if git("cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode == 0:
        return
    shallow = git("rev-parse", "--is-shallow-repository", check=False).stdout.strip() == "true"
    if shallow:
        fetched = git("fetch", "--unshallow", check=False)
        if git("cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode == 0:
            return
        raise EarlierBundleError(
            f"commit {commit} (Tests/deploy/upgrade-from) is not in this shallow clone and "
            f"`git fetch --unshallow` did not bring it: {fetched.stderr.strip() or fetched.stdout.strip()}. "
            "Clone with full history (e.g. `git fetch --unshallow`) to run the upgrade test.")
    raise EarlierBundleError(
        f"commit {commit} (Tests/deploy/upgrade-from) is not in this repository's history: "
        "fix Tests/deploy/upgrade-from or fetch the commit.")


def bundle_dir(commit):
    return CACHE / "bundles" / commit


def is_complete(path):
    return (path / ".complete").exists() and (path / "bin" / "lynx-portal").exists()


def stamp(src, commit):
    """The version stamp that commit's `make release` writes from git (scripts/stamp-build.sh),
    written here because the archive has no .git; commits before the stamp have nothing to write."""
    if not (src / "Sources" / "CBuildInfo").is_dir():
        return
    version = (src / "VERSION").read_text().strip()
    header = src / "Sources" / "CBuildInfo" / "generated" / "build-info.h"
    header.parent.mkdir(parents=True, exist_ok=True)
    header.write_text("// Written by Tests/deploy/earlier_bundle.py for an archived commit.\n"
                      f'#define LYNX_BUILD_VERSION "{version}"\n#define LYNX_BUILD_COMMIT "{commit[:12]}"\n')


def build(commit, log=sys.stderr):
    """Build the bundle of `commit` (cached); returns its path."""
    target = bundle_dir(commit)
    if is_complete(target):
        return target
    ensure_commit(commit)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # The build tree lives beside the cache (not /tmp, often a small tmpfs) and is always removed.
    with tempfile.TemporaryDirectory(prefix=f"build-{commit[:12]}-", dir=target.parent) as tmp:
        src = pathlib.Path(tmp) / "src"
        src.mkdir()
        archive = subprocess.Popen(["git", "-C", str(REPO), "-c", "tar.umask=0022", "archive", "--format=tar", commit],
                                   stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(src)], stdin=archive.stdout, check=True)
        archive.stdout.close()
        if archive.wait() != 0:
            raise EarlierBundleError(f"git archive {commit} failed")
        stamp(src, commit)
        print(f"earlier_bundle: building {commit} in {src} (swift build -c release --static-swift-stdlib)",
              file=log, flush=True)
        result = subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib"], cwd=src,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise EarlierBundleError(f"swift build of {commit} failed (exit {result.returncode}):\n"
                                     f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        staging = pathlib.Path(tmp) / "bundle"
        (staging / "bin").mkdir(parents=True)
        shutil.copy2(src / ".build" / "release" / "lynx-portal", staging / "bin" / "lynx-portal")
        subprocess.run(["strip", str(staging / "bin" / "lynx-portal")], check=True)
        for part in ("templates", "static", "quizzes", "deploy"):
            if (src / part).is_dir():
                shutil.copytree(src / part, staging / part, symlinks=True)
        (staging / ".commit").write_text(commit + "\n")
        (staging / ".complete").write_text(f"built in {time.monotonic() - started:.0f} s\n")
        if target.exists():
            shutil.rmtree(target)  # an incomplete earlier attempt
        staging.rename(target)
    print(f"earlier_bundle: {target} built in {time.monotonic() - started:.0f} s", file=log, flush=True)
    return target


def main():
    try:
        commit = sys.argv[1] if len(sys.argv) > 1 else upgrade_from_commit()
        print(build(commit))
    except EarlierBundleError as error:
        print(f"earlier_bundle: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
