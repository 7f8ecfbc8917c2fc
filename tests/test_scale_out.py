"""Generated-project tier: scaling out is safe. For each architecture, two API processes and two
workers of each kind run against one Redis and one migrated PostgreSQL database, as two pods of
each would in deploy/k8s. Jobs submitted through both APIs each run exactly once, to completion;
one idempotency key sent to both APIs at once gets one job; and the Redis list that the KEDA
component scales on holds the jobs waiting (checked while no worker runs)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import run, run_once
from processes import Process, outputs, start_process, stop_all, wait_until

from harness.commands import celery_worker_command
from harness.net import Reply, delete_redis_keys, free_port, http, post_json, redis_command
from harness.oidc import service_env
from harness.toolchain import NODE, tool_env

pytestmark = pytest.mark.generated

# The answers of the other generated-project tests, so a full run renders and installs them once.
NODE_API = {"architecture": "node-api"}
PYTHON_API = {"architecture": "python-api", "ml": "core"}
HYBRID = {"architecture": "hybrid", "ml": "core", "realtime": True}

JOBS = 12  # per kind of job, spread over both APIs
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


# What differs per kind of job ######################################################################


@dataclass
class JobKind:
    """One kind of job: how to submit and read it, the Redis list its waiting jobs are in, and
    the log line its worker writes once per run (`marker`, with the job's id in `id_field`)."""

    name: str
    submit: Callable[[str, str], Reply]  # (API base URL, idempotency key) -> reply
    is_done: Callable[[dict[str, Any]], bool]
    succeeded: Callable[[dict[str, Any]], bool]
    queue_list: str
    marker: str
    id_field: str
    log_id: Callable[[str], str] = lambda job_id: job_id
    workers: list[Process] = field(default_factory=list)


def digest_jobs(prefix: str) -> JobKind:
    """BullMQ `digest` jobs of the Node API (100 000 rounds of SHA-256 each)."""
    data = {"text": "scale out", "rounds": 100_000}
    return JobKind(
        name="digest",
        submit=lambda url, key: post_json(
            f"{url}/v1/jobs", {"type": "digest", "data": data}, **{"Idempotency-Key": key}
        ),
        is_done=lambda job: job["state"] in ("completed", "failed"),
        succeeded=lambda job: job["state"] == "completed" and job["attemptsMade"] <= 1,
        queue_list=f"{prefix}:digest:wait",
        marker="job completed",
        id_field="jobId",
    )


def celery_jobs(queue: str) -> JobKind:
    """Batch predictions of the Python service, run by Celery."""
    return JobKind(
        name="celery",
        submit=lambda url, key: post_json(
            f"{url}/v1/jobs",
            {"type": "ml-batch-predict", "data": {"instances": [SETOSA] * 3}},
            **{"Idempotency-Key": key},
        ),
        is_done=lambda job: job["state"] in ("completed", "failed"),
        succeeded=lambda job: job["state"] == "completed" and job["attemptsMade"] <= 1,
        queue_list=queue,
        marker="job started",
        id_field="job_id",
    )


def gateway_ml_jobs(queue: str) -> JobKind:
    """hybrid: ML jobs submitted to the gateway, which hands them to an ML service (Celery)."""
    data = {"instances": [SETOSA] * 3}
    return JobKind(
        name="ml",
        submit=lambda url, key: post_json(
            f"{url}/v1/jobs", {"type": "ml-batch-predict", "data": data}, **{"Idempotency-Key": key}
        ),
        is_done=lambda job: job["state"] in ("completed", "failed"),
        succeeded=lambda job: job["state"] == "completed",
        queue_list=queue,
        marker="job started",
        id_field="job_id",
        log_id=lambda job_id: job_id.removeprefix("ml:"),
    )


# Running every process twice #####################################################################


@dataclass
class ScaleRun:
    """One test's processes (all stopped at its end), logs and unique Redis names."""

    redis_url: str
    logs: Path
    unique: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, command: list[str], cwd: Path, env: dict[str, str]) -> Process:
        self.processes.append(start_process(name, command, cwd, env, self.logs))
        return self.processes[-1]

    def celery_worker(self, name: str, cwd: Path, env: dict[str, str]) -> Process:
        """A Celery worker started as deploy/k8s starts it, with one pool process."""
        return self.start(name, celery_worker_command(cwd, name), cwd, env)

    def wait_ready(self, url: str) -> None:
        wait_until(lambda: http("GET", f"{url}/readyz").status == 200, url, self.processes)

    def wait_logged(self, process: Process, text: str) -> None:
        what = f"{process.name} to log {text!r}"
        wait_until(lambda: text in process.log.read_text(), what, self.processes)

    def log(self) -> str:
        return outputs(self.processes)


