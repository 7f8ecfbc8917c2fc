"""A generated project's first day: the local runs serve what the READMEs promise without copying
.env.example, and the documented commands fail in a line or two that say what is wrong and what
to do, not in a traceback, on the mistakes a team makes first (no database yet, PostgreSQL not
started, a wrong setting)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from conftest import run_once
from processes import kill_process_group, start_process_group, wait_until
from test_python_project import FULL, installed

from harness.net import free_port, http
from harness.toolchain import tool_env

pytestmark = pytest.mark.generated


def failure(command: list[str], cwd: Path, **env: str) -> list[str]:
    """Run a command that must fail; return the lines it printed, without make's own."""
    result = subprocess.run(
        command, cwd=cwd, env=tool_env(env), capture_output=True, text=True, timeout=120
    )
    assert 0 != result.returncode
    printed = (result.stdout + result.stderr).splitlines()
    # make echoes the command it runs and names the target that failed; uv may say it is syncing.
    return [
        line
        for line in printed
        if line.strip() and not line.startswith(("make: ***", "uv run "))
    ]


@pytest.fixture(scope="module")
def service(rendered_project: Callable[..., Path], redis_url: str) -> Path:
    return installed(rendered_project(**FULL) / "services" / "api", redis_url)


def database_url(server_url: str, database: str = "", port: int | None = None) -> str:
    parts = urlsplit(server_url)
    netloc = parts.netloc if port is None else f"{parts.netloc.rsplit(':', 1)[0]}:{port}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database or parts.path[1:]}"))


class TestMakeMigrate:
    def test_missing_database_is_named_with_the_command_that_creates_it(
        self, service: Path, postgres_url: str
    ) -> None:
        """A database that does not exist yet: where, why, and `createdb <name>`."""
        url = database_url(postgres_url, "scaffold_never_created")
        printed = failure(["make", "migrate"], service, DATABASE_URL=url)
        assert 2 == len(printed), printed
        assert 'database "scaffold_never_created" does not exist' in printed[0]
        assert "createdb scaffold_never_created" in printed[1]

    def test_server_that_is_not_running_is_named(self, service: Path, postgres_url: str) -> None:
        """Nothing listens at DATABASE_URL: the address and "Connection refused", in two lines."""
        port = free_port()
        url = database_url(postgres_url, port=port)
        printed = failure(["make", "migrate"], service, DATABASE_URL=url)
        assert 2 == len(printed), printed
        assert f":{port}/" in printed[0]
        assert "Connection refused" in printed[0]
        assert "Start PostgreSQL" in printed[1]

    def test_password_is_never_printed(self, service: Path, postgres_url: str) -> None:
        """A URL with a password: the message names the database, not the credentials."""
        parts = urlsplit(database_url(postgres_url, "scaffold_never_created"))
        url = urlunsplit(parts._replace(netloc=f"postgres:s3cret-pw@{parts.hostname}:{parts.port}"))
        printed = failure(["make", "migrate"], service, DATABASE_URL=url)
        assert [] == [line for line in printed if "s3cret-pw" in line]

    def test_invalid_setting_is_one_line_naming_the_variable(self, service: Path) -> None:
        printed = failure(["make", "migrate"], service, LOG_LEVEL="loud")
        assert 1 == len(printed), printed
        assert printed[0].startswith("error: invalid configuration: LOG_LEVEL")


@pytest.mark.parametrize(
    "command", [["make", "run"], ["uv", "run", "--locked", "python", "-m", "app"]], ids=" ".join
)
@pytest.mark.parametrize("setting", [("LOG_LEVEL", "loud"), ("BODY_LIMIT", "a lot")])
def test_api_with_an_invalid_setting_stops_in_one_line(
    service: Path, command: list[str], setting: tuple[str, str]
) -> None:
    """`make run` and the image's `python -m app` refuse a bad setting in one line, naming it."""
    name, value = setting
    printed = failure(command, service, **{name: value})
    assert 1 == len(printed), printed
    assert printed[0].startswith(f"error: invalid configuration: {name}")


@pytest.mark.parametrize(
    ("answers", "command"),
    [({"architecture": "node-api"}, ["npm", "run", "dev"]), (FULL, ["make", "run"])],
    ids=["npm run dev", "make run"],
)
def test_local_run_serves_the_docs_the_readme_promises(
    rendered_project: Callable[..., Path],
    redis_url: str,
    tmp_path: Path,
    answers: dict[str, str],
    command: list[str],
) -> None:
    """`npm run dev` / `make run` in a fresh render (no .env) answer /docs, as the READMEs say."""
    project = rendered_project(**answers)
    if command[0] == "npm":
        run_once(["npm", "ci"], cwd=project)
        cwd = project
    else:
        cwd = installed(project / "services" / "api", redis_url)
    assert not (project / "services/api/.env").exists()
    port = free_port()
    env = tool_env({"PORT": str(port), "REDIS_URL": redis_url})
    process = start_process_group("dev", command, cwd, env, tmp_path)
    try:
        wait_until(
            lambda: http("GET", f"http://127.0.0.1:{port}/docs").status == 200,
            f"{' '.join(command)} serving /docs",
            [process],
        )
    finally:
        kill_process_group(process)
