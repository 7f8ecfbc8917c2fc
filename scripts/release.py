"""Cut a release: date the CHANGELOG's Unreleased section, commit, and tag it. Tags never move.

    python scripts/release.py 0.2.0

Refuses a version that is not PEP 440, a tag that already exists, a dirty work tree, a branch
other than main, and an empty Unreleased section. Pushing stays a separate, deliberate step.
"""

from __future__ import annotations

import datetime
import re
import subprocess
import sys
from pathlib import Path

# Public PEP 440 versions without epochs or local parts: 1.2.0, 1.2.0rc1, 1.2.0.post1.
PEP440 = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
UNRELEASED = "## [Unreleased]\n"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def release(repo: Path, version: str, today: datetime.date) -> None:
    if not PEP440.match(version):
        raise SystemExit(f"{version!r} is not a PEP 440 version (e.g. 0.2.0, 1.0.0rc1)")
    if git(repo, "tag", "--list", version):
        raise SystemExit(f"tag {version} exists already; released tags are never moved")
    if git(repo, "status", "--porcelain"):
        raise SystemExit("the work tree has uncommitted changes; commit or stash them first")
    if git(repo, "branch", "--show-current") != "main":
        raise SystemExit("releases are cut from main")

    changelog = repo / "CHANGELOG.md"
    text = changelog.read_text()
    if UNRELEASED not in text:
        raise SystemExit(f"CHANGELOG.md has no {UNRELEASED.strip()} section")
    head, rest = text.split(UNRELEASED, 1)
    notes, next_heading, older = rest.partition("\n## [")
    if not notes.strip():
        raise SystemExit(
            "the Unreleased section of CHANGELOG.md is empty: say what this release changes"
        )
    dated = f"\n## [{version}] - {today.isoformat()}\n\n{notes.strip()}\n"
    changelog.write_text(head + UNRELEASED + dated + (next_heading + older if next_heading else ""))

    git(repo, "add", "CHANGELOG.md")
    git(repo, "commit", "-qm", f"Release {version}")
    git(repo, "tag", "-a", version, "-m", f"polyglot-scaffold {version}")
    print(f"Tagged {version}. Publish with: git push origin main {version}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python scripts/release.py VERSION")
    release(Path(__file__).resolve().parents[1], sys.argv[1], datetime.date.today())
