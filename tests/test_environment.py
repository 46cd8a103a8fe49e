"""The machine and source description recorded next to every result."""

from __future__ import annotations

import subprocess

from edgecnn.environment import source_commit


def _git(root, *arguments):
    identity = ["-c", "user.name=edgecnn tests", "-c", "user.email=tests@example.invalid"]
    return subprocess.run(["git", *identity, *arguments], cwd=root, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_source_commit_dirty_only_for_package(tmp_path):
    (tmp_path / "edgecnn").mkdir()
    (tmp_path / "edgecnn" / "model.py").write_text("WIDTH = 8\n")
    (tmp_path / "results.json").write_text("{}\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "Add the model")
    head = _git(tmp_path, "rev-parse", "--short=12", "HEAD")

    assert source_commit(tmp_path) == head

    # A result written beside the code changes nothing that a run computes.
    (tmp_path / "results.json").write_text('{"accuracy": 99.0}\n')
    (tmp_path / "notes.md").write_text("notes\n")
    assert source_commit(tmp_path) == head

    (tmp_path / "edgecnn" / "model.py").write_text("WIDTH = 16\n")
    assert source_commit(tmp_path) == head + "-dirty"


def test_source_commit_none_outside_git(tmp_path):
    assert source_commit(tmp_path) is None
