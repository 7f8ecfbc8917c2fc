"""Update tier: projects follow the template across releases with `copier update`, losing nothing.

Each test works on a temporary git copy of this template (the working tree as it is) tagged as a
release, plus a next release made from it by the small, realistic edits of `next_release_edits`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from conftest import copy_project, edit, run

from harness.repo import TEMPLATE_ROOT, commit_all, git, snapshot_template


def next_release_edits(template: Path) -> None:
    """What the next release changes: a README heading and section, docs, a static file, lockfiles."""
    edit(
        template / "template/README.md.jinja",
        lambda s: (
            s.replace("\n## Test\n", "\n## Test it\n")
            + "\n## Support\n\nAsk in the #backend channel.\n"
        ),
    )
    edit(
        template / "template/docs/architecture.md.jinja",
        lambda s: s + "\nReviewed at every release.\n",
    )
    edit(template / "template/.editorconfig", lambda s: s + "\n[*.json]\nindent_size = 2\n")
    # The template re-locked its dependencies (the content matters less than that it changed; the
    # template re-formats lockfiles as the tools do, so the change must be one of content).
    for lockfile in (template / "generated/npm").glob("*.json"):
        edit(lockfile, lambda s: s.replace('"version": "0.1.0"', '"version": "0.1.1"', 1))
    for lockfile in (template / "generated/uv").glob("*.lock"):
        edit(lockfile, lambda s: "# re-locked by the next release\n" + s)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repo with two releases: 1.0.0 (this working tree) and 1.1.0 (the edits above)."""
    template = snapshot_template(tmp_path_factory.mktemp("template"))
    git("tag", "1.0.0", cwd=template)
    next_release_edits(template)
    commit_all(template, "next release")
    git("tag", "1.1.0", cwd=template)
    return template


def update_project(project: Path, vcs_ref: str, **answers: Any) -> None:
    copier.run_update(
        project, data=answers, defaults=True, overwrite=True, vcs_ref=vcs_ref, quiet=True
    )


