"""The repository itself: what a fresh clone (CI's) starts from."""

from __future__ import annotations

import subprocess

from harness.repo import REPO_ROOT


def test_no_tracked_file_is_one_gitignore_ignores() -> None:
    """Nothing committed is a path .gitignore keeps out, such as a `.venv` symlink to one
    machine's virtualenv: in a fresh clone it would stand where scripts/venv.sh creates the venv."""
    tracked_but_ignored = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [] == tracked_but_ignored
