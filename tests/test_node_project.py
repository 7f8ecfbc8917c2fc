"""Generated-project tier for node-api: install from the lockfile, migrate a throwaway PostgreSQL
database, run the project's own checks, then run the built API and worker as real processes against
the real Redis and PostgreSQL and drive them over HTTP. Variants are kept few on purpose: each costs
an npm ci, a check and, for two, a build."""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import run, run_once
from processes import (
    Process,
    outputs,
    replay_readme_examples,
    routes_without_example,
    start_process,
    stop_all,
    wait_until,
)

from harness.net import auth_headers, delete_redis_keys, free_port, http, post_json
from harness.oidc import service_env
from harness.toolchain import NODE, tool_env

pytestmark = pytest.mark.generated

# database=postgres is the default; the variant without jobs also proves database=none.
DEFAULT = {"architecture": "node-api"}
REALTIME = {"architecture": "node-api", "realtime": True}
NO_JOBS = {"architecture": "node-api", "background_jobs": False, "database": "none"}


@pytest.fixture(scope="session")
def installed(rendered_project: Callable[..., Path]) -> Callable[..., Path]:
    """Render a variant and `npm ci` it from the committed lockfile, once per session."""

    def _installed(**answers: Any) -> Path:
        project = rendered_project(**answers)
        run_once(["npm", "ci"], cwd=project)
        return project

    return _installed


def npm_check(project: Path, redis_url: str, database_url: str | None = None) -> str:
    """`npm run check`; with a database, the project's tests make (and drop) their own database on
    the server of `database_url`."""
    env = {"REDIS_URL": redis_url, **({"DATABASE_URL": database_url} if database_url else {})}
    return run(["npm", "run", "check"], cwd=project, env=env).stdout


def migrate(project: Path, database_url: str, built: bool = False) -> str:
    """The project's migrations: `npm run migrate` from the sources, or the built image's command."""
    command = [str(NODE), "dist/migrate.js"] if built else ["npm", "run", "migrate"]
    service_dir = project / "services/api"
    return run(command, cwd=service_dir, env={"DATABASE_URL": database_url}).stdout


# Running the built processes ---------------------------------------------------------------------


JSON = {"content-type": "application/json"}


@dataclass
class Services:
    """The built API and worker of one rendered project, running as real node processes."""

    base_url: str
    queue_prefix: str
    api: Process
    worker: Process
    start_api: Callable[[], Process]

    def log_tail(self) -> str:
        return outputs([self.api, self.worker])

    def restart_api(self) -> None:
        """SIGTERM the API (exit 0 expected), start it again and wait until it is ready."""
        assert 0 == self.api.stop(grace=15), self.log_tail()
        self.api = self.start_api()
        self.wait_until_ready()

    def wait_until_ready(self) -> None:
        wait_until(
            lambda: http("GET", f"{self.base_url}/readyz").status == 200,
            "the API to be ready",
            [self.api],
            timeout=20,
        )

    def terminate(self) -> dict[str, int | None]:
        return stop_all([self.api, self.worker], grace=15)


def start_services(project: Path, redis_url: str, database_url: str, logs: Path) -> Services:
    """Start the built API and worker; `database_url` is an already migrated database."""
    port = free_port()
    env = tool_env(
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "QUEUE_PREFIX": f"pytest-{uuid.uuid4().hex}",
            "LOG_LEVEL": "info",
            **service_env(),  # the session's OpenID provider (tests/conftest.py)
        }
    )
    service_dir = project / "services" / "api"
    starts = 0

    def start_api() -> Process:
        nonlocal starts
        starts += 1
        command = [str(NODE), "dist/server.js"]
        return start_process("api", command, service_dir, env, logs, f"api-{starts}")

    worker = start_process("worker", [str(NODE), "dist/worker.js"], service_dir, env, logs)
    services = Services(
        f"http://127.0.0.1:{port}", env["QUEUE_PREFIX"], start_api(), worker, start_api
    )
    services.wait_until_ready()
    return services


def stop_services(services: Services, redis_url: str) -> None:
    services.terminate()
    delete_redis_keys(redis_url, f"{services.queue_prefix}:*")