def tree(project: Path) -> dict[str, bytes]:
    return {
        p.relative_to(project).as_posix(): p.read_bytes()
        for p in sorted(project.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(project).parts
    }


ARCHITECTURES = {
    "node-api": {"architecture": "node-api"},
    "python-api": {"architecture": "python-api", "ml": "core", "consumers": "internal"},
    "hybrid": {"architecture": "hybrid", "ml": "core"},
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_update_from_previous_release_equals_fresh_copy(
    releases: Path, tmp_path: Path, name: str
) -> None:
    """An untouched project updated from 1.0.0 to 1.1.0 is the project 1.1.0 renders, lockfiles aside."""
    answers = ARCHITECTURES[name]
    updated = copy_project(releases, tmp_path / "updated", "1.0.0", **answers)
    update_project(updated, "1.1.0")
    fresh = copy_project(releases, tmp_path / "fresh", "1.1.0", **answers)

    updated_files, fresh_files = tree(updated), tree(fresh)
    # Lockfiles belong to the project once generated (_skip_if_exists): an update keeps them and
    # asks for a re-lock, so they are the 1.0.0 ones here by design.
    lockfiles = {path for path in fresh_files if path.endswith(("package-lock.json", "uv.lock"))}
    assert lockfiles, "every architecture ships a lockfile"
    for path in lockfiles:
        assert updated_files.pop(path) != fresh_files.pop(path)
    assert sorted(fresh_files) == sorted(updated_files)
    assert [] == [path for path in fresh_files if fresh_files[path] != updated_files[path]]


def test_user_changes_survive_an_update(releases: Path, tmp_path: Path) -> None:
    """Edits are merged (or marked as conflicts), added files stay, deleted files stay deleted."""
    project = copy_project(releases, tmp_path / "p", "1.0.0", architecture="python-api", ml="none")
    edit(
        project / "README.md", lambda s: s.replace("\n## Test\n", "\n## Testing\n")
    )  # 1.1.0 edits this line too
    edit(
        project / "README.md",
        lambda s: s.replace(
            "\n## Requirements\n", "\nOur on-call rota: see the wiki.\n\n## Requirements\n"
        ),
    )
    (project / "docs/runbook.md").write_text("# Runbook\n\nRestart the worker first.\n")
    (project / "docs/architecture.md").unlink()  # 1.1.0 changes this file
    commit_all(project, "our changes")

    update_project(project, "1.1.0")

    readme = (project / "README.md").read_text()
    assert "Our on-call rota: see the wiki." in readme  # merged
    assert "## Support" in readme  # the release's addition
    assert "<<<<<<< before updating\n## Testing\n" in readme  # both sides of the clash kept
    assert "## Test it\n>>>>>>> after updating" in readme
    assert "# Runbook\n\nRestart the worker first.\n" == (project / "docs/runbook.md").read_text()
    assert not (project / "docs/architecture.md").exists()


def test_edited_lockfile_is_kept_without_conflict(releases: Path, tmp_path: Path) -> None:
    """A lockfile the team re-locked is never overwritten or marked up by an update."""
    project = copy_project(releases, tmp_path / "p", "1.0.0", architecture="hybrid", ml="core")
    lock = json.loads((project / "package-lock.json").read_text())
    lock["packages"]["node_modules/is-number"] = {"version": "7.0.0", "license": "MIT"}
    (project / "package-lock.json").write_text(json.dumps(lock, indent=2) + "\n")
    edit(project / "services/ml/uv.lock", lambda s: s + "\n# re-locked by the team\n")
    commit_all(project, "we added a dependency")
    ours = {
        path: (project / path).read_text() for path in ("package-lock.json", "services/ml/uv.lock")
    }

    update_project(project, "1.1.0")

    for path, content in ours.items():
        assert content == (project / path).read_text()
    assert "" == git(
        "status", "--porcelain", "--", "package-lock.json", "services/ml/uv.lock", cwd=project
    )


REFUSED = [
    ("node-api", "python-api", "the Node service in services/api and packages/contracts"),
    ("python-api", "node-api", "the Python service in services/api"),
    ("python-api", "hybrid", "the Python service in services/api"),
    ("hybrid", "node-api", "the ML service in services/ml"),
    ("hybrid", "python-api", "the ML service in services/ml"),
]


@pytest.mark.parametrize(
    ("before", "after", "lost"), REFUSED, ids=[f"{b}->{a}" for b, a, _ in REFUSED]
)
def test_architecture_change_that_would_delete_a_service_is_refused(
    releases: Path, tmp_path: Path, before: str, after: str, lost: str
) -> None:
    """The validator names what would be deleted and what to do instead, and nothing is written."""
    project = copy_project(releases, tmp_path / "p", "1.0.0", architecture=before, ml="core")
    with pytest.raises(ValueError) as refused:
        update_project(project, "1.1.0", architecture=after)
    message = str(refused.value)
    assert f"cannot change from {before} to {after}" in message
    assert lost in message
    assert "copier copy" in message
    assert "" == git("status", "--porcelain", cwd=project)
    assert before == yaml.safe_load((project / ".copier-answers.yml").read_text())["architecture"]


TEAM_COMMENT = "// Team note: keep the registration order in step with docs/architecture.md.\n"


@pytest.fixture(scope="module")
def grown_into_hybrid(
    releases: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, bytes]]:
    """A node-api project with the team's changes, updated with --data architecture=hybrid.

    Returns the project and its files before the update.
    """
    project = copy_project(
        releases,
        tmp_path_factory.mktemp("grown") / "p",
        "1.0.0",
        architecture="node-api",
        ml="core",
    )
    edit(project / "README.md", lambda s: s + "\nOur deployment notes.\n")
    edit(project / "services/api/src/app.ts", lambda s: s + TEAM_COMMENT)
    (project / "services/api/src/notes.md").write_text("Team notes.\n")
    commit_all(project, "our changes")
    before = tree(project)
    update_project(project, "1.1.0", architecture="hybrid")
    return project, before


def test_node_api_grows_into_hybrid_without_losing_anything(
    grown_into_hybrid: tuple[Path, dict[str, bytes]],
) -> None:
    """node-api -> hybrid by update adds the ML service and keeps every file and edit the team had."""
    project, before = grown_into_hybrid
    after = tree(project)
    assert set() == set(before) - set(after)
    assert "Our deployment notes." in after["README.md"].decode()
    assert after["services/api/src/app.ts"].decode().endswith(TEAM_COMMENT)
    assert "<<<<<<<" not in after["services/api/src/app.ts"].decode()
    assert b"Team notes.\n" == after["services/api/src/notes.md"]
    assert "services/ml/pyproject.toml" in after
    assert "hybrid" == yaml.safe_load(after[".copier-answers.yml"])["architecture"]


@pytest.mark.generated
def test_node_api_grown_into_hybrid_passes_its_checks(
    grown_into_hybrid: tuple[Path, dict[str, bytes]], redis_url: str, postgres_url: str
) -> None:
    """After the re-lock the update asks for, both halves pass their own checks."""
    project, _ = grown_into_hybrid
    services = {"REDIS_URL": redis_url, "DATABASE_URL": postgres_url}
    run(["npm", "install"], cwd=project)
    run(["npm", "run", "check"], cwd=project, env=services)
    run(["make", "install", "check"], cwd=project / "services/ml", env=services)


# A conflict Copier left: the marker starts a line (README and CI name it inside a sentence).
CONFLICT = re.compile(rb"^<<<<<<< before updating$", re.MULTILINE)

# What adding PostgreSQL brings, per architecture that owns the tables.
DATABASE_FILES = {
    "node-api": "services/api/src/database/migrations",
    "python-api": "services/api/migrations",
}


@pytest.fixture(scope="module")
def grown_a_database(
    releases: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, bytes]]]:
    """Projects made without a database, edited, then updated with --data database=postgres.

    Returns, per architecture, the project and its files before the update.
    """
    grown = {}
    for architecture in DATABASE_FILES:
        project = copy_project(
            releases,
            tmp_path_factory.mktemp(f"db-{architecture}") / "p",
            "1.0.0",
            architecture=architecture,
            ml="none",
            database="none",
        )
        edit(
            project / "README.md",
            lambda s: s.replace(
                "\n## Requirements\n", "\nOur deployment notes.\n\n## Requirements\n"
            ),
        )
        (project / "docs/decisions.md").write_text("Team decisions.\n")
        commit_all(project, "our changes")
        before = tree(project)
        update_project(project, "1.1.0", database="postgres")
        grown[architecture] = (project, before)
    return grown


