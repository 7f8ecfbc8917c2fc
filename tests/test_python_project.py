"""Generated-project tier for the Python service: install from the committed uv.lock, migrate a
throwaway PostgreSQL database, run the service's own check (ruff, mypy, its pytest against the real
Redis and PostgreSQL with a real Celery worker), then run the API and the worker as real processes
and drive them over HTTP. Variants are few on purpose: each costs an install and a check on a small
machine."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from conftest import run, run_once
from processes import (
    Process,
    replay_readme_examples,
    routes_without_example,
    start_process,
    wait_until,
)

from harness.commands import celery_worker_command
from harness.net import free_port, http, post_json
from harness.toolchain import tool_env

pytestmark = pytest.mark.generated

# The default database (postgres) comes with FULL; the curated matrix checks `none` on the smaller
# service rather than adding renders.
FULL = {"architecture": "python-api", "ml": "core"}
JOBS_WITHOUT_MODEL = {
    "architecture": "python-api",
    "ml": "none",
    "background_jobs": True,
    "database": "none",
}
HYBRID = {"architecture": "hybrid"}

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
# Waits end as soon as the condition holds; the bounds only keep a broken run from hanging.
STARTUP_WAIT = 90.0
JOB_WAIT = 60.0
SHUTDOWN_GRACE = 30.0


def service_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The generated service's environment: the test Redis and a private job queue."""
    return {
        "REDIS_URL": redis_url,
        "JOBS_QUEUE": f"tier2-{uuid.uuid4().hex[:12]}",
        **extra,
    }


def installed(service: Path, redis_url: str) -> Path:
    run_once(["uv", "sync", "--locked"], service, env=service_env(redis_url))
    return service


@pytest.fixture(scope="session")
def full_service(rendered_project: Callable[..., Path], redis_url: str) -> Path:
    """python-api with ML core (and PostgreSQL, the default), installed from its lockfile."""
    return installed(rendered_project(**FULL) / "services" / "api", redis_url)


@pytest.fixture(scope="session")
def full_database(full_service: Path, create_database: Callable[[str], str], redis_url: str) -> str:
    """A throwaway database migrated from empty by the service's own `make migrate`."""
    url = create_database("python_api")
    run(["make", "migrate"], full_service, env=service_env(redis_url, DATABASE_URL=url))
    return url


# Processes ########################################################################################


@dataclass
class RunningService:
    url: str
    api: Process
    worker: Process | None


