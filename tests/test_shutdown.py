"""Shutdown under load: SIGTERM lands on the API while 50 keep-alive clients hammer it, and on the
worker while jobs run. In-flight requests complete, the current jobs finish (or go back to the
queue for the next worker), clients see no error but refused connections (or connections closed
before the server read their request, which the API's log proves), and every process exits 0
within its grace period. Built processes on a private Redis, as in test_job_faults.py.
"""

from __future__ import annotations

import http.client as httpclient
import json
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from processes import PrivateRedis, Process, wait_until
from test_job_faults import (
    BULLMQ,
    CELERY,
    JOBS,
    WAIT,
    Stack,
    job_states,
    log_lines,
    node_service,
    node_stack,
    python_service,
    python_stack,
    redis,
    stacks,
    submit_digest,
    wait_for_worker,
)

from harness.net import auth_headers

pytestmark = pytest.mark.generated

__all__ = ["node_service", "python_service", "redis", "stacks"]  # fixtures, used by name

CLIENTS = 50
# The grace periods the services give themselves: SHUTDOWN_GRACE_MS (Node, default 10 s) and
# uvicorn's timeout_graceful_shutdown (SHUTDOWN_GRACE_SECONDS, 30 s, app.core.config); a Celery
# warm shutdown waits for the running jobs, here about a second each.
NODE_GRACE = 10.0
PYTHON_GRACE = 30.0
WORKER_GRACE = 30.0


