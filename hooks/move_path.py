"""Move a generated file or directory to where a new template release renders it.

Run by copier.yml `_migrations` entries in the *before* stage, from the project's root:

    python hooks/move_path.py OLD NEW

so that `copier update` finds the team's version at the new path and merges the release's
changes into it, instead of deleting the old path and rendering the new one fresh.
Idempotent (a second run, or a project that never had OLD, changes nothing), touches only paths
inside the project, and stages the move in git so the update sees it. Standard library only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def inside(project: Path, relative: str) -> Path:
    """`relative` resolved under `project`; refuses absolute paths and anything that escapes it."""
    path = (project / relative).resolve()
    if Path(relative).is_absolute() or not path.is_relative_to(project.resolve()):
        raise ValueError(f"{relative!r} is not a path inside the project")
    return path


def move_path(project: Path, old: str, new: str) -> bool:
    """Move `old` to `new` inside `project`; True if something moved."""
    source, target = inside(project, old), inside(project, new)
    if not source.exists() or target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tracked = (
        subprocess.run(
            ["git", "ls-files", "--error-unmatch", "--", str(source)],
            cwd=project,
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    if tracked:
        subprocess.run(["git", "mv", "--", str(source), str(target)], cwd=project, check=True)
    else:
        source.rename(target)
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: move_path.py OLD NEW (paths relative to the project root)", file=sys.stderr)
        return 2
    old, new = argv
    if move_path(Path.cwd(), old, new):
        print(f"moved {old} -> {new}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