@pytest.mark.parametrize("architecture", sorted(DATABASE_FILES))
def test_database_is_added_by_update_without_losing_anything(
    grown_a_database: dict[str, tuple[Path, dict[str, bytes]]], architecture: str
) -> None:
    """database none -> postgres only adds: every file and edit stays, migrations arrive."""
    project, before = grown_a_database[architecture]
    after = tree(project)
    assert set() == set(before) - set(after)
    assert "Our deployment notes." in after["README.md"].decode()
    assert b"Team decisions.\n" == after["docs/decisions.md"]
    assert [] == [path for path, text in after.items() if CONFLICT.search(text)]
    assert any(path.startswith(DATABASE_FILES[architecture]) for path in after)
    assert "postgres" == yaml.safe_load(after[".copier-answers.yml"])["database"]
    assert "DATABASE_URL" in after["compose.yaml"].decode()


AUTH_FILE = "services/api/src/plugins/app/authentication.ts"
AUTH_MIGRATION = "services/api/src/database/migrations/0003-add-note-owners.ts"


def test_authentication_is_added_by_update_with_data_auth_oidc(
    releases: Path, tmp_path: Path
) -> None:
    """A project from before the question keeps auth=none on update; `--data auth=oidc` then
    adds the plugin, the owner migration and the settings, losing nothing."""
    answers = {**ADDED_QUESTIONS, "database": "postgres"}
    project = copy_project(releases, tmp_path / "p", "1.0.0", architecture="node-api", **answers)
    before = tree(project)
    update_project(project, "1.1.0", auth="oidc")
    after = tree(project)
    assert set() == set(before) - set(after)
    assert {AUTH_FILE, AUTH_MIGRATION} <= set(after)
    assert "oidc" == yaml.safe_load(after[".copier-answers.yml"])["auth"]
    assert "OIDC_ISSUER_URL" in after["compose.yaml"].decode()
    assert "AUTH_DEVELOPMENT_SUBJECT=dev" in after["services/api/.env.example"].decode()
    assert [] == [path for path, text in after.items() if CONFLICT.search(text)]


