"""Committed records: written only by a record run, which names its commit and refuses a tree
whose code is not that commit (experiments/records.py, experiments/reliability/record.py)."""
import os
import shutil
import subprocess
import sys

from conftest import REPO


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def scratch_repository(tmp_path):
    """A git repository holding the two record scripts, committed."""
    repo = tmp_path / "repo"
    (repo / "experiments" / "reliability").mkdir(parents=True)
    shutil.copy(REPO / "experiments" / "records.py", repo / "experiments")
    shutil.copy(REPO / "experiments" / "reliability" / "record.py", repo / "experiments" / "reliability")
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "scripts")
    return repo


def record(repo, recording, body="| figure | 1 |"):
    env = dict(os.environ)
    env.pop("LYNX_RECORD", None)
    if recording:
        env["LYNX_RECORD"] = "1"
    return subprocess.run([sys.executable, str(repo / "experiments" / "reliability" / "record.py"), "demo", "Demo",
                           "a command"], input=body, env=env, capture_output=True, text=True)


def test_a_record_run_stamps_the_commit_and_writes_the_committed_file(tmp_path):
    repo = scratch_repository(tmp_path)
    head = git(repo, "rev-parse", "--short", "HEAD").strip()
    result = record(repo, recording=True)
    assert result.returncode == 0, result.stderr
    text = (repo / "experiments" / "reliability" / "RESULTS.md").read_text()
    assert f"at commit `{head}`: `a command`" in text and "| figure | 1 |" in text
    # A second record run on that tree: the record file's own change does not make it dirty.
    assert record(repo, recording=True, body="| figure | 2 |").returncode == 0
    assert "| figure | 2 |" in (repo / "experiments" / "reliability" / "RESULTS.md").read_text()


def test_a_record_run_refuses_a_tree_with_uncommitted_changes(tmp_path):
    repo = scratch_repository(tmp_path)
    (repo / "experiments" / "changed.py").write_text("print('not committed')\n")
    result = record(repo, recording=True)
    assert result.returncode != 0
    assert "refusing to stamp" in result.stderr and "experiments/changed.py" in result.stderr
    assert not (repo / "experiments" / "reliability" / "RESULTS.md").exists()


def test_any_other_run_writes_to_the_ignored_records_folder_and_says_the_tree_was_dirty(tmp_path):
    repo = scratch_repository(tmp_path)
    (repo / "experiments" / "changed.py").write_text("print('not committed')\n")
    result = record(repo, recording=False)
    assert result.returncode == 0, result.stderr
    assert not (repo / "experiments" / "reliability" / "RESULTS.md").exists()
    written = (repo / ".records" / "experiments" / "reliability" / "RESULTS.md").read_text()
    assert "+ uncommitted changes" in written
