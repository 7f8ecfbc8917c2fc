"""Running a generated project's processes for real: ports, HTTP calls, logs, readiness, SIGTERM,
and every HTTP service of every architecture started for real (`RunningServices`).

Shared by the generated-project tests; HTTP and Redis over the stdlib (the test venv has no HTTP
or Redis client).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import run, run_once

from harness import net
from harness.commands import celery_worker_command
from harness.net import Reply, delete_redis_keys, free_port, http, redis_command
from harness.oidc import service_env
from harness.toolchain import NODE, tool_env

# A README's "Try it" block: `curl` lines against $API, with `<id>` where an earlier answer's id goes.
_TRY_IT = re.compile(r"^## Try it\n.*?```sh\n(.*?)```", re.MULTILINE | re.DOTALL)


def readme_examples(readme: str) -> list[tuple[str, str, dict[str, str], bytes | None]]:
    """The README's curl examples as (method, path, headers, body); `<id>` left in the path."""
    found = _TRY_IT.search(readme)
    assert found, "the README has no `## Try it` block of curl examples"
    examples = []
    for line in found.group(1).splitlines():
        if not line.startswith("curl "):
            continue
        words = shlex.split(line, comments=True)[1:]
        headers: dict[str, str] = {}
        body = None
        method = "GET"
        path = ""
        while words:
            word = words.pop(0)
            if word == "-H":
                name, _, value = words.pop(0).partition(": ")
                headers[name] = value
            elif word == "--json":
                body, method = words.pop(0).encode(), "POST"
                headers["content-type"] = "application/json"
            elif word.startswith("$API/"):
                path = word.removeprefix("$API")
            else:
                assert word in ("-s", "-sN"), f"{word!r} in {line!r}: only -s, -sN, -H, --json"
        examples.append((method, path, headers, body))
    return examples


def routes_without_example(openapi: dict[str, Any], readme: str) -> list[str]:
    """The operations of an OpenAPI document that no README example calls (a deprecated one
    needs none: the README shows its successor)."""
    called = {(method, path.split("?")[0]) for method, path, _, _ in readme_examples(readme)}
    missing = []
    for template, operations in openapi["paths"].items():
        pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + r"\Z")
        for method, operation in operations.items():
            if operation.get("deprecated"):
                continue
            if not any(m == method.upper() and pattern.match(p) for m, p in called):
                missing.append(f"{method.upper()} {template}")
    return missing


def replay_readme_examples(readme: str, base_url: str) -> list[tuple[str, str, Reply]]:
    """Send each example in order, `<id>` replaced by the id of the last answer that had one."""
    replies = []
    last_id = ""
    for method, path, headers, body in readme_examples(readme):
        path = path.replace("<id>", last_id)
        reply = http(method, base_url + path, body, headers, timeout=60)
        replies.append((method, path, reply))
        answer = reply.json() if reply.content_type.startswith("application/json") else None
        if isinstance(answer, dict) and "id" in answer:
            last_id = str(answer["id"])
    return replies


@dataclass
class Process:
    """A process of the project under test, its output going to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self, tail: int = 6000) -> str:
        return f"--- {self.name} output ---\n{self.log.read_text(errors='replace')[-tail:]}"

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 30) -> int | None:
        """SIGTERM, then the exit code; None if it outlived `grace` seconds and was killed."""
        self.send_sigterm()
        return self.exit_code(grace)

    def send_sigterm(self) -> None:
        # Once only: a second SIGTERM means "stop now" to close-with-grace and to Celery.
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)

    def exit_code(self, grace: float = 30) -> int | None:
        """Wait for the exit code; None if the process outlived `grace` seconds and was killed."""
        try:
            return self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            return None


def start_process(
    name: str,
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    logs: Path,
    log_name: str | None = None,
) -> Process:
    """Start `command` with stdout and stderr in `logs/<log_name or name>.log`."""
    log = logs / f"{log_name or name}.log"
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=sink, stderr=subprocess.STDOUT
        )
    return Process(name, popen, log)


def stop_all(processes: Sequence[Process], grace: float = 30) -> dict[str, int | None]:
    """SIGTERM every process at once, then collect each exit code (None: killed after `grace`)."""
    for process in processes:
        process.send_sigterm()
    return {process.name: process.exit_code(grace) for process in processes}


def outputs(processes: Sequence[Process]) -> str:
    return "\n".join(process.output() for process in processes)


def wait_until(
    condition: Callable[[], bool],
    what: str,
    processes: Sequence[Process] = (),
    timeout: float = 90,
    interval: float = 0.1,
) -> None:
    """Poll `condition` (connection errors count as "not yet") until it holds; fail the test if a
    watched process exits first or `timeout` passes. The bound only keeps a broken run from hanging.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if not process.running():
                pytest.fail(f"{process.name} exited while waiting for {what}\n{outputs(processes)}")
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what}\n{outputs(processes)}")


# Crashes and a private Redis, for the fault and shutdown tests ###################################


