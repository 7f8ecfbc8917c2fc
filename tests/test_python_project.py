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
from otlp import OtlpReceiver
from processes import (
    Process,
    replay_readme_examples,
    routes_without_example,
    start_process,
    wait_until,
)

from harness import oidc
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
# The WebSocket channel with nothing else that needs Redis (no jobs): redis.asyncio alone.
REALTIME_WITHOUT_JOBS = {
    "architecture": "python-api",
    "ml": "none",
    "background_jobs": False,
    "database": "none",
    "realtime": True,
}

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
# Waits end as soon as the condition holds; the bounds only keep a broken run from hanging.
STARTUP_WAIT = 90.0
JOB_WAIT = 60.0
SHUTDOWN_GRACE = 30.0


def service_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The generated service's environment: the test Redis, a private job queue and, with
    auth=oidc (the default), the session's OpenID provider (tests/conftest.py)."""
    return {
        "REDIS_URL": redis_url,
        "JOBS_QUEUE": f"tier2-{uuid.uuid4().hex[:12]}",
        **oidc.service_env(),
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
    """`start(worker=True, env={})`: start the API (the image's `python -m app`) and the Celery
    worker on the migrated database, with `env` added, wait until ready. Every start of one test
    shares its queue."""
    started: list[Process] = []
    venv_bin = full_service / ".venv" / "bin"
    env = service_env(redis_url, DATABASE_URL=full_database)

    def spawn(name: str, command: list[str], extra: dict[str, str]) -> Process:
        log_name = f"{name}-{len(started)}"
        environment = tool_env({**env, **extra})
        process = start_process(name, command, full_service, environment, tmp_path, log_name)
        started.append(process)
        return process

    def start(*, worker: bool = True, env: dict[str, str] | None = None) -> RunningService:
        port = free_port()
        api = spawn(
            "api",
            [str(venv_bin / "python"), "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
            env or {},
        )
        celery = None
        if worker:
            celery = spawn("worker", celery_worker_command(full_service, "tier2"), env or {})
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

        assert [("alembic_version",), ("job_submissions",), ("notes",)] == tables
        assert ("0006",) == version  # 0004 and, with auth=oidc, 0005 (note owners) merged

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
            "POST", f"{service.url}/v1/notes", b'{"title": ', {"content-type": "application/json"}
        )
        assert 400 == reply.status
        assert "application/problem+json" == reply.content_type
        assert "The body is not valid JSON." == reply.json()["detail"]

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

    def test_processes_keep_notes_in_postgresql(
        self, start_service: Callable[..., RunningService]
    ) -> None:
        """Over HTTP: notes are created and read back from the database; a title taken in
        another case is a 409 problem; the deprecated /v1/items reads them in the old shape."""
        service = start_service(worker=False)
        title = f"Lamp {uuid.uuid4().hex[:8]}"

        created = post_json(f"{service.url}/v1/notes", {"title": title, "tags": ["home"]})
        assert 201 == created.status, created.body
        note = created.json()
        assert note == http("GET", f"{service.url}{created.headers['location']}").json()
        page = http("GET", f"{service.url}/v1/notes?limit=100&tag=home").json()
        assert note in page["items"]

        duplicate = post_json(f"{service.url}/v1/notes", {"title": title.upper()})
        assert 409 == duplicate.status
        assert "application/problem+json" == duplicate.content_type
        assert f'A note titled "{title.upper()}" already exists.' == duplicate.json()["detail"]

        item = http("GET", f"{service.url}/v1/items/{note['id']}")
        assert (title, None) == (item.json()["name"], item.json()["description"])
        assert "deprecation" in item.headers

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

    def test_processes_export_pool_queue_and_job_metrics(
        self, start_service: Callable[..., RunningService]
    ) -> None:
        """With the OTEL_* variables pointed at a real OTLP/HTTP receiver: the API exports its
        queries' spans, the SQLAlchemy pool's connections by state and the Celery queue's length,
        the worker the `messaging.process.duration` of a job it ran, and neither exports a span
        of a probe; both exit 0 on SIGTERM after their last export."""
        otlp = OtlpReceiver()
        try:
            service = start_service(
                env={
                    "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
                    "OTEL_BSP_SCHEDULE_DELAY": "100",
                    "OTEL_METRIC_EXPORT_INTERVAL": "1000",
                }
            )
            assert service.worker is not None
            key = {"Idempotency-Key": uuid.uuid4().hex}
            batch = {"type": "ml-batch-predict", "data": {"instances": [SETOSA]}}
            reply = post_json(f"{service.url}/v1/jobs", batch, **key)
            assert 202 == reply.status, reply.body
            location, job = reply.headers["location"], reply.json()
            deadline = time.monotonic() + JOB_WAIT
            while job["state"] not in {"completed", "failed"} and time.monotonic() < deadline:
                time.sleep(0.2)
                job = http("GET", f"{service.url}{location}").json()
            assert "completed" == job["state"], f"{job}\n{service.worker.output()}"
            wait_until(
                lambda: any(p.name == "celery.queue.length" for p in otlp.metrics),
                "the API's queue gauge",
                [service.api, service.worker],
                timeout=JOB_WAIT,
            )
            codes = [service.api.stop(SHUTDOWN_GRACE), service.worker.stop(SHUTDOWN_GRACE)]
            assert [0, 0] == codes, f"{service.api.output()}\n{service.worker.output()}"
        finally:
            otlp.close()
        seen = {
            (point.service, point.name, str(point.attributes.get("state", "")))
            for point in otlp.metrics
        }
        for expected in [
            ("demo-shop-api", "db.client.connections.usage", "used"),
            ("demo-shop-api", "db.client.connections.usage", "idle"),
            ("demo-shop-api", "celery.queue.length", ""),
            ("demo-shop-api", "http.server.request.duration", ""),
            ("demo-shop-worker", "messaging.process.duration", ""),
        ]:
            assert expected in seen, sorted(seen)
        probes = [s for s in otlp.spans if s.attributes.get("url.path") in ("/healthz", "/readyz")]
        assert [] == probes, probes
        assert any(span.service == "demo-shop-worker" for span in otlp.spans), otlp.spans
        queries = [  # SQLAlchemy's spans (db.system, or db.system.name in the newer conventions)
            span
            for span in otlp.spans
            if "postgresql"
            in (span.attributes.get("db.system"), span.attributes.get("db.system.name"))
        ]
        assert queries, sorted({(span.service, span.name) for span in otlp.spans})
        assert not otlp.errors, otlp.errors


def test_service_without_model_passes_its_own_check(
    rendered_project: Callable[..., Path], redis_url: str
) -> None:
    """With jobs but no ML and no database, the service (CPU-bound example job, no onnxruntime,
    notes in memory, idempotency keys in Redis) checks clean."""
    service = installed(rendered_project(**JOBS_WITHOUT_MODEL) / "services" / "api", redis_url)

    run(["make", "check"], service, env=service_env(redis_url))

    assert not (service / "models").exists()
    assert not (service / "migrations").exists()
    lock = (service / "uv.lock").read_text()
    assert "onnxruntime" not in lock
    assert "sqlalchemy" not in lock


def test_realtime_service_passes_its_own_check(
    rendered_project: Callable[..., Path], redis_url: str
) -> None:
    """With realtime and no jobs, the service (GET /v1/realtime on the Redis of REDIS_URL, served
    by the real uvicorn to real WebSocket clients in its tests/test_realtime.py) checks clean."""
    service = installed(rendered_project(**REALTIME_WITHOUT_JOBS) / "services" / "api", redis_url)

    run(["make", "check"], service, env=service_env(redis_url))

    assert (service / "tests" / "test_realtime.py").is_file()
    assert "celery" not in (service / "uv.lock").read_text()


def test_hybrid_renders_the_same_service_at_services_ml(
    rendered_project: Callable[..., Path],
) -> None:
    """hybrid puts the same Python service, model included, at services/ml under its own name,
    without a database (the gateway owns the tables and the ML service stays stateless) and
    without the public example domain (the gateway serves notes)."""
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
    # The public API serves notes (and the deprecated items) and the `digest` job, and checks
    # bearer tokens (auth=oidc); the ML service runs only the model's jobs, and logs the caller
    # the gateway names.
    public_api = {
        "src/app/notes.py",
        "src/app/parts/store.py",
        "src/app/api/routes/notes.py",
        "src/app/api/routes/items_deprecated.py",
        "src/app/jobs/digest.py",
        "src/app/core/authentication.py",
        "src/app/core/settings/auth.py",
        "src/app/parts/auth.py",
    }
    assert public_api == api.keys() - ml.keys()
    assert {"src/app/parts/enduser.py"} == ml.keys() - api.keys()
    # Only the lists of routers, parts and job types, who may call (app.api.access), the title,
    # the rate limit's default and the telemetry service names differ: the hybrid service is the
    # internal ML service, which hears only the gateway (one address) and leaves limiting clients
    # and checking tokens to it.
    differing = [name for name in ml if name in api and ml[name] != api[name]]
    assert differing == [
        "src/app/api/access.py",
        "src/app/api/main.py",
        "src/app/core/config.py",
        "src/app/core/settings/service.py",
        "src/app/core/telemetry.py",
        "src/app/jobs/kinds.py",
        "src/app/parts/main.py",
    ]
    assert "rate_limit_enabled: bool = False" in ml["src/app/core/settings/service.py"]
    assert 'SERVICE_TITLE = "Demo Shop ML service"' in ml["src/app/core/config.py"]
    assert "notes" not in ml["src/app/api/main.py"] + ml["src/app/parts/main.py"]
    assert 'API_SERVICE_NAME = "demo-shop-ml"' in ml["src/app/core/telemetry.py"]
    assert 'WORKER_SERVICE_NAME = "demo-shop-ml-worker"' in ml["src/app/core/telemetry.py"]