@pytest.fixture
def scale(redis_url: str, tmp_path: Path) -> Iterator[ScaleRun]:
    started = ScaleRun(redis_url, tmp_path)
    yield started
    stop_all(started.processes)
    delete_redis_keys(redis_url, f"scale-{started.unique}*")


def node_installed(project: Path) -> Path:
    """Installed from the lockfile and built (dist/, as the image runs it)."""
    run_once(["npm", "ci"], cwd=project)
    run_once(["npm", "run", "build"], cwd=project)
    return project / "services/api"


def python_installed(service: Path) -> Path:
    run_once(["uv", "sync", "--locked"], cwd=service)
    return service / ".venv/bin"


def node(script: str) -> list[str]:
    return [str(NODE), script]


def uvicorn(venv: Path, port: int) -> list[str]:
    """The Python image's command, on a port of this machine."""
    return [str(venv / "python"), "-m", "app", "--host", "127.0.0.1", "--port", str(port)]


# The proof #########################################################################################


def check_scale_out(
    scale: ScaleRun, apis: list[str], kinds: list[JobKind], start_workers: Callable[[], None]
) -> None:
    """One job of each kind waits in the list KEDA watches while no worker runs; then, with two
    workers of each kind, jobs through both APIs run once each, one idempotency key sent to both
    APIs at once makes one job, and every process exits 0 on SIGTERM."""
    for url in apis:
        scale.wait_ready(url)
    early = {kind.name: accepted(kind.submit(apis[0], key()), scale) for kind in kinds}
    for kind in kinds:
        assert b":1\r\n" == redis_command(scale.redis_url, "LLEN", kind.queue_list), kind.name
    start_workers()

    for kind in kinds:
        jobs = [accepted(kind.submit(apis[i % 2], key()), scale) for i in range(JOBS)]
        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(kind.submit, apis, [key()] * 2))
        same = {accepted(reply, scale) for reply in replies}
        assert 1 == len(same), f"one idempotency key, two jobs: {same}"
        submitted = [early[kind.name], *jobs, *same]
        for job_id in submitted:
            job = wait_for(kind, job_id, apis[1], scale)
            assert kind.succeeded(job), f"{job}\n{scale.log()}"
        runs = {worker.name: runs_of(kind, worker) for worker in kind.workers}
        assert {kind.log_id(j): 1 for j in submitted} == dict(sum(runs.values(), Counter()))
        assert all(runs.values()), f"a worker ran no {kind.name} job: {runs}\n{scale.log()}"
    codes = stop_all(scale.processes)
    assert {p.name: 0 for p in scale.processes} == codes, scale.log()


def key() -> str:
    return f"scale-{uuid.uuid4().hex}"


def accepted(reply: Reply, scale: ScaleRun) -> str:
    assert reply.status in (200, 202), f"{reply.status} {reply.body!r}\n{scale.log()}"
    job_id: str = reply.json()["id"]
    return job_id


def wait_for(kind: JobKind, job_id: str, api: str, scale: ScaleRun) -> dict[str, Any]:
    job: dict[str, Any] = {}

    def done() -> bool:
        nonlocal job
        reply = http("GET", f"{api}/v1/jobs/{job_id}")
        assert 200 == reply.status, reply.body
        job = reply.json()
        return kind.is_done(job)

    wait_until(done, f"{kind.name} job {job_id}", scale.processes, timeout=120)
    return job


def runs_of(kind: JobKind, worker: Process) -> Counter[str]:
    """How many times the worker ran each job, by its log lines (JSON, one per line)."""
    runs: Counter[str] = Counter()
    for line in worker.log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and kind.marker in (entry.get("msg"), entry.get("message")):
            runs[entry[kind.id_field]] += 1
    return runs


# One test per architecture #########################################################################


