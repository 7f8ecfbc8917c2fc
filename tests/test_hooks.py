"""hooks/: the migrations that `copier update` runs across releases that move things."""

from __future__ import annotations

import sys
from pathlib import Path

import copier
import pytest
import yaml
from conftest import copy_project, edit

from harness.repo import TEMPLATE_ROOT, commit_all, git, snapshot_template

sys.path.insert(0, str(TEMPLATE_ROOT / "hooks"))
from move_path import move_path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/architecture.md").write_text("ours\n")
    git("init", "-q", cwd=tmp_path)
    commit_all(tmp_path, "init")
    return tmp_path


class TestMovePath:
    def test_moves_and_stages_a_tracked_file(self, project: Path) -> None:
        """The file lands at the new path, and git records a rename (so the update sees it)."""
        assert move_path(project, "docs/architecture.md", "docs/explanations/architecture.md")
        assert "ours\n" == (project / "docs/explanations/architecture.md").read_text()
        assert "R  docs/architecture.md -> docs/explanations/architecture.md\n" == git(
            "status", "--porcelain", cwd=project
        )

    def test_second_run_changes_nothing(self, project: Path) -> None:
        """Idempotent: once moved, running the migration again is a no-op."""
        move_path(project, "docs/architecture.md", "docs/explanations/architecture.md")
        assert not move_path(project, "docs/architecture.md", "docs/explanations/architecture.md")

    def test_never_overwrites_an_existing_target(self, project: Path) -> None:
        """If the team already has a file at the new path, both stay as they are."""
        (project / "docs/explanations").mkdir()
        (project / "docs/explanations/architecture.md").write_text("theirs\n")
        assert not move_path(project, "docs/architecture.md", "docs/explanations/architecture.md")
        assert "ours\n" == (project / "docs/architecture.md").read_text()

    def test_moves_an_untracked_file_too(self, project: Path) -> None:
        (project / "notes.md").write_text("draft\n")
        assert move_path(project, "notes.md", "docs/notes.md")
        assert "draft\n" == (project / "docs/notes.md").read_text()

    @pytest.mark.parametrize(
        ("old", "new"),
        [("../outside", "docs/x"), ("docs/architecture.md", "../../x"), ("/etc/passwd", "x")],
    )
    def test_refuses_paths_outside_the_project(self, project: Path, old: str, new: str) -> None:
        with pytest.raises(ValueError, match="is not a path inside the project"):
            move_path(project, old, new)


def test_release_that_moves_a_file_keeps_the_team_edits(tmp_path: Path) -> None:
    """A release moving docs/architecture.md, with its migration, brings the team's edits along."""
    template = snapshot_template(tmp_path / "template")
    git("tag", "1.0.0", cwd=template)
    old, new = "docs/architecture.md", "docs/explanations/architecture.md"
    (template / "template/docs/explanations").mkdir()
    (template / f"template/{old}.jinja").rename(template / f"template/{new}.jinja")
    edit(template / f"template/{new}.jinja", lambda s: s + "\nReviewed at every release.\n")
    config = yaml.safe_load((template / "copier.yml").read_text())
    config["_migrations"] = [
        {
            "version": "1.1.0",
            "when": "{{ _stage == 'before' }}",
            "command": [
                "{{ _copier_python }}",
                "{{ _copier_conf.src_path }}/hooks/move_path.py",
                old,
                new,
            ],
        }
    ]
    (template / "copier.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    commit_all(template, "move the architecture page")
    git("tag", "1.1.0", cwd=template)

    project = copy_project(template, tmp_path / "p", "1.0.0", architecture="python-api", ml="none")
    edit(project / old, lambda s: s + "\nOur own notes on the architecture.\n")
    commit_all(project, "our notes")

    # The migration runs code from the template: the one kind of update that needs trust.
    copier.run_update(
        project, defaults=True, overwrite=True, vcs_ref="1.1.0", quiet=True, unsafe=True
    )

    moved = (project / new).read_text()
    assert not (project / old).exists()
    assert "Our own notes on the architecture." in moved
    assert "Reviewed at every release." in moved