def test_removing_the_database_by_update_is_refused(releases: Path, tmp_path: Path) -> None:
    """postgres -> none would delete the migrations: refused, with what to do, nothing written."""
    project = copy_project(releases, tmp_path / "p", "1.0.0", architecture="node-api")
    with pytest.raises(ValueError) as refused:
        update_project(project, "1.1.0", database="none")
    assert "The database cannot be removed by updating" in str(refused.value)
    assert "" == git("status", "--porcelain", cwd=project)


def test_every_question_has_a_default_so_updates_never_ask() -> None:
    """`copier update --defaults` (and bots) never stop at a question added by a later release."""
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    questions = {name: spec for name, spec in config.items() if not name.startswith("_")}
    assert [] == [name for name, spec in questions.items() if "default" not in spec]


# Questions added after the first release, each with the value that reproduces what a project did
# before the question existed. copier.yml gives each the default `added_default(name, before=...)`
# (includes/previous.jinja), so an update of an older project keeps its behaviour. A question added
# later must be listed here, or the first test below fails.
FIRST_RELEASE_QUESTIONS = {
    "project_name", "project_slug", "description", "author_name", "author_email", "license",
    "consumers", "realtime", "ml", "team", "priority", "background_jobs", "architecture",
}  # fmt: skip
ADDED_QUESTIONS = {"database": "none", "deploy": "none", "auth": "none"}


def asked_questions() -> dict[str, dict[str, Any]]:
    """The questions of copier.yml that are asked and saved (not the computed `when: false` ones)."""
    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text())
    return {
        name: spec
        for name, spec in config.items()
        if not name.startswith("_") and spec.get("when", True) is not False
    }


def test_every_added_question_keeps_the_old_behaviour_by_default() -> None:
    """Each question newer than the first release is listed with its old value and uses it as default."""
    questions = asked_questions()
    assert sorted(ADDED_QUESTIONS) == sorted(set(questions) - FIRST_RELEASE_QUESTIONS), (
        "a question was added: list it in ADDED_QUESTIONS with the value that reproduces what "
        "projects did before, and default it with includes/previous.jinja's added_default"
    )
    for name, before in ADDED_QUESTIONS.items():
        assert f"added_default('{name}', before='{before}'," in questions[name]["default"]
        assert before in questions[name]["choices"].values()