def start_process_group(
    name: str, command: Sequence[str], cwd: Path, env: Mapping[str, str], logs: Path
) -> Process:
    """Start `command` as the leader of its own process group, so that `kill_process_group`
    takes its children with it (BullMQ's sandboxed processors, Celery's pool processes)."""
    log = logs / f"{name}.log"
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name, popen, log)


def kill_process_group(process: Process) -> None:
    """SIGKILL the process and every process of its group at once, as an OOM kill of its
    container would: nothing gets to clean up, hand back its jobs or say goodbye."""
    try:
        os.killpg(process.popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.popen.wait()


def child_pids(process: Process) -> list[int]:
    """The pids of the process's direct children (Linux /proc)."""
    pid = process.popen.pid
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def kill_children(process: Process) -> list[int]:
    """SIGKILL the process's children (a sandboxed processor, a pool process), not the process."""
    killed = []
    for pid in child_pids(process):
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    return killed


@dataclass
class PrivateRedis:
    """A redis-server of one test's own, on a free port, never the machine's shared one.

    Configured as compose runs Redis (append-only file, no eviction), so jobs survive a restart.
    """

    port: int
    directory: Path
    process: Process | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        command = [
            *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port)),
            *("--dir", str(self.directory), "--appendonly", "yes"),
            *("--maxmemory-policy", "noeviction"),
        ]
        self.process = start_process(
            "redis", command, self.directory, os.environ, self.directory, f"redis-{self.starts}"
        )
        wait_until(
            lambda: redis_command(self.url, "PING").startswith(b"+PONG"),
            "the private Redis to answer PING",
            [self.process],
            timeout=30,
        )

    def stop(self) -> None:
        """SIGTERM, as `docker stop` does: Redis writes its append-only file and exits 0."""
        assert self.process is not None
        code = self.process.stop(grace=30)
        assert 0 == code, self.process.output()

    def restart(self) -> None:
        self.stop()
        self.start()


def start_private_redis(tmp_path: Path) -> PrivateRedis:
    """A running `PrivateRedis` keeping its data in `tmp_path/redis`; `.stop()` it when done."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not on PATH (apt-get install redis-server)", pytrace=False)
    directory = tmp_path / "redis"
    directory.mkdir()
    redis = PrivateRedis(free_port(), directory)
    redis.start()
    return redis


# Every HTTP service of every architecture, running (tests/test_fuzz_smoke.py, test_conformance.py)

# The renders the services come from: with PostgreSQL (the default), so requests reach the
# database paths; node-api and python-api are the renders the other generated-project tests
# install. Their workers run too: a job's event stream (GET /v1/jobs/{id}/events) ends when the
# job does, so a job nobody runs would hold the fuzz's request open until its timeout.
SERVICE_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "node-api": {"architecture": "node-api"},
    "python-api": {"architecture": "python-api", "ml": "core"},
    "hybrid": {"architecture": "hybrid", "ml": "core"},
}
# Every HTTP service: "<architecture>/<service directory>".
SERVICES = ["node-api/api", "python-api/api", "hybrid/api", "hybrid/ml"]


@dataclass
class Service:
    """One running HTTP service, its committed OpenAPI document, and the language it is in."""

    name: str
    url: str
    openapi: Path
    language: str
    process: Process

    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.openapi.read_text())
        return document


class RunningServices:
    """`services("hybrid/ml")`: that service running, its architecture installed and started on
    first use, each process with its own queue names on the shared Redis (deleted by `stop`).

    `env` goes to every service (on top of a rate limit no test reaches, unless it sets one).
    """

    def __init__(
        self,
        rendered_project: Callable[..., Path],
        redis_url: str,
        create_database: Callable[[str], str],
        logs: Callable[[str], Path],
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._render = rendered_project
        self._redis_url = redis_url
        self._create_database = create_database
        self._logs = logs
        self._env = {"RATE_LIMIT_MAX": "1000000", **(env or {})}
        self._running: dict[str, Service] = {}
        self._workers: dict[str, list[Process]] = {}
        self._prefixes: list[str] = []

    def __call__(self, name: str) -> Service:
        if name not in self._running:
            self._start(name.split("/")[0])
        return self._running[name]

    def workers(self, name: str) -> list[Process]:
        """The job workers running beside `name`'s architecture (none without jobs)."""
        return self._workers.get(name.split("/")[0], [])

    def stop(self) -> None:
        workers = [worker for started in self._workers.values() for worker in started]
        stop_all([service.process for service in self._running.values()] + workers)
        for prefix in self._prefixes:
            delete_redis_keys(self._redis_url, f"{prefix}*")

    def _start(self, architecture: str) -> None:
        project = self._render(**SERVICE_ARCHITECTURES[architecture])
        logs = self._logs(architecture)
        unique = f"svc-{uuid.uuid4().hex[:12]}"
        self._prefixes.append(unique)
        python_env = {"REDIS_URL": self._redis_url, "JOBS_QUEUE": unique, **self._env}
        node_env = {"REDIS_URL": self._redis_url, "QUEUE_PREFIX": unique, **self._env}
        # The service that owns the tables gets a migrated database of its own (the ML service
        # has none), migrated as the image's command does.
        database = {"DATABASE_URL": self._create_database(f"svc_{architecture}")}
        started = []
        workers = self._workers.setdefault(architecture, [])
        python_dir = {"python-api": "api", "hybrid": "ml"}.get(architecture)
        if python_dir:
            service_dir = project / "services" / python_dir
            run_once(["uv", "sync", "--locked"], service_dir)
            if architecture == "python-api":
                run(["uv", "run", "--locked", "alembic", "upgrade", "head"], service_dir, database)
                python_env.update(database)
            name = f"{architecture}/{python_dir}"
            started.append(start_python_service(service_dir, name, logs, python_env))
            if (service_dir / "src/app/worker").is_dir():
                celery = celery_worker_command(service_dir, architecture)
                celery_env = tool_env({**service_env(), **python_env})
                workers.append(
                    start_process(f"{name} worker", celery, service_dir, celery_env, logs, "celery")
                )
            node_env["ML_SERVICE_URL"] = started[-1].url
        if architecture != "python-api":
            run_once(["npm", "ci"], project)
            run_once(["npm", "run", "build"], project)
            run([str(NODE), "dist/migrate.js"], project / "services/api", database)
            node_env.update(database)
            started.append(start_node_service(project, f"{architecture}/api", logs, node_env))
            api_dir = project / "services/api"
            if (api_dir / "dist/worker.js").exists():
                worker = [str(NODE), "dist/worker.js"]
                worker_env = tool_env({"LOG_LEVEL": "warn", **service_env(), **node_env})
                label = f"{architecture}/api worker"
                workers.append(start_process(label, worker, api_dir, worker_env, logs, "worker"))
        for service in started:
            ready = f"{service.url}/readyz"
            wait_until(
                lambda url=ready: http("GET", url).status == 200,
                f"{service.name} to be ready",
                [service.process],
            )
            self._running[service.name] = service


