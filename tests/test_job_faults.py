"""Jobs survive faults: a worker SIGKILLed mid-job, Redis restarted with jobs queued, a job that
kills its process every time. Real built processes, each test on a Redis of its own
(`start_private_redis`), so crashes leave nothing behind on the shared one.

BullMQ runs in node-api; Celery in python-api without a model. Both run the same `digest` job (a
CPU-bound job whose length the payload sets) behind the same job API. The hybrid ML worker is the
same Celery app and configuration (app.worker), only its list of job types (app.jobs.kinds)
differs, so this render covers it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import run_once
from processes import (
    PrivateRedis,
    Process,
    kill_children,
    kill_process_group,
    outputs,
    start_private_redis,
    start_process_group,
    wait_until,
)
from test_node_project import expected_digest

from harness.commands import celery_worker_command
from harness.net import free_port, http, post_json
from harness.oidc import service_env
from harness.toolchain import NODE, tool_env

pytestmark = pytest.mark.generated

# Without a database: these tests are about the queues. The same renders serve the fuzz smoke run
# (node-api) and the Python tier (python-api with jobs and no model), so they are installed once.
NODE_API = {"architecture": "node-api", "database": "none"}
PYTHON_API = {
    "architecture": "python-api",
    "ml": "none",
    "background_jobs": True,
    "database": "none",
}
JOBS = 12  # per test; some finished, some running, some queued when the fault lands
ROUNDS = 1_000_000  # the largest digest job (about half a second)
# Waits end as soon as their condition holds; the bounds only keep a broken run from hanging.
WAIT = 90.0


# The projects, built once per module ##############################################################


@pytest.fixture(scope="session")
def node_service(rendered_project: Callable[..., Path]) -> Path:
    """node-api, installed from its lockfile and built (the image runs dist/)."""
    project = rendered_project(**NODE_API)
    run_once(["npm", "ci"], cwd=project)
    run_once(["npm", "run", "build"], cwd=project)
    return project / "services" / "api"


@pytest.fixture(scope="session")
def python_service(rendered_project: Callable[..., Path]) -> Path:
    """python-api with Celery jobs, installed from its lockfile."""
    service = rendered_project(**PYTHON_API) / "services" / "api"
    run_once(["uv", "sync", "--locked"], cwd=service)
    return service


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = start_private_redis(tmp_path)
    yield server
    if server.process and server.process.running():
        server.stop()


@dataclass
class Stack:
    """The API and workers of one service on a private Redis; each process in its own group."""

    service: Path
    env: dict[str, str]
    logs: Path
    commands: dict[str, list[str]]
    url: str = ""
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, kind: str) -> Process:
        """Start the API (`kind="api"`) or a worker, logging to `<name>.log`."""
        process = start_process_group(name, self.commands[kind], self.service, self.env, self.logs)
        self.processes.append(process)
        return process

    def start_api(self, name: str = "api") -> Process:
        api = self.start(name, "api")
        wait_until(lambda: self.ready(), "the API to be ready", [api], timeout=WAIT)
        return api

    def ready(self) -> bool:
        return http("GET", f"{self.url}/readyz").status == 200

    def log(self) -> str:
        return outputs(self.processes)

    def kill_all(self) -> None:
        for process in self.processes:
            kill_process_group(process)


def node_stack(service: Path, redis: PrivateRedis, logs: Path, **settings: str) -> Stack:
    port = free_port()
    env = tool_env(
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "REDIS_URL": redis.url,
            "LOG_LEVEL": "info",
            "RATE_LIMIT_MAX": "1000000",  # the load of test_shutdown.py comes from one address
            **service_env(),  # the session's OpenID provider (tests/conftest.py)
            **settings,
        }
    )
    commands = {"api": [str(NODE), "dist/server.js"], "worker": [str(NODE), "dist/worker.js"]}
    return Stack(service, env, logs, commands, f"http://127.0.0.1:{port}")


def python_stack(service: Path, redis: PrivateRedis, logs: Path, **settings: str) -> Stack:
    port = free_port()
    env = tool_env(
        {
            "REDIS_URL": redis.url,
            "RATE_LIMIT_MAX": "1000000",  # the load of test_shutdown.py comes from one address
            "PYTHONUNBUFFERED": "1",
            **service_env(),  # the session's OpenID provider (tests/conftest.py)
            **settings,
        }
    )
    bin_dir = service / ".venv" / "bin"
    api = [str(bin_dir / "python"), "-m", "app", "--host", "127.0.0.1", "--port", str(port)]
    worker = celery_worker_command(service, "worker", concurrency=2)
    return Stack(service, env, logs, {"api": api, "worker": worker}, f"http://127.0.0.1:{port}")


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[list[Stack]]:
    """Stacks a test starts; whatever is still running at the end is killed."""
    started: list[Stack] = []
    yield started
    for stack in started:
        stack.kill_all()


def wait_for_worker(stack: Stack, worker: Process, ready_line: str) -> None:
    wait_until(
        lambda: ready_line in worker.log.read_text(), f"{worker.name} to be ready", [worker], WAIT
    )


# Jobs through each API ############################################################################


def submit_digest(stack: Stack, n: int, rounds: int = ROUNDS) -> str:
    reply = post_json(f"{stack.url}/v1/jobs", {"type": "digest", "data": digest_data(n, rounds)})
    assert 202 == reply.status, reply.body
    return str(reply.json()["id"])


def digest_data(n: int, rounds: int = ROUNDS) -> dict[str, Any]:
    return {"text": f"job {n}", "rounds": rounds}


def read_job(stack: Stack, job_id: str) -> dict[str, Any]:
    reply = http("GET", f"{stack.url}/v1/jobs/{job_id}")
    assert 200 == reply.status, reply.body
    job: dict[str, Any] = reply.json()
    return job


def job_states(stack: Stack, ids: list[str]) -> dict[str, str]:
    return {job_id: read_job(stack, job_id)["state"] for job_id in ids}


def wait_for_states(
    what: str, states: Callable[[], dict[str, str]], final: set[str], stack: Stack
) -> dict[str, str]:
    """Poll until every job is in one of the `final` states; return the states."""
    seen: dict[str, str] = {}

    def finished() -> bool:
        nonlocal seen
        seen = states()
        return set(seen.values()) <= final

    wait_until(finished, what, [p for p in stack.processes if p.running()], timeout=WAIT)
    return seen


def log_lines(process: Process) -> list[dict[str, Any]]:
    """The JSON log lines of a process (other lines, such as Celery's banner, are skipped)."""
    lines = []
    for line in process.log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass
    return lines


def started_jobs(worker: Process) -> list[str]:
    """Job ids in the order a Celery worker started running them (one per run)."""
    return [line["job_id"] for line in log_lines(worker) if line.get("message") == "job started"]


# The same faults for both queues ##################################################################


@dataclass
class Queue:
    """What differs between the BullMQ and the Celery service, for the tests common to both."""

    name: str
    stack: Callable[[Path, PrivateRedis, Path], Stack]
    ready_line: str  # in the worker's log once it consumes
    lost_redis_line: str  # in the worker's log once it has noticed Redis is gone
    submit: Callable[[Stack, int], str]  # queue job number n, return its id
    states: Callable[[Stack, list[str]], dict[str, str]]
    running: str
    done: str
    failed: str
    result: Callable[[int], dict[str, Any]]  # part of the result of job number n
    rerun: Callable[[Process, Process], set[str]]  # jobs started by the first, run by the second

    def start(self, stacks: list[Stack], service: Path, redis: PrivateRedis, logs: Path) -> Stack:
        stack = self.stack(service, redis, logs)
        stacks.append(stack)
        stack.start_api()
        return stack

    def start_worker(self, stack: Stack, name: str) -> Process:
        worker = stack.start(name, "worker")
        wait_for_worker(stack, worker, self.ready_line)
        return worker

    def wait_for_all(self, stack: Stack, ids: list[str]) -> dict[str, str]:
        terminal = {self.done, self.failed}
        return wait_for_states("every job", lambda: self.states(stack, ids), terminal, stack)


def stalled_jobs(_: Process, second: Process) -> set[str]:
    return {line["jobId"] for line in log_lines(second) if "stalled" in line.get("msg", "")}


def restarted_jobs(first: Process, second: Process) -> set[str]:
    return set(started_jobs(first)) & set(started_jobs(second))


BULLMQ = Queue(
    name="BullMQ",
    # Locks lapse after 2 s, so a dead worker's jobs are back within seconds.
    stack=lambda *args: node_stack(*args, JOB_LOCK_MS="2000", JOB_BACKOFF_MS="100"),
    ready_line="worker ready",
    lost_redis_line="worker error",
    submit=submit_digest,
    states=job_states,
    running="active",
    done="completed",
    failed="failed",
    result=lambda n: {"digest": expected_digest(f"job {n}", ROUNDS)},
    rerun=stalled_jobs,
)
CELERY = Queue(
    name="Celery",
    # The shortest visibility timeout the service accepts, so a dead worker's jobs come back
    # within seconds: it must exceed the time limit (10 s, the least) plus the longest retry
    # delay (16 s), or the service refuses to start (see JOB_VISIBILITY_TIMEOUT in .env.example).
    stack=lambda *args: python_stack(
        *args, JOB_TIME_LIMIT="10", JOB_VISIBILITY_TIMEOUT="27"
    ),
    ready_line=" ready.",
    lost_redis_line="Connection to broker lost",
    submit=submit_digest,
    states=job_states,
    running="active",
    done="completed",
    failed="failed",
    result=lambda n: {"digest": expected_digest(f"job {n}", ROUNDS)},
    rerun=restarted_jobs,
)


@pytest.fixture(params=[BULLMQ, CELERY], ids=lambda queue: queue.name)
def queue(request: pytest.FixtureRequest) -> tuple[Queue, Path]:
    """Each queue, with its service installed."""
    service = "node_service" if request.param is BULLMQ else "python_service"
    return request.param, request.getfixturevalue(service)


def test_jobs_of_a_sigkilled_worker_run_again_on_a_new_worker(
    queue: tuple[Queue, Path], redis: PrivateRedis, stacks: list[Stack], tmp_path: Path
) -> None:
    """SIGKILL of the worker's whole process group (BullMQ's sandboxed processors, Celery's
    pool) mid-job: a new worker runs the jobs it held again (BullMQ: its stalled-job check once
    the locks lapse; Celery: Redis redelivers them after the visibility timeout) and every job
    completes with its right result."""
    kind, service = queue
    stack = kind.start(stacks, service, redis, tmp_path)
    first = kind.start_worker(stack, "worker-1")
    ids = [kind.submit(stack, n) for n in range(JOBS)]

    at_kill: list[str] = []

    def some_done_some_running() -> bool:
        nonlocal at_kill
        at_kill = list(kind.states(stack, ids).values())
        return kind.done in at_kill and kind.running in at_kill

    wait_until(some_done_some_running, "jobs finishing and running", [first], WAIT)
    kill_process_group(first)
    second = kind.start_worker(stack, "worker-2")
    final = kind.wait_for_all(stack, ids)

    rerun = kind.rerun(first, second)
    lost = [job_id for job_id, state in final.items() if state != kind.done]
    print(
        f"\n{kind.name} SIGKILL: {JOBS} jobs; at the kill {at_kill.count(kind.done)} done,"
        f" {at_kill.count(kind.running)} running; {len(rerun)} run again by the new worker;"
        f" {len(lost)} lost"
    )
    assert [] == lost, stack.log()
    assert rerun, f"no job was running at the kill\n{stack.log()}"
    for n, job_id in enumerate(ids):
        result = read_job(stack, job_id)["result"]
        assert kind.result(n).items() <= result.items()


def test_jobs_queued_across_a_redis_restart_complete(
    queue: tuple[Queue, Path], redis: PrivateRedis, stacks: list[Stack], tmp_path: Path
) -> None:
    """Redis stops (SIGTERM) with jobs queued and running: the API answers 503 without
    exiting, the worker keeps reconnecting, and once Redis is back on the same port with the
    same append-only file, both carry on and every job completes."""
    kind, service = queue
    stack = kind.start(stacks, service, redis, tmp_path)
    worker = kind.start_worker(stack, "worker")
    ids = [kind.submit(stack, n) for n in range(JOBS)]

    redis.stop()
    down = (
        http("GET", f"{stack.url}/readyz").status,
        http("GET", f"{stack.url}/v1/jobs/{ids[0]}").status,
    )
    wait_until(
        lambda: kind.lost_redis_line in worker.log.read_text(), "the worker to notice", [worker]
    )
    redis.start()
    wait_until(stack.ready, "the API to reconnect", stack.processes, timeout=WAIT)
    final = kind.wait_for_all(stack, ids)

    lost = [job_id for job_id, state in final.items() if state != kind.done]
    print(f"\n{kind.name} Redis restart: {JOBS} jobs queued, {len(lost)} lost")
    assert [] == lost, stack.log()
    assert all(process.running() for process in stack.processes), stack.log()
    # Fail fast while Redis is away: readiness and job reads answer 503, never 500.
    assert (503, 503) == down, stack.log()


# Poison jobs: a job that kills its process every time ############################################


def test_bullmq_job_that_kills_its_processor_every_time_ends_in_the_failed_set(
    node_service: Path, redis: PrivateRedis, stacks: list[Stack], tmp_path: Path
) -> None:
    """A job whose sandboxed processor dies on every attempt (as if its payload ran it out of
    memory) fails after JOB_ATTEMPTS (3) attempts and stays in the failed set, the dead-letter
    record; the worker itself survives and runs the next job."""
    stack = BULLMQ.start(stacks, node_service, redis, tmp_path)
    worker = BULLMQ.start_worker(stack, "worker")
    poison = submit_digest(stack, 0)

    progress_at_kill = 0

    def failed_while_killing_its_processor() -> bool:
        nonlocal progress_at_kill
        job = read_job(stack, poison)
        # New progress: a processor runs this job (the only one); kill it mid-run.
        if job["state"] == "active" and job["progress"] not in (0, 100, progress_at_kill):
            progress_at_kill = job["progress"]
            kill_children(worker)
        return job["state"] == "failed"

    wait_until(failed_while_killing_its_processor, "the job to fail", [worker], WAIT, 0.01)
    healthy = submit_digest(stack, 1, rounds=1000)
    BULLMQ.wait_for_all(stack, [healthy])

    job = read_job(stack, poison)
    print(f"\nBullMQ poison job: {job['attemptsMade']} attempts, then {job['state']}")
    assert ("failed", 3) == (job["state"], job["attemptsMade"]), stack.log()
    assert "SIGKILL" in job["failedReason"]
    assert "completed" == read_job(stack, healthy)["state"]
    assert worker.running()


def test_celery_job_that_kills_its_process_every_time_ends_failed(
    python_service: Path, redis: PrivateRedis, stacks: list[Stack], tmp_path: Path
) -> None:
    """A job whose pool process dies on every run (as if its payload ran it out of memory) is
    retried max_retries (5) times, then recorded as FAILURE with an ERROR log line (the
    dead-letter record) and never run again; the worker survives and runs the next job."""
    # The default visibility timeout: a short one would also hand the job out again while the
    # worker holds it for its retry delay, and it would run twice at once.
    stack = python_stack(python_service, redis, tmp_path)
    stacks.append(stack)
    stack.start_api()
    worker = CELERY.start_worker(stack, "worker")
    poison = submit_digest(stack, 0)  # a second or two

    runs = 0

    def failed_while_killing_its_process() -> bool:
        nonlocal runs
        started = started_jobs(worker).count(poison)
        if started > runs:  # a new run: kill it mid-run
            runs = started
            kill_children(worker)  # the pool processes, one of which runs the job
        return read_job(stack, poison)["state"] == "failed"

    wait_until(failed_while_killing_its_process, "the job to fail", [worker], WAIT, 0.02)
    healthy = submit_digest(stack, 1, rounds=1000)
    CELERY.wait_for_all(stack, [healthy])

    job = read_job(stack, poison)
    runs = started_jobs(worker).count(poison)
    errors = [line["message"] for line in log_lines(worker) if line["level"] == "error"]
    print(f"\nCelery poison job: {runs} runs, then {job['state']}: {errors[-1:]}")
    assert (6, "failed") == (runs, job["state"]), stack.log()
    assert "The job failed (WorkerLostError)." == job["failedReason"]
    assert any("WorkerLostError" in message for message in errors), stack.log()
    assert "completed" == read_job(stack, healthy)["state"]
    assert worker.running()
