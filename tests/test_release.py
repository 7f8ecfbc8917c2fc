"""scripts/release.py: releases are PEP 440 tags with a dated CHANGELOG section, never moved."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest

from harness.repo import TEMPLATE_ROOT, commit_all, git

sys.path.insert(0, str(TEMPLATE_ROOT / "scripts"))
from release import release

TODAY = datetime.date(2026, 11, 28)
CHANGELOG = """# Changelog

## [Unreleased]

### Added

- A thing.

## [0.1.0] - 2026-10-01

### Added

- The first thing.
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "CHANGELOG.md").write_text(CHANGELOG)
    git("init", "-q", "-b", "main", cwd=tmp_path)
    commit_all(tmp_path, "init")
    return tmp_path


def test_release_dates_the_changelog_and_tags(repo: Path) -> None:
    """The Unreleased notes move under the version and date; an empty Unreleased stays on top."""
    release(repo, "0.2.0", TODAY)
    changelog = (repo / "CHANGELOG.md").read_text()
    assert (
        "## [Unreleased]\n\n## [0.2.0] - 2026-11-28\n\n### Added\n\n- A thing.\n\n## [0.1.0]"
        in changelog
    )
    assert "0.2.0" == git("tag", "--list", "0.2.0", cwd=repo).strip()
    assert "" == git("status", "--porcelain", cwd=repo)


@pytest.mark.parametrize("version", ["v0.2.0", "0.2.0-beta", "latest"])
def test_release_refuses_a_version_that_is_not_pep440(repo: Path, version: str) -> None:
    with pytest.raises(SystemExit, match="is not a PEP 440 version"):
        release(repo, version, TODAY)


def test_existing_tag_is_never_moved(repo: Path) -> None:
    release(repo, "0.2.0", TODAY)
    (repo / "CHANGELOG.md").write_text(CHANGELOG)
    commit_all(repo, "more")
    with pytest.raises(SystemExit, match="exists already; released tags are never moved"):
        release(repo, "0.2.0", TODAY)


def test_empty_unreleased_section_is_refused(repo: Path) -> None:
    release(repo, "0.2.0", TODAY)
    with pytest.raises(SystemExit, match="Unreleased section of CHANGELOG.md is empty"):
        release(repo, "0.3.0", TODAY)


def test_dirty_work_tree_is_refused(repo: Path) -> None:
    (repo / "stray.txt").write_text("not committed\n")
    with pytest.raises(SystemExit, match="uncommitted changes"):
        release(repo, "0.2.0", TODAY)
