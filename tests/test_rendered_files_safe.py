"""Render tier: what a generated project holds is safe to commit and to run. No secrets, no `.env`,
sane file modes, nothing outside the destination.

The one credential a project ships is the compose PostgreSQL password `postgres` (and the URLs
built from it): a documented local-only default, overridable with POSTGRES_PASSWORD, for a
database that compose does not publish. Tests may hold an obviously fake secret to prove it never
leaks into a response; that is listed below too, with the file it lives in.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import cached_renders, render

# The defaults (database=postgres, deploy=kubernetes) are the richest renders of each architecture.
VARIANTS: dict[str, dict[str, Any]] = {
    "node-api": {"architecture": "node-api", "realtime": True},
    "python-api": {"architecture": "python-api", "ml": "core", "realtime": True},
    "hybrid": {"architecture": "hybrid", "ml": "core", "realtime": True},
}

# Files meant to be run directly; every other file is rendered without execute bits.
EXECUTABLES = {"bench/bench.sh", ".github/no-conflict-markers.sh"}

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret key": re.compile(r"aws_secret_access_key\s*[=:]\s*\S+", re.IGNORECASE),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "API key": re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}"),
}
# user:password@ in any URL.
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"`]+:([^@\s/'\"`]+)@", re.IGNORECASE)
# A secret-named setting given a value, in configuration files (not code): an environment
# variable (DB_PASSWORD=..., - API_TOKEN=...) or a lower-case key (password: ...).
SECRET_SETTING = re.compile(
    r"^\s*-?\s*([A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)"
    r"|[a-z0-9_]*(?:password|passwd|secret|token|api_key))\s*[=:]\s*['\"]?([^'\"\s#]*)",
    re.MULTILINE,
)
CONFIG_FILE = re.compile(r"(\.env\.example|\.ya?ml|\.json|\.toml|Dockerfile|\.cfg|\.ini)$")
# Values a secret-named setting may have: empty, a reference to the environment, or a GitHub
# Actions expression (`token: ${{ secrets.X }}`, resolved by the runner; the scan sees `${{`).
UNSET = re.compile(r"^(|\$\{[A-Z0-9_]+(:?-[^}]*)?\}|\$[A-Z0-9_]+|\$\{\{)$")

# (file name, value): the documented local-dev defaults and test fixtures, nothing else.
ALLOWED = {
    # compose's PostgreSQL: local only, unpublished, overridable with POSTGRES_PASSWORD.
    ("compose.yaml", "${POSTGRES_PASSWORD:-postgres}"),
    (".env.example", "postgres"),
    ("README.md", "postgres"),
    # The services' DATABASE_URL default: that same local database, for runs without a .env.
    ("config.ts", "postgres"),
    ("database.py", "postgres"),
    # A fake secret the error-handler test proves never reaches a client.
    ("error-handler.test.ts", "hunter2"),
}
# Test suites and CI reach the local test database with the same local default.
TEST_DIRS = ("/test/", "/tests/", ".github/workflows/")


@pytest.fixture(scope="module")
def rendered_project(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    return cached_renders(tmp_path_factory)


@pytest.fixture(params=sorted(VARIANTS), scope="module")
def project(request: pytest.FixtureRequest, rendered_project: Callable[..., Path]) -> Path:
    return rendered_project(**VARIANTS[request.param])


def text_files(project: Path) -> dict[str, str]:
    files = {}
    for path in sorted(project.rglob("*")):
        if path.is_file() and not path.is_symlink():
            try:
                files[path.relative_to(project).as_posix()] = path.read_text()
            except UnicodeDecodeError:
                continue  # the ONNX model
    return files


# The placeholder of example URLs in docs and messages (postgresql://user:password@host/db).
PLACEHOLDER = "password"


def allowed(name: str, value: str) -> bool:
    if value == PLACEHOLDER or (Path(name).name, value) in ALLOWED:
        return True
    return value == "postgres" and any(part in f"/{name}" for part in TEST_DIRS)


def secrets_in(files: dict[str, str]) -> list[str]:
    found = []
    for name, text in files.items():
        found += [f"{name}: {kind}" for kind, rx in SECRET_PATTERNS.items() if rx.search(text)]
        for match in URL_PASSWORD.finditer(text):
            if not allowed(name, match.group(1)):
                found.append(f"{name}: password in URL {match.group(0)!r}")
        if CONFIG_FILE.search(name):
            for key, value in SECRET_SETTING.findall(text):
                if not UNSET.match(value) and not allowed(name, value):
                    found.append(f"{name}: {key}={value!r}")
    return found


class TestNoSecrets:
    def test_no_file_holds_a_secret(self, project: Path) -> None:
        """No key, token or password, besides the documented local-dev defaults, in any file."""
        assert [] == secrets_in(text_files(project))

    @pytest.mark.parametrize(
        ("name", "text"),
        [
            ("deploy/key.pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIE..."),
            ("src/aws.ts", "const id = 'AKIAIOSFODNN7EXAMPLE';"),
            ("compose.yaml", "DATABASE_URL: postgresql://app:s3cr3t@db:5432/app"),
            (".env.example", "JWT_SECRET=change-me-please"),
            ("deploy/values.yaml", "  password: hunter2"),
            ("deploy/k8s/secret.yaml", "  POSTGRES_PASSWORD: postgres"),
            ("src/llm.py", 'KEY = "sk-ant-abcdefghijklmnopqrstuvwxyz0123"'),
        ],
    )
    def test_the_scan_finds_planted_secrets(self, name: str, text: str) -> None:
        """Each kind of secret the scan looks for is reported when planted."""
        assert secrets_in({name: text})

    def test_no_env_file_is_generated(self, project: Path) -> None:
        """Only `.env.example` files are rendered, never a `.env` a real value could go into."""
        env_files = sorted(p.name for p in project.rglob(".env*"))
        assert env_files and {".env.example"} == set(env_files)

    def test_env_files_are_kept_out_of_git_and_images(self, project: Path) -> None:
        """`.env` is git-ignored, and every Docker build context ignores it."""
        assert ".env" in (project / ".gitignore").read_text().split()
        for dockerignore in project.rglob(".dockerignore"):
            assert {".env", "**/.env"} & set(dockerignore.read_text().split()), dockerignore


class TestFilesystem:
    def test_only_the_listed_files_are_executable(self, project: Path) -> None:
        """Execute bits only on the scripts meant to be run."""
        executable = {
            p.relative_to(project).as_posix()
            for p in project.rglob("*")
            if p.is_file() and p.stat().st_mode & 0o111
        }
        assert EXECUTABLES == executable

    def test_nothing_is_world_writable(self, project: Path) -> None:
        """Files carry the template's modes (0644, or 0755 for the executables); directories
        get exactly what the umask allows, so nothing is writable by others under the usual 022."""
        umask = os.umask(0)
        os.umask(umask)
        wrong = [
            f"{p.relative_to(project)} {stat.filemode(p.stat().st_mode)}"
            for p in project.rglob("*")
            if p.stat().st_mode & 0o777
            != ((0o755 if p.stat().st_mode & 0o111 else 0o644) if p.is_file() else 0o777 & ~umask)
        ]
        assert [] == wrong

    def test_every_path_stays_inside_the_destination(self, project: Path) -> None:
        """No symlink, and no path that resolves outside the project."""
        root = project.resolve()
        escaping = [
            str(p.relative_to(project))
            for p in project.rglob("*")
            if p.is_symlink() or not p.resolve().is_relative_to(root)
        ]
        assert [] == escaping


def test_crafted_answers_write_nothing_beside_the_destination(tmp_path: Path) -> None:
    """Path tricks in every free-text answer still render only inside the destination."""
    destination = tmp_path / "parent" / "project"
    destination.parent.mkdir()
    render(
        destination,
        architecture="hybrid",
        project_name="../../../tmp/x",
        description="Writes to ../../etc/passwd and /tmp/x.",
        author_name="../..",
    )

    assert ["project"] == [p.name for p in destination.parent.iterdir()]
    assert ["parent"] == [p.name for p in tmp_path.iterdir()]
    assert all(p.resolve().is_relative_to(destination.resolve()) for p in destination.rglob("*"))


def test_every_image_runs_as_a_non_root_user(project: Path) -> None:
    """The last stage of every Dockerfile switches to an unprivileged user before its command."""
    dockerfiles = sorted(project.rglob("Dockerfile"))
    assert dockerfiles
    for dockerfile in dockerfiles:
        last_stage = dockerfile.read_text().split("\nFROM ")[-1]
        users = re.findall(r"^USER\s+(\S+)", last_stage, re.MULTILINE)
        assert users and users[-1] not in {"root", "0", "0:0"}, dockerfile


def test_security_policy_names_the_contact_and_each_services_defaults(project: Path) -> None:
    """SECURITY.md gives the author's address for reports, and a defaults table per service."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    policy = (project / "SECURITY.md").read_text()

    assert f"Email **{answers['author_email']}**" in policy
    services = sorted(p.name for p in (project / "services").iterdir())
    assert services == sorted(
        re.findall(r"^### The .+ \(`services/(\w+)`\)$", policy, re.MULTILINE)
    )
    assert policy.count("`DOCS_ENABLED=true`") == len(services)
