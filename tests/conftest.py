"""Fixtures shared by every tier: rendering the template, the toolchains, real Redis and PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from pytest_copie.plugin import Copie

from harness import net, oidc
from harness.databases import drop_databases, new_database
from harness.repo import BASE_ANSWERS, TEMPLATE_ROOT, commit_all, git, render
from harness.toolchain import tool_env


def copied(copie: Copie, **answers: Any) -> Path:
    """Render this working tree with pytest-copie's `copie` (or `copie_session`) fixture, with
    BASE_ANSWERS plus `answers` and defaults for the rest; Copier's error, if any, is raised.

    pytest-copie renders as `copier copy --trust` would (`unsafe=True`): the tests that render
    through `render` (Copier's API, without trust) are the ones holding the template to needing
    none.
    """
    result = copie.copy(extra_answers={**BASE_ANSWERS, **answers}, template_dir=TEMPLATE_ROOT)
    if result.exception is not None:
        raise result.exception
    assert result.project_dir is not None
    return result.project_dir


def cached_renders(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """A `render(**answers)` that renders each distinct set of answers once and then reuses it."""
    cache: dict[tuple[tuple[str, Any], ...], Path] = {}

    def _rendered(**answers: Any) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in cache:
            name = "-".join(f"{k}={v}" for k, v in key) or "defaults"
            cache[key] = render(tmp_path_factory.mktemp(name.replace("/", "_")), **answers)
        return cache[key]

    return _rendered


# Renders that together hold every optional file: each architecture with the database, jobs
# and realtime (hybrid, whose services/ml is the python-api service) on, and without database
# and jobs (so manifests without a worker are built too), and python-api's real-time channel
# without jobs (Redis for it alone); deploy on. The answers with a database
# match the generated-project tests', so a full run renders each once. Used by the render tier's
# manifest checks (test_k8s) and the lint tier (test_lint).
COVERING_VARIANTS: dict[str, dict[str, Any]] = {
    "node-api": {"architecture": "node-api"},
    "node-api-no-db-no-jobs": {
        "architecture": "node-api",
        "database": "none",
        "background_jobs": False,
    },
    "python-api": {"architecture": "python-api", "ml": "core"},
    "python-api-no-db-no-jobs": {
        "architecture": "python-api",
        "database": "none",
        "background_jobs": False,
    },
    # Redis for the WebSocket fan-out alone (python_redis without a worker).
    "python-api-realtime-no-db-no-jobs": {
        "architecture": "python-api",
        "database": "none",
        "background_jobs": False,
        "realtime": True,
    },
    "hybrid": {"architecture": "hybrid", "ml": "core", "realtime": True},
    "hybrid-no-db-no-jobs": {
        "architecture": "hybrid",
        "database": "none",
        "background_jobs": False,
    },
}


@pytest.fixture(scope="session")
def rendered_project(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """One render per variant for the whole run, shared by the generated-project tests.

    They install dependencies and run builds in it, so sharing keeps the suite fast; tests must
    not modify the rendered sources.
    """
    return cached_renders(tmp_path_factory)


def run(
    command: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run a generated project's command; on failure, fail the test with the command's output."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env=tool_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` in {cwd} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}",
            pytrace=False,
        )
    return result


# Commands already run by run_once in this session, with the directory they ran in.
_RUN_ONCE: set[tuple[tuple[str, ...], Path]] = set()


def run_once(command: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
    """`run` the first time a test asks for this command in this directory, then never again.

    For installs and builds of the session's shared renders (`npm ci`, `npm run build`, `uv sync
    --locked`): whichever test module needs a project first prepares it for all of them.
    """
    key = (tuple(command), cwd.resolve())
    if key not in _RUN_ONCE:
        run(command, cwd, env)
        _RUN_ONCE.add(key)


@pytest.fixture(scope="session", autouse=True)
def oidc_provider(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[oidc.OpenIdProvider | None]:
    """A real OpenID provider (harness/oidc.py) for the whole run, when it runs any generated-
    project test: every API the tests start gets its OIDC_ISSUER_URL and OIDC_AUDIENCE
    (tests/processes.py), and every request of harness/net.py's `http` carries a valid token
    with every scope unless it sends its own (or `anonymous=True`). The render tier starts none.
    """
    if not any(item.get_closest_marker("generated") for item in request.session.items):
        yield None
        return
    with oidc.OpenIdProvider.start(tmp_path_factory.mktemp("oidc-provider")) as provider:
        oidc.active = provider
        net.default_headers = lambda: {"authorization": f"Bearer {provider.token()}"}
        try:
            yield provider
        finally:
            oidc.active = None
            net.default_headers = None


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis the queue tests use (REDIS_URL, default 127.0.0.1:6379); fails if unreachable."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            reply = conn.recv(64)
    except OSError as error:
        pytest.fail(
            f"Redis is not reachable at {url} ({error}); start one "
            "(redis-server --daemonize yes) or set REDIS_URL.",
            pytrace=False,
        )
    if not reply.startswith(b"+PONG"):
        pytest.fail(f"{url} answered {reply!r} to PING; is it a Redis server?", pytrace=False)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The real PostgreSQL server (DATABASE_URL, default postgres@127.0.0.1:5432); fails if unreachable.

    Tests never use its databases directly: `create_database` makes a throwaway one per use.
    """
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {url} ({str(error).strip()}); start one "
            "(pg_ctlcluster 15 main start) or set DATABASE_URL.",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def create_database(postgres_url: str) -> Iterator[Callable[[str], str]]:
    """`create_database(label)` -> the URL of a new, empty database, dropped when the run ends."""
    created: list[str] = []

    def _create(label: str) -> str:
        created.append(new_database(postgres_url, label))
        return created[-1]

    yield _create
    drop_databases(postgres_url, created)


@pytest.fixture(scope="session")
def services(
    rendered_project: Callable[..., Path],
    redis_url: str,
    create_database: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    """`services("hybrid/ml")`: a `processes.Service`, running for the rest of the session.

    Every HTTP service of every architecture (processes.SERVICES), started on first use from the
    session's shared renders, with a rate limit no test reaches; the fuzz and the conformance
    table use the same processes.
    """
    from processes import RunningServices

    running = RunningServices(
        rendered_project,
        redis_url,
        create_database,
        lambda architecture: tmp_path_factory.mktemp(f"services-{architecture}"),
    )
    yield running
    running.stop()


# Template repositories and projects under git, for the update tier and the migrations.


def edit(path: Path, change: Callable[[str], str]) -> None:
    before = path.read_text()
    after = change(before)
    assert after != before, f"the edit of {path} changed nothing; the test needs updating"
    path.write_text(after)


def copy_project(template: Path, destination: Path, vcs_ref: str, **answers: Any) -> Path:
    """Render `vcs_ref` of `template` and commit it, as a team does right after `copier copy`."""
    render(destination, template, vcs_ref, **answers)
    git("init", "-q", "-b", "main", cwd=destination)
    commit_all(destination, "generated")
    return destination