def start_node_service(project: Path, name: str, logs: Path, env: Mapping[str, str]) -> Service:
    port = free_port()
    process = start_process(
        name,
        [str(NODE), "dist/server.js"],
        project / "services/api",
        tool_env(
            {"HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "warn", **service_env(), **env}
        ),
        logs,
        name.replace("/", "-"),
    )
    url = f"http://127.0.0.1:{port}"
    return Service(name, url, project / "services/api/openapi.json", "node", process)


def start_python_service(
    service_dir: Path, name: str, logs: Path, env: Mapping[str, str]
) -> Service:
    port = free_port()
    python = service_dir / ".venv/bin/python"
    process = start_process(
        name,
        [str(python), "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
        service_dir,
        tool_env({"LOG_LEVEL": "warning", **service_env(), **env}),
        logs,
        name.replace("/", "-"),
    )
    url = f"http://127.0.0.1:{port}"
    return Service(name, url, service_dir / "contracts/openapi.json", "python", process)


# Fuzzing a running service (tests/test_fuzz_smoke.py, scripts/fuzz) ###############################

# Installed beside this interpreter by requirements-dev.txt.
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# What the fuzz holds every response to: never a 5xx, and always the media type and the schema the
# document declares for its status.
FUZZ_CHECKS = "not_a_server_error,content_type_conformance,response_schema_conformance"


@dataclass
class FuzzReport:
    """One schemathesis run against one service: test cases generated, and what failed."""

    service: str
    cases: int
    problems: list[str]
    output: str

    def summary(self) -> str:
        found = "; ".join(self.problems) or "no 5xx, no schema violation"
        return f"{self.service}: {self.cases} cases, {found}"


def fuzz(service: str, openapi: Path, base_url: str, workdir: Path, examples: int) -> FuzzReport:
    """Run every schemathesis phase (examples, coverage, fuzzing, stateful) from `openapi`
    against the service at `base_url`, at most `examples` generated cases per operation."""
    report = workdir / f"{service.replace('/', '-')}-schemathesis.json"
    command = [
        str(SCHEMATHESIS), "run", str(openapi), "--url", base_url,
        "--checks", FUZZ_CHECKS, "--max-examples", str(examples), "--workers", "1",
        "--request-timeout", "30", "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    # A valid token with every scope (tests/conftest.py), so the fuzz reaches the handlers.
    for name, value in net.auth_headers().items():
        command += ["--header", f"{name}: {value}"]
    # In `workdir`: schemathesis keeps its example database in the working directory.
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    if not report.exists():
        return FuzzReport(service, 0, [f"schemathesis exited {result.returncode}"], output)
    document = json.loads(report.read_text())
    problems = [
        f"{failure['title']} x{failure['count']} in {', '.join(failure['operations'])}"
        for failure in document["failures"]
    ] + [f"error: {error['title']} x{error['count']}" for error in document["errors"]]
    if result.returncode != 0 and not problems:
        problems.append(f"schemathesis exited {result.returncode}")
    return FuzzReport(service, document["test_cases"]["generated"], problems, output)
