"""The release tarball as an operator gets it (`make release`, then `make release-test`): its
checksum file verifies with `sha256sum -c`, it unpacks to lynx-portal-VERSION/ with the whole
bundle, its install.sh finds the bundle it sits in, and its binary reports VERSION and the commit
of this tree. Built reproducibly-ish: owner 0, names sorted, every mtime the commit's date."""
import os
import pathlib
import re
import subprocess
import tarfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
VERSION = (REPO / "VERSION").read_text().strip()
TARBALL = pathlib.Path(os.environ.get("LYNX_RELEASE_TARBALL",
                                      REPO / "dist" / f"lynx-portal-{VERSION}-linux-amd64.tar.gz"))
TOP = f"lynx-portal-{VERSION}"


def git(*args):
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()


def expected_commit():
    commit = git("rev-parse", "--short=12", "HEAD")
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    assert TARBALL.is_file(), f"no {TARBALL}: run `make release`"
    target = tmp_path_factory.mktemp("release")
    subprocess.run(["tar", "-xzf", str(TARBALL), "-C", str(target)], check=True)
    return target / TOP


def test_the_checksum_file_verifies_with_sha256sum_c():
    checksum = TARBALL.with_name(TARBALL.name + ".sha256")
    assert re.fullmatch(rf"[0-9a-f]{{64}}  {re.escape(TARBALL.name)}\n", checksum.read_text()), checksum.read_text()
    result = subprocess.run(["sha256sum", "-c", checksum.name], cwd=TARBALL.parent, capture_output=True, text=True)
    assert result.returncode == 0 and f"{TARBALL.name}: OK" in result.stdout, result.stdout + result.stderr


def test_the_tarball_holds_one_top_directory_with_the_whole_bundle(unpacked):
    with tarfile.open(TARBALL) as archive:
        members = archive.getmembers()
    names = [member.name for member in members]
    assert all(name == TOP or name.startswith(TOP + "/") for name in names), names[:10]
    for part in ("bin/lynx-portal", "templates/layout.mustache", "static/portal.css", "quizzes/phase-0.gift",
                 "deploy/install.sh", "deploy/systemd/lynx-portal.service", "VERSION"):
        assert f"{TOP}/{part}" in names, part
    assert (unpacked / "VERSION").read_text().strip() == VERSION
    assert os.access(unpacked / "bin" / "lynx-portal", os.X_OK)
    assert os.access(unpacked / "deploy" / "install.sh", os.X_OK)


def test_the_tarball_is_built_reproducibly(unpacked):
    with tarfile.open(TARBALL) as archive:
        members = archive.getmembers()
    commit_time = int(git("log", "-1", "--format=%ct"))
    assert {(member.uid, member.gid) for member in members} == {(0, 0)}
    assert {int(member.mtime) for member in members} == {commit_time}
    # --sort=name: every directory's entries in name order, each directory before its contents.
    names = [member.name for member in members]
    assert names == sorted(names, key=lambda name: name.split("/")), names[:20]


def test_the_unpacked_install_sh_finds_its_bundle(unpacked):
    result = subprocess.run([str(unpacked / "deploy" / "install.sh"), "--show-bundle"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == (f"install: bundle {unpacked.resolve()}: lynx-portal {VERSION} "
                                     f"(commit {expected_commit()})"), result.stdout


def test_the_binary_inside_reports_the_version_and_commit(unpacked):
    out = subprocess.run([str(unpacked / "bin" / "lynx-portal"), "--version"], capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    assert out == f"{VERSION} (commit {expected_commit()})"