def test_update_of_a_project_that_never_answered_keeps_its_behaviour(
    releases: Path, tmp_path: Path
) -> None:
    """A project whose answers lack the added questions gets their old values, new ones the new."""
    project = copy_project(
        releases, tmp_path / "p", "1.0.0", architecture="node-api", **ADDED_QUESTIONS
    )
    edit(
        project / ".copier-answers.yml",
        lambda s: "".join(
            line for line in s.splitlines(keepends=True)
            if line.split(":")[0] not in ADDED_QUESTIONS
        ),
    )  # fmt: skip
    commit_all(project, "answers from before these questions existed")
    before = tree(project)

    update_project(project, "1.1.0")

    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert ADDED_QUESTIONS == {name: answers[name] for name in ADDED_QUESTIONS}
    after = tree(project)
    assert set() == set(before) - set(after)
    assert [] == [path for path in after if path.startswith(DATABASE_FILES["node-api"])]
    assert [] == [path for path in after if path.startswith("deploy/")]
    assert AUTH_FILE not in after
    assert "the API is open" in after["SECURITY.md"].decode()
    fresh = copy_project(releases, tmp_path / "fresh", "1.1.0", architecture="node-api")
    fresh_answers = yaml.safe_load((fresh / ".copier-answers.yml").read_text())
    assert {"database": "postgres", "deploy": "kubernetes", "auth": "oidc"} == {
        name: fresh_answers[name] for name in ADDED_QUESTIONS
    }


def copier_cli(*args: str, cwd: Path) -> str:
    """Run the `copier` command as a user does; return what it printed (stdout and stderr)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "copier"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert 0 == result.returncode, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_update_prints_only_the_next_steps(releases: Path, tmp_path: Path) -> None:
    """`copier update` says which version it updates to and what to do next: no warnings."""
    project = copy_project(releases, tmp_path / "p", "1.0.0", architecture="hybrid", ml="core")
    printed = copier_cli("update", "--defaults", "--vcs-ref", "1.1.0", cwd=project)
    assert [
        "Updating to template version 1.1.0",
        'Updated "Demo Shop" from the template. Next:',
        '  - resolve any conflict markers (git diff; search for "<<<<<<< before updating");',
        "  - re-lock the Node workspaces: npm install",
        "  - re-lock the Python service: (cd services/ml && uv lock)",
        "  - run the checks in README.md, then commit.",
    ] == printed.strip().splitlines()


# The oldest project of each architecture that can exist: the first commit of this repository that
# renders it, with the answers that pick it. One release per architecture keeps the tier short;
# tests/test_update.py's synthetic releases cover the rest.
HISTORY = {
    "node-api": ("02d4a73f80a2d0cedce58ef794c3b0092bfa6100", {}),
    "python-api": (
        "ac6ad3b63a7f9bdfef3a867a6bb95f5255f750e4",
        {"ml": "core", "consumers": "internal"},
    ),
    "hybrid": ("9e28ecdfad3b54c641122e01dfca3a364001c693", {"ml": "core"}),
}
# The team's edits to a source file of each (a comment in the language of the file).
TEAM_SOURCE = {
    "node-api": ("services/api/src/app.ts", TEAM_COMMENT),
    "python-api": ("services/api/src/app/main.py", "# Team note: routers are listed in api/main.py.\n"),
    "hybrid": ("services/ml/src/app/main.py", "# Team note: routers are listed in api/main.py.\n"),
}  # fmt: skip
# Files a release removed on purpose (CHANGELOG says so): an update deletes them, nothing else.
REMOVED_ON_PURPOSE = {
    # The hand-written W3C trace code, replaced by OpenTelemetry's propagation (src/telemetry.ts).
    "services/api/src/ml/trace.ts",
    # python-api's items, replaced by notes (the deprecated /v1/items is items_deprecated.py).
    "services/api/src/app/items.py",
    "services/api/src/app/api/routes/items.py",
    "services/api/tests/test_items.py",
    # The hybrid ML service's items, which the gateway never called.
    "services/ml/src/app/items.py",
    "services/ml/src/app/api/routes/items.py",
    "services/ml/tests/test_items.py",
    # The job API's one module per job type (app/jobs/kinds.py lists them) replaces these.
    "services/api/src/app/jobs/service.py",
    "services/api/src/app/jobs/work.py",
    "services/ml/src/app/jobs/service.py",
    "services/ml/src/app/jobs/work.py",
}
# Templates before includes/previous.jinja read the answers file in Copier's temporary copy of the
# old version too, so updating away from them prints this warning once (later updates are quiet).
LEGACY_WARNING = re.compile(r".*MissingFileWarning: File not found.*\n\s+warnings\.warn\(\n")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository with its history and, committed on top, the working tree under test."""
    template = snapshot_template(tmp_path_factory.mktemp("history") / "template", history=True)
    for name, (commit, _) in HISTORY.items():
        if subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=template).returncode:
            pytest.fail(
                f"commit {commit[:7]} (the first {name} release) is not in this clone; "
                "fetch the full history: git fetch --unshallow",
                pytrace=False,
            )
    return template


