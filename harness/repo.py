"""This repository as a Copier template under git: snapshots of the working tree, commits."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import copier

REPO_ROOT = Path(__file__).resolve().parents[1]
# The template is the repository itself (copier.yml at its root, `_subdirectory: template`).
TEMPLATE_ROOT = REPO_ROOT


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def commit_all(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git(
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.com",
        "commit",
        "--allow-empty",
        "-qm",
        message,
        cwd=repo,
    )


def snapshot_template(destination: Path, history: bool = False) -> Path:
    """A git repo holding this template's working tree (tracked and new files, not ignored ones).

    With `history`, the repo is a clone of this one with the working tree committed on top, so
    its earlier commits can be rendered and updated from.
    """
    if history:
        git("clone", "-q", str(TEMPLATE_ROOT), str(destination), cwd=destination.parent)
        git("rm", "-rq", ".", cwd=destination)
    files = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=TEMPLATE_ROOT)
    for name in filter(None, files.split("\0")):
        source = TEMPLATE_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    if not history:
        git("init", "-q", "-b", "main", cwd=destination)
    commit_all(destination, "template as of this test run")
    return destination


# Answers every test starts from; each test overrides only what it is about.
BASE_ANSWERS: dict[str, Any] = {"project_name": "Demo Shop", "author_name": "Demo Team"}


def render(
    destination: Path, template: Path = TEMPLATE_ROOT, vcs_ref: str = "HEAD", **answers: Any
) -> Path:
    """Render `template` (by default this working tree) into `destination`, defaults for the rest."""
    copier.run_copy(
        str(template),
        destination,
        data={**BASE_ANSWERS, **answers},
        defaults=True,
        vcs_ref=vcs_ref,
        quiet=True,
    )
    return destination