def test_node_api_scales_out(
    rendered_project: Callable[..., Path], create_database: Callable[[str], str], scale: ScaleRun
) -> None:
    """Two Node APIs and two BullMQ workers on one Redis and one database."""
    api_dir = node_installed(rendered_project(**NODE_API))
    env = tool_env(
        {
            "REDIS_URL": scale.redis_url,
            "DATABASE_URL": create_database("scale_node"),
            "HOST": "127.0.0.1",
            "QUEUE_PREFIX": f"scale-{scale.unique}",
            **service_env(),  # the session's OpenID provider (tests/conftest.py)
        }
    )
    run(node("dist/migrate.js"), cwd=api_dir, env=env)  # the k8s migration Job's command
    apis = []
    for i in (1, 2):
        port = free_port()
        scale.start(f"api-{i}", node("dist/server.js"), api_dir, {**env, "PORT": str(port)})
        apis.append(f"http://127.0.0.1:{port}")
    digest = digest_jobs(env["QUEUE_PREFIX"])

    def start_workers() -> None:
        for i in (1, 2):
            digest.workers.append(scale.start(f"worker-{i}", node("dist/worker.js"), api_dir, env))
        for worker in digest.workers:
            scale.wait_logged(worker, "worker ready")

    check_scale_out(scale, apis, [digest], start_workers)


def test_python_api_scales_out(
    rendered_project: Callable[..., Path], create_database: Callable[[str], str], scale: ScaleRun
) -> None:
    """Two FastAPI processes and two Celery workers on one Redis and one database."""
    service = rendered_project(**PYTHON_API) / "services/api"
    venv = python_installed(service)
    env = tool_env(
        {
            "REDIS_URL": scale.redis_url,
            "DATABASE_URL": create_database("scale_python"),
            "JOBS_QUEUE": f"scale-{scale.unique}",
            "JOB_RESULT_TTL": "600",  # the results this test leaves in Redis go soon
            "RATE_LIMIT_MAX": "1000000",  # the test polls from one address
            **service_env(),  # the session's OpenID provider (tests/conftest.py)
        }
    )
    run([str(venv / "alembic"), "upgrade", "head"], cwd=service, env=env)  # the k8s Job's command
    apis = []
    for i in (1, 2):
        port = free_port()
        scale.start(f"api-{i}", uvicorn(venv, port), service, env)
        apis.append(f"http://127.0.0.1:{port}")
    jobs = celery_jobs(env["JOBS_QUEUE"])

    def start_workers() -> None:
        jobs.workers.extend(scale.celery_worker(f"worker-{i}", service, env) for i in (1, 2))
        for worker in jobs.workers:
            scale.wait_logged(worker, " ready.")

    check_scale_out(scale, apis, [jobs], start_workers)


def test_hybrid_scales_out(
    rendered_project: Callable[..., Path], create_database: Callable[[str], str], scale: ScaleRun
) -> None:
    """Two gateways, each with an ML service of its own, two BullMQ and two Celery workers, on
    one Redis and one database: digest jobs and ML jobs through both gateways."""
    project = rendered_project(**HYBRID)
    api_dir, ml_dir = node_installed(project), project / "services/ml"
    venv = python_installed(ml_dir)
    node_env = tool_env(
        {
            "REDIS_URL": scale.redis_url,
            "DATABASE_URL": create_database("scale_hybrid"),
            "HOST": "127.0.0.1",
            "QUEUE_PREFIX": f"scale-{scale.unique}",
            **service_env(),
        }
    )
    ml_env = tool_env(
        {
            "REDIS_URL": scale.redis_url,
            "JOBS_QUEUE": f"scale-{scale.unique}-ml",
            "JOB_RESULT_TTL": "600",
        }
    )
    run(node("dist/migrate.js"), cwd=api_dir, env=node_env)  # the k8s Job's command
    apis = []
    for i in (1, 2):
        ml_port, port = free_port(), free_port()
        scale.start(f"ml-{i}", uvicorn(venv, ml_port), ml_dir, ml_env)
        gateway_env = {
            **node_env,
            "PORT": str(port),
            "ML_SERVICE_URL": f"http://127.0.0.1:{ml_port}",
        }
        scale.start(f"gateway-{i}", node("dist/server.js"), api_dir, gateway_env)
        apis.append(f"http://127.0.0.1:{port}")  # ready only once its ML service is
    digest, ml = digest_jobs(node_env["QUEUE_PREFIX"]), gateway_ml_jobs(ml_env["JOBS_QUEUE"])

    def start_workers() -> None:
        for i in (1, 2):
            digest.workers.append(
                scale.start(f"worker-{i}", node("dist/worker.js"), api_dir, node_env)
            )
            ml.workers.append(scale.celery_worker(f"celery-{i}", ml_dir, ml_env))
        for worker in digest.workers:
            scale.wait_logged(worker, "worker ready")
        for worker in ml.workers:
            scale.wait_logged(worker, " ready.")

    check_scale_out(scale, apis, [digest, ml], start_workers)