@pytest.fixture(scope="module")
def updated_from_history(
    history: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, bytes], str]]:
    """Per architecture: a project from its first release, edited by the team, then updated to the
    working tree with `copier update --defaults`. Returns the project, its files before the update
    and what the update printed."""
    updated = {}
    for name, (commit, answers) in HISTORY.items():
        project = copy_project(
            history, tmp_path_factory.mktemp(name) / "p", commit, architecture=name, **answers
        )
        edit(project / "README.md", lambda s: s + "\nOur deployment notes.\n")
        source, comment = TEAM_SOURCE[name]
        edit(project / source, lambda s, comment=comment: s + comment)
        (project / "docs/runbook.md").write_text("# Runbook\n\nRestart the worker first.\n")
        commit_all(project, "our changes")
        before = tree(project)
        printed = copier_cli("update", "--defaults", "--vcs-ref", "HEAD", cwd=project)
        updated[name] = (project, before, printed)
    return updated


@pytest.mark.parametrize("name", sorted(HISTORY))
def test_first_release_updates_to_this_one_keeping_what_it_does(
    updated_from_history: dict[str, tuple[Path, dict[str, bytes], str]], name: str
) -> None:
    """No conflict, nothing deleted, every edit kept, and the added questions keep the old behaviour."""
    project, before, printed = updated_from_history[name]
    after = tree(project)
    assert [] == [path for path, text in after.items() if CONFLICT.search(text)]
    assert [] == [path for path in after if path.endswith((".rej", ".orig"))]
    assert set() == set(before) - set(after) - REMOVED_ON_PURPOSE
    assert after["README.md"].decode().endswith("\nOur deployment notes.\n")
    source, comment = TEAM_SOURCE[name]
    assert after[source].decode().endswith(comment)
    assert b"# Runbook\n\nRestart the worker first.\n" == after["docs/runbook.md"]
    answers = yaml.safe_load(after[".copier-answers.yml"])
    assert {"architecture": name, **ADDED_QUESTIONS} == {
        key: answers[key] for key in ["architecture", *ADDED_QUESTIONS]
    }
    assert [] == [path for path in after if "migrations" in path or path.startswith("deploy/")]
    assert "Traceback" not in printed
    assert printed.count("Warning") == len(LEGACY_WARNING.findall(printed)) <= 1


@pytest.mark.generated
@pytest.mark.parametrize("name", sorted(HISTORY))
def test_first_release_updated_passes_its_checks_after_the_relock(
    updated_from_history: dict[str, tuple[Path, dict[str, bytes], str]],
    redis_url: str,
    name: str,
) -> None:
    """The re-lock the update message asks for succeeds, then the project's own checks pass.

    Whole checks for node-api and python-api; hybrid (both of them again) only re-locks, to keep
    this tier short.
    """
    project, _, printed = updated_from_history[name]
    if "npm install" in printed:
        run(["npm", "install"], cwd=project)
    for service in ("api", "ml"):
        if f"cd services/{service} && uv lock" in printed:
            run(["uv", "lock"], cwd=project / "services" / service)
    if name == "node-api":
        run(["npm", "run", "check"], cwd=project, env={"REDIS_URL": redis_url})
    if name == "python-api":
        run(["make", "install", "check"], cwd=project / "services/api", env={"REDIS_URL": redis_url})
