#!/usr/bin/env python3
"""Committed records: where a run writes its figures and which commit it names.

The records (experiments/reliability/RESULTS.md, the bench results, the DR drill log, the
walkthrough transcript and screenshots, the deploy figures, the snapshot cost) are committed only from the explicit
`make record-*` targets, which set LYNX_RECORD=1. Such a run refuses a tree with uncommitted
changes outside the records themselves (the figures must come from the commit they name) and
writes to the committed paths. Every other run (`make test` among them) writes to `.records/`
(ignored by git), under the same relative paths, so the tests leave the tree as they found it.

Usage (from shell scripts):
  records.py check          exit 2 with a message when LYNX_RECORD=1 and the tree is dirty
  records.py path RELPATH   where a run writes RELPATH (repository-relative)
  records.py stamp          the commit a run names, e.g. "bb894ee" or "bb894ee + uncommitted changes"
"""
import fnmatch
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
# Files a record run writes: changes to these do not make a tree dirty for a record run.
RECORD_FILES = (
    "experiments/reliability/RESULTS.md",
    "experiments/bench/RESULTS.md",
    "experiments/bench/INSTRUCTIONS.md",
    "experiments/41-deploy/dr-drill-*.md",
    "experiments/41-deploy/external-user-walkthrough.md",
    "experiments/41-deploy/walkthrough/*.png",
    "experiments/41-deploy/deploy-figures.md",
    "experiments/41-deploy/build-requirements.md",
    "experiments/41-deploy/snapshot-cost.md",
)


class DirtyTree(SystemExit):
    pass


def recording():
    """True in a `make record-*` run: the committed record is rewritten."""
    return os.environ.get("LYNX_RECORD") == "1"


def _git(*args):
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True).stdout


def uncommitted_changes():
    """Paths with uncommitted changes (untracked included), records excluded."""
    changed = []
    for line in _git("status", "--porcelain", "--untracked-files=all").splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if not any(fnmatch.fnmatch(path, pattern) for pattern in RECORD_FILES):
            changed.append(path)
    return changed


def check():
    """Refuses (exits 2) to record from a tree whose code is not the commit it would name."""
    if recording():
        changed = uncommitted_changes()
        if changed:
            raise DirtyTree(f"records: refusing to stamp a record on a tree with uncommitted changes "
                            f"({', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}); "
                            f"commit or stash them, then run the record target again")


def path(relative):
    """Where a run writes the record at `relative` (repository-relative), its folder made."""
    target = (REPO if recording() else REPO / ".records") / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def stamp():
    """The commit the figures come from; a record run refuses a dirty tree first."""
    check()
    commit = _git("rev-parse", "--short", "HEAD").strip() or "unknown"
    if not recording() and uncommitted_changes():
        commit += " + uncommitted changes"
    return commit


def main():
    try:
        if sys.argv[1:] == ["check"]:
            check()
        elif len(sys.argv) == 3 and sys.argv[1] == "path":
            print(path(sys.argv[2]))
        elif sys.argv[1:] == ["stamp"]:
            print(stamp())
        else:
            sys.exit(__doc__.split("Usage (from shell scripts):")[1])
    except DirtyTree as refusal:
        print(refusal, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
