"""Generated-project tier for node-api: install from the lockfile, run the project's own checks,
then run the built API and worker as real processes against the real Redis and drive them over
HTTP. Variants are kept few on purpose: each costs an npm ci, a check and, for two, a build."""

from __future__ import annotations

import hashlib
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import NODE, run, tool_env
from processes import (
    Process,
    delete_redis_keys,
    free_port,
    http,
    outputs,
    post_json,
    start_process,
    stop_all,
    wait_until,
)

pytestmark = pytest.mark.generated

DEFAULT = {"architecture": "node-api"}
REALTIME = {"architecture": "node-api", "realtime": True}
NO_JOBS = {"architecture": "node-api", "background_jobs": False}


@pytest.fixture(scope="session")
def installed(rendered_project: Callable[..., Path]) -> Callable[..., Path]:
    """Render a variant and `npm ci` it from the committed lockfile, once per session."""
    done: set[Path] = set()

    def _installed(**answers: Any) -> Path:
        project = rendered_project(**answers)
        if project not in done:
            run(["npm", "ci"], cwd=project)
            done.add(project)
        return project

    return _installed


def npm_check(project: Path, redis_url: str) -> str:
    result = run(["npm", "run", "check"], cwd=project, env={"REDIS_URL": redis_url})
    return result.stdout


# Running the built processes ---------------------------------------------------------------------


JSON = {"content-type": "application/json"}


@dataclass
class Services:
    """The built API and worker of one rendered project, running as real node processes."""

    base_url: str
    queue_prefix: str
    api: Process
    worker: Process

    def log_tail(self) -> str:
        return outputs([self.api, self.worker])

    def terminate(self) -> dict[str, int | None]:
        return stop_all([self.api, self.worker], grace=15)


def start_services(project: Path, redis_url: str, logs: Path) -> Services:
    run(["npm", "run", "build"], cwd=project)
    port = free_port()
    env = tool_env(
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "REDIS_URL": redis_url,
            "QUEUE_PREFIX": f"pytest-{uuid.uuid4().hex}",
            "LOG_LEVEL": "info",
        }
    )
    service_dir = project / "services" / "api"
    api = start_process("api", [str(NODE), "dist/server.js"], service_dir, env, logs)
    worker = start_process("worker", [str(NODE), "dist/worker.js"], service_dir, env, logs)
    services = Services(f"http://127.0.0.1:{port}", env["QUEUE_PREFIX"], api, worker)
    wait_until(
        lambda: http("GET", f"{services.base_url}/readyz").status == 200,
        "the API to be ready",
        [api],
        timeout=20,
    )
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
def default_services(
    installed: Callable[..., Path],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Services]:
    services = start_services(
        installed(**DEFAULT), redis_url, tmp_path_factory.mktemp("default-logs")
    )
    yield services
    stop_services(services, redis_url)


@pytest.fixture(scope="module")
def realtime_services(
    installed: Callable[..., Path],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Services]:
    services = start_services(
        installed(**REALTIME), redis_url, tmp_path_factory.mktemp("realtime-logs")
    )
    yield services
    stop_services(services, redis_url)


# The default node-api (background jobs on) ---------------------------------------------------------


def test_default_node_api_passes_its_own_check_against_real_redis(
    installed: Callable[..., Path], redis_url: str
) -> None:
    """A fresh render installs from its lockfile and passes lint, typecheck and its own tests."""
    output = npm_check(installed(**DEFAULT), redis_url)
    assert "# fail 0" in output or "ℹ fail 0" in output


def test_built_api_creates_and_reads_a_note(default_services: Services) -> None:
    """The built server serves the example resource over real HTTP."""
    created = post_json(
        f"{default_services.base_url}/v1/notes", {"title": "Ship it", "tags": ["release"]}
    )
    assert created.status == 201
    note = created.json()
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
    installed: Callable[..., Path], redis_url: str
) -> None:
    """realtime=true adds the SSE route and its tests, and the project still checks clean."""
    project = installed(**REALTIME)
    assert (project / "services/api/src/routes/v1/jobs/events.ts").is_file()
    npm_check(project, redis_url)


def test_realtime_variant_streams_a_jobs_completion_over_sse(realtime_services: Services) -> None:
    """GET /v1/jobs/:id/events streams progress, then `completed` with the result, then ends."""
    data = {"text": "live", "rounds": 50_000}
    job = post_json(
        f"{realtime_services.base_url}/v1/jobs", {"type": "digest", "data": data}
    ).json()
    request = urllib.request.Request(f"{realtime_services.base_url}/v1/jobs/{job['id']}/events")
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


def test_variant_without_background_jobs_has_no_queue_and_passes_its_own_check(
    installed: Callable[..., Path], redis_url: str
) -> None:
    """background_jobs=false renders no worker, no BullMQ/ioredis, and still checks clean."""
    project = installed(**NO_JOBS)
    package = json.loads((project / "services/api/package.json").read_text())
    assert not {"bullmq", "ioredis"} & set(package["dependencies"])
    assert not (project / "services/api/src/worker.ts").exists()
    npm_check(project, redis_url)