@dataclass
class Load:
    """`CLIENTS` threads, each sending requests on its own keep-alive connection until the
    server refuses new connections. Records each request's outcome, and which requests were in
    flight (sent, not yet answered) when SIGTERM was sent. Requests carry `X-Request-ID: load-<n>`,
    which the API logs, so a request that got no answer can be checked against what the server
    received."""

    url: str
    path: str
    body: Callable[[int], dict[str, object]]  # the JSON body of request number n
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: set[int] = field(default_factory=set)
    in_flight_at_sigterm: set[int] = field(default_factory=set)
    outcomes: dict[int, str] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    next_id: int = 0

    def start(self) -> None:
        for _ in range(CLIENTS):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self.threads.append(thread)

    def mark_sigterm(self) -> None:
        with self.lock:
            self.in_flight_at_sigterm = set(self.in_flight)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=WAIT)

    def completed(self) -> int:
        with self.lock:
            return sum(1 for outcome in self.outcomes.values() if outcome == "completed")

    def failures(self) -> list[str]:
        with self.lock:
            return [outcome for outcome in self.outcomes.values() if outcome != "completed"]

    def _client(self) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        conn: httpclient.HTTPConnection | None = None
        while not self.stopping.is_set():
            conn = conn or httpclient.HTTPConnection("127.0.0.1", port, timeout=WAIT)
            with self.lock:
                request_id, self.next_id = self.next_id, self.next_id + 1
                self.in_flight.add(request_id)
            outcome = self._send(conn, request_id)
            with self.lock:
                self.in_flight.discard(request_id)
                self.outcomes[request_id] = outcome
            if outcome == "refused":
                return  # the server has stopped listening; this client is done
            if outcome != "completed" or conn.sock is None:
                conn.close()  # then a new connection, as HTTP clients do
                conn = None

    def _send(self, conn: httpclient.HTTPConnection, request_id: int) -> str:
        headers = {
            **auth_headers(),  # a valid token (tests/conftest.py)
            "content-type": "application/json",
            "x-request-id": f"load-{request_id}",
        }
        try:
            conn.request("POST", self.path, json.dumps(self.body(request_id)), headers)
            response = conn.getresponse()
            response.read()
        except ConnectionRefusedError:
            return "refused"
        except (httpclient.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            return "no answer"
        except OSError as error:
            return repr(error)
        return "completed" if 200 <= response.status < 300 else f"HTTP {response.status}"


@dataclass
class Tally:
    """The outcomes, with "no answer" split by whether the server received the request."""

    requests: int
    in_flight_at_sigterm: int
    in_flight_completed: int
    completed: int
    refused: int
    # Closed or reset before the request reached the application (the API logs every request it
    # handles, and these are not in its log): a keep-alive connection the server closed between
    # two requests, or a connection still in the listen backlog when it stopped listening. Like
    # a refused connection, nothing was done, and the client can resend it elsewhere.
    never_received: int
    failed: list[str]


def tally(load: Load, api_log: Path) -> Tally:
    received = {int(n) for n in re.findall(r"load-(\d+)", api_log.read_text(errors="replace"))}
    outcomes = dict(load.outcomes)
    for request_id, outcome in outcomes.items():
        if outcome == "no answer":
            outcomes[request_id] = "never received" if request_id not in received else outcome
    at_sigterm = load.in_flight_at_sigterm
    values = list(outcomes.values())
    return Tally(
        requests=len(values),
        in_flight_at_sigterm=len(at_sigterm),
        in_flight_completed=sum(1 for i in at_sigterm if outcomes[i] == "completed"),
        completed=values.count("completed"),
        refused=values.count("refused"),
        never_received=values.count("never received"),
        failed=[o for o in values if o not in ("completed", "refused", "never received")],
    )


@dataclass
class Shutdown:
    codes: dict[str, int | None]
    seconds: dict[str, float]


def sigterm(processes: list[Process], load: Load, grace: dict[str, float]) -> Shutdown:
    """SIGTERM every process at once (as `docker compose stop` does), then wait for each exit."""
    sent = time.monotonic()
    for process in processes:
        process.popen.send_signal(signal.SIGTERM)
    load.mark_sigterm()
    codes, seconds = {}, {}
    for process in processes:
        codes[process.name] = process.exit_code(grace[process.name])
        seconds[process.name] = round(time.monotonic() - sent, 1)
    return Shutdown(codes, seconds)


def hammer(stack: Stack, path: str, body: Callable[[int], dict[str, object]]) -> Load:
    """Start the load and return once the server has answered a few hundred requests."""
    load = Load(stack.url, path, body)
    load.start()

    def warm() -> bool:
        assert [] == load.failures(), stack.log()
        return load.completed() >= 300

    wait_until(warm, "the load to warm up", stack.processes, WAIT)
    return load


def wait_until_running(states: Callable[[], dict[str, str]], running: str, stack: Stack) -> None:
    """Wait until a job is running, so that SIGTERM finds the worker busy."""
    wait_until(lambda: running in states().values(), "a job to run", stack.processes, WAIT, 0.02)


def celery_busy(worker: Process) -> bool:
    """Whether the Celery worker is running a job now (its log reads the API cannot keep up)."""
    messages = [line.get("message", "") for line in log_lines(worker)]
    started = messages.count("job started")
    return started > sum(1 for message in messages if " succeeded in " in message)


def shut_down_under_load(
    stack: Stack, load: Load, grace: dict[str, float], name: str
) -> tuple[Shutdown, Tally, str]:
    """SIGTERM the API and the worker under load; count and print what the clients saw."""
    api, worker = stack.processes[:2]
    shutdown = sigterm([api, worker], load, grace)
    load.stop()
    counts = tally(load, api.log)
    figures = (
        f"\n{name}: {counts.requests} requests from {CLIENTS} keep-alive clients;"
        f" {counts.in_flight_at_sigterm} in flight at SIGTERM, {counts.in_flight_completed} of"
        f" them completed (the others never reached the server); {counts.completed} completed in"
        f" all; {counts.refused} refused new"
        f" connections; {counts.never_received} closed before the server read them;"
        f" {len(counts.failed)} failed otherwise {counts.failed[:5]}; exit codes"
        f" {shutdown.codes} after {shutdown.seconds} s"
    )
    print(figures)
    return shutdown, counts, figures


def test_node_api_and_worker_shut_down_under_load_losing_nothing(
    node_service: Path, redis: PrivateRedis, stacks: list[Stack], tmp_path: Path
) -> None:
    """SIGTERM to the Node API (50 clients posting notes) and the BullMQ worker (jobs running):
    every request the API received is answered, both exit 0 within SHUTDOWN_GRACE_MS, and the
    next deployment completes the jobs left in the queue."""
    stack = node_stack(node_service, redis, tmp_path)
    stacks.append(stack)
    stack.start_api()
    worker = stack.start("worker", "worker")
    wait_for_worker(stack, worker, "worker ready")
    load = hammer(stack, "/v1/notes", lambda n: {"title": f"Note {n}", "tags": ["load"]})
    ids = [submit_digest(stack, n) for n in range(JOBS)]
    wait_until_running(lambda: job_states(stack, ids[:2]), "active", stack)

    grace = {"api": NODE_GRACE, "worker": NODE_GRACE}
    shutdown, counts, figures = shut_down_under_load(stack, load, grace, "Node shutdown")
    stack.start_api("api-2")  # the next deployment
    stack.start("worker-2", "worker")
    final = BULLMQ.wait_for_all(stack, ids)
    finished = sum(1 for line in log_lines(worker) if line.get("msg") == "job completed")
    print(f"{JOBS} jobs: {finished} finished by the worker stopping, the rest by the next one")

    assert {"api": 0, "worker": 0} == shutdown.codes, f"{figures}\n{stack.log()}"
    assert ([], True) == (counts.failed, counts.in_flight_completed > 0), figures
    assert {"completed"} == set(final.values())


def test_python_api_and_worker_shut_down_under_load_losing_nothing(
    python_service: Path, redis: PrivateRedis, stacks: list[Stack], tmp_path: Path
) -> None:
    """SIGTERM to the FastAPI API (50 clients posting notes) and the Celery worker (jobs
    running; a warm shutdown): every request the API received is answered, both exit 0 within
    their grace, and the next deployment runs the jobs left in the queue."""
    stack = python_stack(python_service, redis, tmp_path)
    stacks.append(stack)
    stack.start_api()
    worker = stack.start("worker", "worker")
    wait_for_worker(stack, worker, " ready.")
    load = hammer(stack, "/v1/notes", lambda n: {"title": f"Note {n}"})
    ids = [submit_digest(stack, n) for n in range(JOBS)]
    wait_until(lambda: celery_busy(worker), "a job to run", stack.processes, WAIT, 0.02)

    grace = {"api": PYTHON_GRACE, "worker": WORKER_GRACE}
    shutdown, counts, figures = shut_down_under_load(stack, load, grace, "Python shutdown")
    stack.start_api("api-2")  # the next deployment
    stack.start("worker-2", "worker")
    final = CELERY.wait_for_all(stack, ids)
    finished = sum(1 for line in log_lines(worker) if " succeeded in " in line.get("message", ""))
    print(f"{JOBS} jobs: {finished} finished by the worker stopping, the rest by the next one")

    assert {"api": 0, "worker": 0} == shutdown.codes, f"{figures}\n{stack.log()}"
    assert ([], True) == (counts.failed, counts.in_flight_completed > 0), figures
    assert {"completed"} == set(final.values())