@pytest.fixture
def start_service(
    full_service: Path, full_database: str, redis_url: str, tmp_path: Path
) -> Iterator[Callable[..., RunningService]]:
    """`start(worker=True)`: start the API (the image's `python -m app`) and the Celery worker on
    the migrated database, wait until ready. Every start of one test shares its queue."""
    started: list[Process] = []
    venv_bin = full_service / ".venv" / "bin"
    env = service_env(redis_url, DATABASE_URL=full_database)

    def spawn(name: str, command: list[str]) -> Process:
        log_name = f"{name}-{len(started)}"
        process = start_process(name, command, full_service, tool_env(env), tmp_path, log_name)
        started.append(process)
        return process

    def start(*, worker: bool = True) -> RunningService:
        port = free_port()
        api = spawn(
            "api",
            [str(venv_bin / "python"), "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
        )
        celery = None
        if worker:
            celery = spawn("worker", celery_worker_command(full_service, "tier2"))
        service = RunningService(f"http://127.0.0.1:{port}", api, celery)
        wait_until(
            lambda: (
                http("GET", f"{service.url}/readyz").status == 200
                and (celery is None or " ready." in celery.log.read_text())
            ),
            "the API and the worker to be ready",
            [api] + ([celery] if celery else []),
            timeout=STARTUP_WAIT,
            interval=0.2,
        )
        return service

    yield start
    for process in started:
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait()


# Tests ############################################################################################


class TestFullService:
    def test_full_service_passes_its_own_check(
        self, full_service: Path, redis_url: str, postgres_url: str
    ) -> None:
        """`make check` (ruff, format, mypy strict, pytest with a real worker and a database of
        its own on the server) passes as rendered."""
        run(["make", "check"], full_service, env=service_env(redis_url, DATABASE_URL=postgres_url))

    def test_make_migrate_creates_the_tables_from_empty(self, full_database: str) -> None:
        """`make migrate` on an empty database creates the tables and records the head revision."""
        with psycopg.connect(full_database) as connection:
            tables = connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
            version = connection.execute("SELECT version_num FROM alembic_version").fetchone()

        assert [("alembic_version",), ("items",), ("job_submissions",)] == tables
        assert ("0002",) == version

    def test_processes_predict_run_jobs_and_answer_problems(
        self, start_service: Callable[..., RunningService]
    ) -> None:
        """Over HTTP: predictions from the real model, a job run by the worker, problem bodies."""
        service = start_service()

        reply = post_json(f"{service.url}/v1/predictions", {"instances": [SETOSA]})
        assert 200 == reply.status
        body = reply.json()
        assert "setosa" == body["predictions"][0]["label"]
        assert "1.0.0" == body["model_version"]

        job = {"type": "ml-batch-predict", "data": {"instances": [SETOSA] * 3}}
        reply = post_json(f"{service.url}/v1/jobs", job, **{"Idempotency-Key": uuid.uuid4().hex})
        assert 202 == reply.status
        location, job = reply.headers["location"], reply.json()
        deadline = time.monotonic() + JOB_WAIT
        while job["state"] not in {"completed", "failed"} and time.monotonic() < deadline:
            time.sleep(0.2)
            job = http("GET", f"{service.url}{location}").json()
        assert service.worker is not None
        assert "completed" == job["state"], f"{job}\n{service.worker.output()}"
        assert ["setosa"] * 3 == [p["label"] for p in job["result"]["predictions"]]

        reply = http(
            "POST", f"{service.url}/v1/items", b'{"name": ', {"content-type": "application/json"}
        )
        assert 422 == reply.status
        assert "application/problem+json" == reply.content_type
        assert "json_invalid" == reply.json()["errors"][0]["type"]

    def test_readme_examples_answer_as_documented(
        self, full_service: Path, start_service: Callable[..., RunningService]
    ) -> None:
        """Every route has a curl example in the README, and each one succeeds against the service."""
        readme = (full_service / "README.md").read_text()
        openapi = json.loads((full_service / "contracts/openapi.json").read_text())
        assert [] == routes_without_example(openapi, readme)
        service = start_service()
        replies = replay_readme_examples(readme, service.url)
        assert [] == [(m, p, r.status, r.body[:300]) for m, p, r in replies if r.status >= 400]

    def test_processes_keep_items_in_postgresql(
        self, start_service: Callable[..., RunningService]
    ) -> None:
        """Over HTTP: items are created and read back from the database; a name taken in another
        case is a 409 problem."""
        service = start_service(worker=False)
        name = f"Lamp {uuid.uuid4().hex[:8]}"

        created = post_json(f"{service.url}/v1/items", {"name": name})
        assert 201 == created.status, created.body
        item = created.json()
        assert item == http("GET", f"{service.url}/v1/items/{item['id']}").json()
        page = http("GET", f"{service.url}/v1/items?limit=100").json()
        assert item in page["data"]

        duplicate = post_json(f"{service.url}/v1/items", {"name": name.upper()})
        assert 409 == duplicate.status
        assert "application/problem+json" == duplicate.content_type
        assert f'An item named "{name.upper()}" already exists.' == duplicate.json()["detail"]

    def test_processes_return_the_same_job_after_an_api_restart(
        self, start_service: Callable[..., RunningService]
    ) -> None:
        """A job submitted again with its Idempotency-Key after the API restarted is the same
        job (200), not a second one: the key is in PostgreSQL, not in the process."""
        first = start_service()
        key = {"Idempotency-Key": uuid.uuid4().hex}
        job = {"type": "ml-batch-predict", "data": {"instances": [SETOSA]}}
        submitted = post_json(f"{first.url}/v1/jobs", job, **key)
        assert 202 == submitted.status, submitted.body
        assert 0 == first.api.stop(SHUTDOWN_GRACE), first.api.output()

        restarted = start_service(worker=False)
        again = post_json(f"{restarted.url}/v1/jobs", job, **key)

        assert 200 == again.status, again.body
        assert submitted.json()["id"] == again.json()["id"]

    def test_processes_exit_cleanly_on_sigterm(
        self, start_service: Callable[..., RunningService]
    ) -> None:
        """SIGTERM stops the API and the worker with exit code 0 within the grace period."""
        service = start_service()
        assert service.worker is not None

        codes = {
            "api": service.api.stop(SHUTDOWN_GRACE),
            "worker": service.worker.stop(SHUTDOWN_GRACE),
        }

        assert {"api": 0, "worker": 0} == codes, (
            f"{service.api.output()}\n{service.worker.output()}"
        )


def test_service_without_model_passes_its_own_check(
    rendered_project: Callable[..., Path], redis_url: str
) -> None:
    """With jobs but no ML and no database, the service (CPU-bound example job, no onnxruntime,
    items in memory, idempotency keys in Redis) checks clean."""
    service = installed(rendered_project(**JOBS_WITHOUT_MODEL) / "services" / "api", redis_url)

    run(["make", "check"], service, env=service_env(redis_url))

    assert not (service / "models").exists()
    assert not (service / "migrations").exists()
    lock = (service / "uv.lock").read_text()
    assert "onnxruntime" not in lock
    assert "sqlalchemy" not in lock


def test_hybrid_renders_the_same_service_at_services_ml(
    rendered_project: Callable[..., Path],
) -> None:
    """hybrid puts the same Python service, model included, at services/ml under its own name,
    without a database: the gateway owns the tables and the ML service stays stateless."""
    python_api = rendered_project(**FULL, database="none") / "services" / "api"
    hybrid = rendered_project(**HYBRID) / "services" / "ml"

    def sources(root: Path) -> dict[str, str]:
        return {
            str(path.relative_to(root)): path.read_text()
            for path in sorted((root / "src").rglob("*.py"))
        }

    assert (hybrid / "models" / "iris.onnx").read_bytes() == (
        python_api / "models" / "iris.onnx"
    ).read_bytes()
    assert 'name = "demo-shop-ml"' in (hybrid / "pyproject.toml").read_text()
    assert not (hybrid / "migrations").exists()
    assert "DATABASE_URL" not in (hybrid / ".env.example").read_text()
    assert "demo-shop-ml" in (hybrid / "uv.lock").read_text()
    ml, api = sources(hybrid), sources(python_api)
    # The public API's `digest` job is not the ML service's: it runs only the model's jobs.
    assert api.keys() - ml.keys() == {"src/app/jobs/digest.py"}
    assert ml.keys() <= api.keys()
    # Only the title, the rate limit's default, the telemetry service names and the list of job
    # types differ: the hybrid service is the internal ML service, which hears only the gateway
    # (one address) and leaves limiting clients to it.
    differing = [name for name in ml if ml[name] != api[name]]
    assert differing == [
        "src/app/core/config.py",
        "src/app/core/telemetry.py",
        "src/app/jobs/kinds.py",
    ]
    assert "rate_limit_enabled: bool = False" in ml["src/app/core/config.py"]
    assert 'SERVICE_TITLE = "Demo Shop ML service"' in ml["src/app/core/config.py"]
    assert 'API_SERVICE_NAME = "demo-shop-ml"' in ml["src/app/core/telemetry.py"]
    assert 'WORKER_SERVICE_NAME = "demo-shop-ml-worker"' in ml["src/app/core/telemetry.py"]