def wait_for_job(services: Services, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = {}

    def finished() -> bool:
        nonlocal job
        reply = http("GET", f"{services.base_url}/v1/jobs/{job_id}")
        assert reply.status == 200, reply.body
        job = reply.json()
        return job["state"] in ("completed", "failed")

    wait_until(finished, f"job {job_id}", [services.api, services.worker], timeout=60)
    return job


def expected_digest(text: str, rounds: int) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()
    for _ in range(rounds - 1):
        digest = hashlib.sha256(digest.encode()).hexdigest()
    return digest


@pytest.fixture(scope="module")
def default_database(
    installed: Callable[..., Path], create_database: Callable[[str], str]
) -> tuple[str, str]:
    """A throwaway database migrated by `npm run migrate` (from the sources), and its output."""
    url = create_database("node_api")
    return url, migrate(installed(**DEFAULT), url)


@pytest.fixture(scope="module")
def default_services(
    installed: Callable[..., Path],
    redis_url: str,
    default_database: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Services]:
    project = installed(**DEFAULT)
    run_once(["npm", "run", "build"], cwd=project)
    logs = tmp_path_factory.mktemp("default-logs")
    services = start_services(project, redis_url, default_database[0], logs)
    yield services
    stop_services(services, redis_url)


@pytest.fixture(scope="module")
def realtime_services(
    installed: Callable[..., Path],
    redis_url: str,
    create_database: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Services]:
    project = installed(**REALTIME)
    run_once(["npm", "run", "build"], cwd=project)
    # This one is migrated by the built image's command, from empty.
    database_url = create_database("node_realtime")
    assert "applied 0001-create-notes" in migrate(project, database_url, built=True)
    logs = tmp_path_factory.mktemp("realtime-logs")
    services = start_services(project, redis_url, database_url, logs)
    yield services
    stop_services(services, redis_url)


# The default node-api (background jobs on) ---------------------------------------------------------


def test_default_node_api_migrates_an_empty_database(
    installed: Callable[..., Path], default_database: tuple[str, str]
) -> None:
    """`npm run migrate` applies every migration to an empty database and says which; run again,
    it applies none."""
    url, first_run = default_database
    assert "applied 0001-create-notes" in first_run, first_run
    assert "applied 0002-create-job-submissions" in first_run, first_run
    assert "(0 applied)" in migrate(installed(**DEFAULT), url)


def test_migrate_exits_non_zero_when_the_database_is_unreachable(
    installed: Callable[..., Path],
) -> None:
    """A deploy step must fail loudly: one line naming the database, exit code 1."""
    project = installed(**DEFAULT)
    result = subprocess.run(
        ["npm", "run", "migrate"],
        cwd=project / "services/api",
        env=tool_env({"DATABASE_URL": "postgresql://postgres:secret@127.0.0.1:1/nowhere"}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "127.0.0.1:1/nowhere: cannot migrate: connect ECONNREFUSED" in result.stderr
    assert "secret" not in result.stdout + result.stderr


def test_default_node_api_passes_its_own_check_against_real_redis_and_postgres(
    installed: Callable[..., Path], redis_url: str, postgres_url: str
) -> None:
    """A fresh render installs from its lockfile and passes lint, typecheck and its own tests (which
    migrate a database of their own from empty and drop it afterwards)."""
    output = npm_check(installed(**DEFAULT), redis_url, postgres_url)
    assert "# fail 0" in output or "ℹ fail 0" in output


def test_built_api_creates_reads_and_lists_notes_in_postgres(default_services: Services) -> None:
    """The built server keeps the example resource in PostgreSQL; a title taken (in any case) is
    a 409 problem, not a 500."""
    url = f"{default_services.base_url}/v1/notes"
    created = post_json(url, {"title": "Ship it", "tags": ["release"]})
    assert created.status == 201, created.body
    note = created.json()
    reply = http("GET", f"{url}/{note['id']}")
    assert (200, note) == (reply.status, reply.json())
    assert [note] == http("GET", f"{url}?tag=release").json()["items"]

    duplicate = post_json(url, {"title": "SHIP IT"})
    assert (409, "application/problem+json") == (
        duplicate.status,
        duplicate.content_type.split(";")[0],
    )
    assert 'A note titled "SHIP IT" already exists.' == duplicate.json()["detail"]


def test_readme_examples_answer_as_documented(
    installed: Callable[..., Path], default_services: Services
) -> None:
    """Every route has a curl example in the README, and each one succeeds against the service."""
    service = installed(**DEFAULT) / "services/api"
    readme = (service / "README.md").read_text()
    assert [] == routes_without_example(json.loads((service / "openapi.json").read_text()), readme)
    replies = replay_readme_examples(readme, default_services.base_url)
    assert [] == [(m, p, r.status, r.body[:300]) for m, p, r in replies if r.status >= 400]


def test_notes_survive_a_restart_of_the_server(default_services: Services) -> None:
    """What the API stored is still there after it restarts (it is in PostgreSQL, not memory)."""
    note = post_json(f"{default_services.base_url}/v1/notes", {"title": "Kept"}).json()
    default_services.restart_api()
    reply = http("GET", f"{default_services.base_url}/v1/notes/{note['id']}")
    assert (200, note) == (reply.status, reply.json())


def test_built_worker_completes_a_job_submitted_through_the_api(
    default_services: Services,
) -> None:
    """A job posted to the API is processed by the separate worker process, result visible."""
    data = {"text": "hello from pytest", "rounds": 5000}
    reply = post_json(f"{default_services.base_url}/v1/jobs", {"type": "digest", "data": data})
    assert reply.status == 202
    job = reply.json()
    finished = wait_for_job(default_services, job["id"])
    assert "completed" == finished["state"], default_services.log_tail()
    assert expected_digest(data["text"], data["rounds"]) == finished["result"]["digest"]


def test_duplicate_job_submit_after_a_server_restart_returns_the_same_job(
    default_services: Services,
) -> None:
    """The idempotency key is stored in PostgreSQL: after a restart the same submit answers 200
    with the first job (run once), and the same key with another job is a 409."""
    url = f"{default_services.base_url}/v1/jobs"
    key = f"order-{uuid.uuid4().hex}"
    submit = {"type": "digest", "data": {"text": "once", "rounds": 10}}
    first = post_json(url, submit, **{"Idempotency-Key": key})
    assert 202 == first.status, first.body
    job_id = first.json()["id"]
    assert "completed" == wait_for_job(default_services, job_id)["state"], (
        default_services.log_tail()
    )

    default_services.restart_api()
    again = post_json(url, submit, **{"Idempotency-Key": f'"{key}"'})
    assert (200, job_id, "completed") == (again.status, again.json()["id"], again.json()["state"])
    other = post_json(
        url, {**submit, "data": {"text": "twice", "rounds": 10}}, **{"Idempotency-Key": key}
    )
    assert 409 == other.status, other.body


def test_built_api_answers_bad_input_with_problem_json(default_services: Services) -> None:
    """Malformed JSON, unknown fields and an oversized body get 4xx application/problem+json."""
    url = f"{default_services.base_url}/v1/notes"
    malformed = http("POST", url, b'{"title": ', JSON)
    unknown = http("POST", url, json.dumps({"title": "x", "isAdmin": True}).encode(), JSON)
    wrong_type = http("POST", url, json.dumps({"title": 42}).encode(), JSON)
    oversized = http(
        "POST", url, json.dumps({"title": "x", "body": "y" * 2_000_000}).encode(), JSON
    )
    for reply, expected in (
        (malformed, 400),
        (unknown, 400),
        (wrong_type, 400),
        (oversized, 413),
    ):
        assert (expected, "application/problem+json") == (
            reply.status,
            reply.content_type.split(";")[0],
        )
        assert expected == reply.json()["status"]


def test_built_api_and_worker_exit_0_on_sigterm(default_services: Services) -> None:
    """SIGTERM stops both processes gracefully (last test using these processes)."""
    assert {"api": 0, "worker": 0} == default_services.terminate(), default_services.log_tail()


# Variants -----------------------------------------------------------------------------------------


def test_realtime_variant_passes_its_own_check(
    installed: Callable[..., Path], redis_url: str, postgres_url: str
) -> None:
    """realtime=true adds the WebSocket channel and its tests, and the project still checks clean."""
    project = installed(**REALTIME)
    assert (project / "services/api/src/routes/v1/jobs/events.ts").is_file()
    npm_check(project, redis_url, postgres_url)


def test_realtime_variant_streams_a_jobs_completion_over_sse(realtime_services: Services) -> None:
    """GET /v1/jobs/:id/events streams progress, then `completed` with the result, then ends."""
    data = {"text": "live", "rounds": 50_000}
    job = post_json(
        f"{realtime_services.base_url}/v1/jobs", {"type": "digest", "data": data}
    ).json()
    request = urllib.request.Request(
        f"{realtime_services.base_url}/v1/jobs/{job['id']}/events", headers=auth_headers()
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = response.read().decode()  # the server ends the stream after the last event
    events = [
        json.loads(line.removeprefix("data: "))
        for line in stream.splitlines()
        if line.startswith("data: ")
    ]
    assert "completed" == events[-1]["event"], stream
    assert expected_digest(data["text"], data["rounds"]) == events[-1]["result"]["digest"]
    assert {"api": 0, "worker": 0} == realtime_services.terminate(), realtime_services.log_tail()


def test_variant_without_jobs_or_database_passes_its_own_check(
    installed: Callable[..., Path], redis_url: str
) -> None:
    """background_jobs=false and database=none render no worker, no BullMQ, no database code or
    driver, and still check clean with no PostgreSQL at all. (ioredis ships in every variant: the
    realtime channel uses it, and one lockfile serves both answers.)"""
    project = installed(**NO_JOBS)
    api = project / "services/api"
    package = json.loads((api / "package.json").read_text())
    assert not {"bullmq", "kysely", "pg"} & set(package["dependencies"])
    assert "@types/pg" not in package["devDependencies"]
    assert "migrate" not in package["scripts"]
    assert not (api / "src/worker.ts").exists()
    assert not (api / "src/database").exists()
    npm_check(project, redis_url)
